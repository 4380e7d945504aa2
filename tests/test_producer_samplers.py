"""producer.samplers: the registry, and the cpu and memory families on fake and real psutil readings."""

from __future__ import annotations

import re
import time
from collections import namedtuple
from typing import Any, NamedTuple

import psutil
import pytest

from producer import samplers
from producer.samplers.base import MetricSpec, Sampler, register
from producer.samplers.cpu import CpuSampler
from producer.samplers.memory import MemorySampler


# Same fields as psutil's Linux results (psutil._pslinux.scputimes / svmem).
class CpuTimes(NamedTuple):
    user: float = 0.0
    nice: float = 0.0
    system: float = 0.0
    idle: float = 0.0
    iowait: float = 0.0
    irq: float = 0.0
    softirq: float = 0.0
    steal: float = 0.0
    guest: float = 0.0
    guest_nice: float = 0.0


VirtualMemory = namedtuple(
    "VirtualMemory", "total available percent used free active inactive buffers cached shared slab"
)


def _vm(total: int, available: int, **other: int) -> Any:
    fields = dict.fromkeys(VirtualMemory._fields, 0)
    fields.update(total=total, available=available, percent=0, **other)
    return VirtualMemory(**fields)


class Readings:
    """A fake psutil function returning the given readings in turn."""

    def __init__(self, *readings: Any) -> None:
        self._readings = list(readings)

    def __call__(self) -> Any:
        return self._readings.pop(0)


# --- registry -------------------------------------------------------------------------------------


def test_families_registered_by_name() -> None:
    assert samplers.families() == ("cpu", "memory")
    created = samplers.create(["memory", "cpu"])
    assert [type(s) for s in created] == [MemorySampler, CpuSampler]


def test_metric_specs_are_well_formed() -> None:
    specs = samplers.metric_specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert {"cpu.percent", "mem.used_percent"} <= set(names)
    for spec in specs:
        assert re.fullmatch(r"[a-z]+(\.[a-z_]+)+", spec.name), spec.name
        assert spec.kind in ("gauge", "rate")
        assert spec.unit and spec.help


def test_registering_a_second_class_under_a_taken_name_fails() -> None:
    class Impostor(Sampler):
        family = "cpu"
        metrics = (MetricSpec("cpu.other", "%", "gauge", "x"),)

        def sample(self) -> dict[str, float]:
            return {}

    with pytest.raises(ValueError, match="already CpuSampler"):
        register(Impostor)
    assert samplers.families() == ("cpu", "memory")


@pytest.mark.parametrize("family", ["cpu", "memory"])
def test_real_sampler_emits_only_declared_metrics(family: str) -> None:
    (sampler,) = samplers.create([family])
    declared = {spec.name for spec in sampler.metrics}
    assert set(_sample_when_ready(sampler)) <= declared


def _sample_when_ready(sampler: Sampler, deadline_s: float = 5.0) -> dict[str, float]:
    """Sample until every declared metric is present (cpu needs one clock tick between readings)."""
    declared = {spec.name for spec in sampler.metrics}
    deadline = time.monotonic() + deadline_s
    while True:
        values = sampler.sample()
        if set(values) == declared or time.monotonic() > deadline:
            return values
        time.sleep(0.02)


# --- cpu ------------------------------------------------------------------------------------------


def test_cpu_percent_from_deltas() -> None:
    first = CpuTimes(user=100, system=50, idle=800, iowait=50)
    # +30 user (of which 10 guest), +10 system, +50 idle, +10 iowait: busy 40 of 100
    second = CpuTimes(user=130, system=60, idle=850, iowait=60, guest=10)
    sampler = CpuSampler(cpu_times=Readings(first, second))
    assert sampler.sample() == {"cpu.percent": 40.0}


def test_cpu_first_sample_covers_time_since_construction() -> None:
    sampler = CpuSampler(cpu_times=Readings(CpuTimes(user=1, idle=1), CpuTimes(user=2, idle=2)))
    assert sampler.sample() == {"cpu.percent": 50.0}


def test_cpu_no_tick_elapsed_emits_nothing() -> None:
    same = CpuTimes(user=5, idle=5)
    sampler = CpuSampler(cpu_times=Readings(same, same, CpuTimes(user=6, idle=6)))
    assert sampler.sample() == {}
    assert sampler.sample() == {"cpu.percent": 50.0}


def test_cpu_counters_going_backwards_are_a_reset_not_a_negative_rate() -> None:
    sampler = CpuSampler(
        cpu_times=Readings(
            CpuTimes(user=500, idle=500),
            CpuTimes(user=10, idle=10),  # e.g. CPUs went offline: totals drop
            CpuTimes(user=10, idle=20),  # next sample starts from the reset reading
        )
    )
    assert sampler.sample() == {}
    assert sampler.sample() == {"cpu.percent": 0.0}


def test_cpu_percent_is_clamped() -> None:
    # iowait can go backwards on Linux while the total still grows: busy delta > total delta.
    sampler = CpuSampler(
        cpu_times=Readings(CpuTimes(user=0, idle=100, iowait=50), CpuTimes(user=10, idle=100, iowait=45))
    )
    assert sampler.sample() == {"cpu.percent": 100.0}


def test_cpu_real_psutil_in_range() -> None:
    sampler = CpuSampler()
    value = _sample_when_ready(sampler)["cpu.percent"]
    assert 0.0 <= value <= 100.0


# --- memory ---------------------------------------------------------------------------------------


def test_memory_from_fake_reading() -> None:
    # psutil's own `used` (here 1 GiB) is not what we report: used = total - available.
    vm = _vm(total=16 * 2**30, available=12 * 2**30, used=2**30, free=2**30)
    assert MemorySampler(virtual_memory=lambda: vm).sample() == {
        "mem.used_percent": 25.0,
        "mem.total_bytes": float(16 * 2**30),
        "mem.available_bytes": float(12 * 2**30),
        "mem.used_bytes": float(4 * 2**30),
    }


def test_memory_zero_total_emits_nothing() -> None:
    assert MemorySampler(virtual_memory=lambda: _vm(total=0, available=0)).sample() == {}


def test_memory_is_the_systems_not_the_process() -> None:
    before = psutil.virtual_memory()
    values = MemorySampler().sample()
    after = psutil.virtual_memory()
    assert values["mem.total_bytes"] == before.total == after.total
    low, high = sorted(
        ((vm.total - vm.available) / vm.total * 100 for vm in (before, after)),
    )
    tolerance = 0.5  # percentage points: memory moves between the three readings
    assert low - tolerance <= values["mem.used_percent"] <= high + tolerance
    assert abs(values["mem.used_percent"] - before.percent) < 1.0  # psutil counts it the same way
    assert values["mem.used_bytes"] == values["mem.total_bytes"] - values["mem.available_bytes"]
    assert 0.0 < values["mem.used_percent"] < 100.0
    assert values["mem.used_bytes"] >= psutil.Process().memory_info().rss
