"""What a sampler is, and the registry that maps a family name (`cpu`, `memory`, …) to its sampler class."""

from __future__ import annotations

import abc
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

Kind = Literal["gauge", "rate", "counter"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetricSpec:
    """A metric's definition; the unit is part of it. docs/metrics.md lists every one (checked by a test).

    Per-device metrics are templates: `disk.<device>.read_bytes_per_s` stands for one metric per device.
    """

    name: str
    unit: str
    kind: Kind
    help: str


@dataclass(frozen=True)
class Options:
    """What the samplers need from the configuration, plus the clocks and system calls tests replace."""

    per_core: bool = True  # cpu.core<N>.percent
    per_device: bool = True  # disk.<dev>.*, net.<iface>.*, fs.<mount>.*
    disk_exclude: re.Pattern[str] | None = None  # devices left out (per-device metrics and totals)
    net_exclude: re.Pattern[str] | None = None  # interfaces left out
    clock: Callable[[], float] = time.monotonic  # the time base of rates
    statvfs: Callable[[str], Any] = field(default=os.statvfs)  # filesystem usage of a mount point


class Sampler(abc.ABC):
    """Reads one metric family. Construct once per process: samplers keep state between calls.

    `prime()` takes a first reading of the counters (it emits nothing), so the first `sample()` already
    has rates over the time since. `sample()` returns metric name -> value; it leaves a metric out when
    there is nothing meaningful to report (a rate before its second reading, a counter that went
    backwards, a device that just appeared).
    """

    family: ClassVar[str]
    metrics: ClassVar[tuple[MetricSpec, ...]]

    def __init__(self, options: Options | None = None) -> None:
        self.options = options if options is not None else Options()

    def prime(self) -> None:  # noqa: B027 - a no-op default, gauges need no first reading
        """Take the first reading of any counters. Gauge-only families need nothing."""

    @abc.abstractmethod
    def sample(self) -> dict[str, float]:
        """Read the family's metrics now."""


_REGISTRY: dict[str, type[Sampler]] = {}
_S = TypeVar("_S", bound=type[Sampler])


def register(cls: _S) -> _S:
    """Class decorator: make `cls` available under `cls.family`."""
    existing = _REGISTRY.get(cls.family)
    if existing is not None and existing is not cls:
        raise ValueError(f"metric family {cls.family!r} is already {existing.__name__}, not {cls.__name__}")
    _REGISTRY[cls.family] = cls
    return cls


def families() -> tuple[str, ...]:
    """Registered family names, in registration order."""
    return tuple(_REGISTRY)


def registered_specs() -> tuple[MetricSpec, ...]:
    """Every metric any registered sampler can emit."""
    return tuple(spec for cls in _REGISTRY.values() for spec in cls.metrics)


def create(names: Iterable[str], options: Options | None = None) -> list[Sampler]:
    """Instantiate and prime the samplers for `names` (validated by the config; unknown names raise KeyError).

    A sampler whose first reading fails (say /proc/diskstats is missing in a container) is still
    returned: the service logs its failures on every tick, rate-limited, and the other families run.
    """
    created = []
    for name in names:
        sampler = _REGISTRY[name](options)
        try:
            sampler.prime()
        except Exception as exc:  # the service reports a broken family; it must not stop the agent
            log.warning("metric family %r: first reading failed: %s", name, exc)
        created.append(sampler)
    return created
