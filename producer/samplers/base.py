"""What a sampler is, and the registry that maps a family name (`cpu`, `memory`) to its sampler class."""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeVar

Kind = Literal["gauge", "rate"]


@dataclass(frozen=True)
class MetricSpec:
    """A metric's definition; the unit is part of it. docs/metrics.md lists every one (checked by a test)."""

    name: str
    unit: str
    kind: Kind
    help: str


class Sampler(abc.ABC):
    """Reads one metric family. Construct once per process: samplers may keep state between calls.

    `sample()` returns metric name -> value for the names in `metrics`; it may leave a metric out when
    there is nothing meaningful to report yet (e.g. a rate before its second reading).
    """

    family: ClassVar[str]
    metrics: ClassVar[tuple[MetricSpec, ...]]

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


def metric_specs() -> tuple[MetricSpec, ...]:
    """Every metric any registered sampler can emit."""
    return tuple(spec for cls in _REGISTRY.values() for spec in cls.metrics)


def create(names: Iterable[str]) -> list[Sampler]:
    """Instantiate the samplers for `names` (validated by the config; unknown names raise KeyError)."""
    return [_REGISTRY[name]() for name in names]
