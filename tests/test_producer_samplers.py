"""producer.samplers: the registry, rate arithmetic, options, and every family on this machine's real /proc.

The exact per-family numbers are checked against recorded /proc snapshots in test_producer_procfs.py.
"""

from __future__ import annotations

import math
import re
import time
from collections import namedtuple
from typing import Any

import psutil
import pytest

from producer import samplers
from producer.samplers import AgentSampler, AgentStatus, Options
from producer.samplers._counters import Counters, total_rates
from producer.samplers.base import MetricSpec, Sampler, register
from producer.samplers.cpu import CpuSampler
from producer.samplers.disk import fs_used_percent
from producer.samplers.memory import MemorySampler
from tests.test_producer_procfs import CASES_DIR, _load, _template, replay

VirtualMemory = namedtuple(
    "VirtualMemory", "total available percent used free active inactive buffers cached shared slab"
)


def _vm(total: int, available: int, **other: int) -> Any:
    fields = dict.fromkeys(VirtualMemory._fields, 0)
    fields.update(total=total, available=available, percent=0, **other)
    return VirtualMemory(**fields)


# --- registry -------------------------------------------------------------------------------------


def test_families_registered_by_name() -> None:
    assert samplers.families() == ("cpu", "disk", "memory", "network", "system")
    created = samplers.create(["memory", "cpu"])
    assert [type(s) for s in created] == [MemorySampler, CpuSampler]


def test_metric_specs_are_well_formed() -> None:
    specs = samplers.metric_specs()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert {"cpu.percent", "mem.used_percent", "agent.samples_dropped", "agent.buffer_depth"} <= set(names)
    for spec in specs:
        assert re.fullmatch(r"[a-z]+(\.([a-z0-9_]|<[A-Za-z]+>)+)+", spec.name), spec.name
        assert spec.kind in ("gauge", "rate", "counter")
        assert spec.help
        # the dashboard infers the unit from the name's suffix: the declared unit must agree with it
        assert spec.unit == _unit_from_suffix(spec.name), spec.name
        if spec.kind == "rate":
            assert spec.name.endswith("_per_s"), spec.name


def _unit_from_suffix(name: str) -> str:
    """The dashboard's rule (percent → %, bytes → B, bytes_per_s → B/s, per_s → /s, seconds → s)."""
    for suffix, unit in (("bytes_per_s", "bytes/s"), ("per_s", "/s"), ("percent", "%"), ("bytes", "bytes"),
                         ("seconds", "s")):
        if name.endswith(suffix):
            return unit
    return "1"


def test_registering_a_second_class_under_a_taken_name_fails() -> None:
    class Impostor(Sampler):
        family = "cpu"
        metrics = (MetricSpec("cpu.other", "%", "gauge", "x"),)

        def sample(self) -> dict[str, float]:
            return {}

    with pytest.raises(ValueError, match="already CpuSampler"):
        register(Impostor)
    assert samplers.families() == ("cpu", "disk", "memory", "network", "system")


def test_a_family_whose_first_reading_fails_is_still_created(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(tmp_path))  # an empty /proc: nothing to read
    (sampler,) = samplers.create(["cpu"])
    assert isinstance(sampler, CpuSampler)
    assert "first reading failed" in caplog.text
    with pytest.raises(OSError):
        sampler.sample()  # the service logs this per tick and carries on with the other families


# --- rates ----------------------------------------------------------------------------------------


def test_first_reading_has_no_rate_then_delta_per_second() -> None:
    c = Counters()
    assert c.update({"a": 100.0}, now=10.0) == {}
    assert c.update({"a": 160.0}, now=12.0) == {"a": 30.0}


def test_counter_going_backwards_gives_no_rate_and_rebases() -> None:
    c = Counters()
    c.update({"a": 1000.0, "b": 5.0}, now=0.0)
    assert c.update({"a": 10.0, "b": 7.0}, now=1.0) == {"b": 2.0}  # a reset: nothing, never negative
    assert c.update({"a": 30.0, "b": 7.0}, now=2.0) == {"a": 20.0, "b": 0.0}


def test_vanished_key_starts_over_when_it_returns() -> None:
    c = Counters()
    c.update({"a": 1.0, "b": 1.0}, now=0.0)
    assert c.update({"b": 2.0}, now=1.0) == {"b": 1.0}
    assert c.update({"a": 10_000.0, "b": 3.0}, now=2.0) == {"b": 1.0}  # no 'a' spike across its absence
    assert c.update({"a": 10_005.0, "b": 3.0}, now=3.0) == {"a": 5.0, "b": 0.0}


def test_clock_not_advancing_gives_no_rate() -> None:
    c = Counters()
    c.update({"a": 1.0}, now=5.0)
    assert c.update({"a": 2.0}, now=5.0) == {}


def test_totals_sum_per_field_over_devices() -> None:
    rates = {"sda.read_bytes": 1.5, "sdb.read_bytes": 2.0, "eth0.100.read_count": 4.0}  # dotted names too
    assert total_rates(rates, ["read_bytes", "read_count", "write_bytes"]) == {"read_bytes": 3.5, "read_count": 4.0}


@pytest.mark.parametrize(
    ("blocks", "bfree", "bavail", "want"),
    [(1000, 400, 350, 63.16), (1000, 0, 0, 100.0), (1000, 1000, 1000, 0.0), (0, 0, 0, None)],
)
def test_fs_used_percent_like_df(blocks: int, bfree: int, bavail: int, want: float | None) -> None:
    st = namedtuple("st", "f_blocks f_bfree f_bavail f_frsize")(blocks, bfree, bavail, 4096)
    assert fs_used_percent(st) == want


# --- options --------------------------------------------------------------------------------------


def _replay_with(name: str, **options: Any) -> list[dict[str, float]]:
    case = _load(name)
    return replay(CASES_DIR / name, {**case, "options": {**case.get("options", {}), **options}})


def test_per_device_off_keeps_only_totals() -> None:
    for values in _replay_with("device-hotplug", per_device=False):
        assert values, "totals are still there"
        for name in values:
            assert name.count(".") == 1, name  # disk.read_bytes_per_s, net.rx_bytes_per_s, fs.max_used_percent
    full = _replay_with("device-hotplug")
    off = _replay_with("device-hotplug", per_device=False)
    assert [{k: v for k, v in f.items() if k.count(".") == 1} for f in full] == off


def test_per_core_off_keeps_the_whole_system_figures() -> None:
    (_, _, _, last) = _replay_with("cpu-offline", per_core=False)
    assert last["cpu.percent"] == 25.0
    assert not [name for name in last if name.startswith("cpu.core")]


def test_exclude_patterns_apply_to_per_device_metrics_and_totals() -> None:
    values = _replay_with("counter-reset", net_exclude="^(lo|eth0)$", disk_exclude="^sd")[-1]
    assert not [name for name in values if ".eth0." in name or name.startswith("disk.")]
    assert values["net.tx_bytes_per_s"] == values["net.eth1.tx_bytes_per_s"] == 500.0
    everything = _replay_with("counter-reset", net_exclude="^$", disk_exclude="^$")[-1]
    assert everything["net.lo.rx_bytes_per_s"] == 500.0
    assert "disk.sda1.reads_per_s" in everything


# --- memory on a fake reading ---------------------------------------------------------------------


def test_memory_used_is_total_minus_available_not_psutils_used() -> None:
    vm = _vm(total=16 * 2**30, available=12 * 2**30, used=2**30, free=2**30)
    values = MemorySampler(virtual_memory=lambda: vm).sample()
    assert values["mem.used_percent"] == 25.0
    assert values["mem.used_bytes"] == float(4 * 2**30)


def test_memory_zero_total_leaves_the_ram_metrics_out() -> None:
    values = MemorySampler(virtual_memory=lambda: _vm(total=0, available=0)).sample()
    assert not [name for name in values if not name.startswith("mem.swap")]


# --- the agent's own metrics ----------------------------------------------------------------------


def test_agent_metrics_report_the_status_and_own_cpu() -> None:
    now = [100.0]
    status = AgentStatus(
        sent=7, dropped=2, delivery_errors=1, buffer_depth=3, ticks_skipped=4, last_sample_seconds=0.00125
    )
    agent = AgentSampler(lambda: status, clock=lambda: now[0])
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # burn some CPU so the agent has something to report
        pass
    now[0] += 1.0
    values = agent.sample()
    assert values["agent.samples_sent"] == 7.0
    assert values["agent.samples_dropped"] == 2.0
    assert values["agent.delivery_errors"] == 1.0
    assert values["agent.buffer_depth"] == 3.0
    assert values["agent.ticks_skipped"] == 4.0
    assert values["agent.sample_seconds"] == 0.00125
    assert values["agent.cpu_percent"] >= 4.0  # ≥ 0.05 s of CPU over 1 s of (fake) time
    assert values["agent.rss_bytes"] == pytest.approx(psutil.Process().memory_info().rss, rel=0.5)
    assert {spec.name for spec in AgentSampler.metrics} == set(values)


# --- every family on this machine -----------------------------------------------------------------


def _defaults() -> Options:
    from producer.config import Config

    return Config().sampler_options()


@pytest.mark.parametrize("family", samplers.families())
def test_real_family_emits_declared_metrics_in_range(family: str) -> None:
    (sampler,) = samplers.create([family], _defaults())
    patterns = [_template(s.name) for s in sampler.metrics]
    values = _sample_when_ready(sampler)
    assert values
    for name, value in values.items():
        assert any(p.match(name) for p in patterns), name
        assert math.isfinite(value) and value >= 0, name
        if name.endswith("percent"):
            assert value <= 100.0, name


def _sample_when_ready(sampler: Sampler, deadline_s: float = 5.0) -> dict[str, float]:
    """Sample until the whole-family figures are there (cpu needs a clock tick between readings)."""
    deadline = time.monotonic() + deadline_s
    while True:
        values = sampler.sample()
        if "cpu.percent" in values or sampler.family != "cpu" or time.monotonic() > deadline:
            return values
        time.sleep(0.02)


def test_real_memory_is_the_systems_not_the_process() -> None:
    before = psutil.virtual_memory()
    values = MemorySampler().sample()
    after = psutil.virtual_memory()
    assert values["mem.total_bytes"] == before.total == after.total
    low, high = sorted((vm.total - vm.available) / vm.total * 100 for vm in (before, after))
    assert low - 0.5 <= values["mem.used_percent"] <= high + 0.5
    assert values["mem.used_bytes"] >= psutil.Process().memory_info().rss


def test_real_cpu_cores_match_the_machine() -> None:
    (sampler,) = samplers.create(["cpu"], _defaults())
    values = _sample_when_ready(sampler)
    cores = {name for name in values if name.startswith("cpu.core")}
    assert len(cores) == psutil.cpu_count()
    assert values["load.1m"] == pytest.approx(psutil.getloadavg()[0], abs=0.5)


def test_process_count_is_refreshed_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    from producer.samplers.system import SystemSampler

    now = [100.0]
    sampler = SystemSampler(Options(clock=lambda: now[0]))
    case = CASES_DIR / "swap-in-use"
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(case / "1"))  # 4 processes
    assert sampler.sample()["system.processes"] == 4.0
    monkeypatch.setattr(psutil, "PROCFS_PATH", str(case / "2"))  # 1 process
    now[0] += 0.5
    values = sampler.sample()
    assert values["system.processes"] == 4.0  # not listed again within the second
    assert values["system.procs_running"] == 1.0  # the cheap ones are read every time
    now[0] += 0.5
    assert sampler.sample()["system.processes"] == 1.0


def test_mount_list_is_reread_only_when_the_mount_table_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    from producer.samplers import disk

    calls = []
    real = psutil.disk_partitions
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: calls.append(1) or real(all=all))
    values = _replay_with("device-hotplug")  # mounts: /, then + /media/usb, same, then - /media/usb
    assert [v.get("fs./media/usb.used_percent") for v in values] == [75.0, 75.0, None]
    assert len(calls) == 2  # listed at step 1 and after the change at step 3; step 2 reused step 1's
    assert disk.DiskSampler.family == "disk"
