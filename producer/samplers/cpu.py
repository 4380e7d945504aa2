"""Family `cpu`: CPU busy and time split (whole system and per core), load average, context switches/s.

Everything comes from one read of /proc/stat (plus /proc/loadavg) below `psutil.PROCFS_PATH`. The
percentages are tick deltas between two readings, the same arithmetic as `psutil.cpu_percent()` and
`top`, with the sampler's own previous reading (psutil's is module-global). Per-core lines are matched
by CPU number, so a CPU going offline or coming back never shifts values between cores.
"""

from __future__ import annotations

from producer.samplers._counters import DECIMALS, Counters, Stat, read_stat, read_text
from producer.samplers.base import MetricSpec, Options, Sampler, register

# /proc/stat cpu line fields (ticks): user nice system idle iowait irq softirq steal guest guest_nice.
# guest and guest_nice are already counted inside user and nice, so the total is the first eight.
_USER, _NICE, _SYSTEM, _IDLE, _IOWAIT, _IRQ, _SOFTIRQ, _STEAL = range(8)
_FIELDS = 8


def _percentages(now: tuple[int, ...], before: tuple[int, ...]) -> dict[str, float] | None:
    """Busy and split percentages between two readings of one cpu line; None if no tick elapsed or the
    counters went backwards (a reset: there is no meaningful value for this interval)."""
    pad = (0,) * _FIELDS
    d = [a - b for a, b in zip((now + pad)[:_FIELDS], (before + pad)[:_FIELDS], strict=True)]
    total = sum(d)
    if total <= 0:
        return None

    def pct(ticks: float) -> float:
        # iowait may step backwards on Linux while the total grows: clamp, never negative or > 100
        return round(min(max(ticks / total * 100.0, 0.0), 100.0), DECIMALS)

    return {
        "percent": pct(total - d[_IDLE] - d[_IOWAIT]),
        "user_percent": pct(d[_USER] + d[_NICE]),
        "system_percent": pct(d[_SYSTEM] + d[_IRQ] + d[_SOFTIRQ]),
        "iowait_percent": pct(d[_IOWAIT]),
        "steal_percent": pct(d[_STEAL]),
    }


@register
class CpuSampler(Sampler):
    family = "cpu"
    metrics = (
        MetricSpec(
            "cpu.percent", "%", "gauge", "whole-system CPU busy, all cores together (0–100), since the previous sample"
        ),
        MetricSpec("cpu.user_percent", "%", "gauge", "time in user space (user + nice, guests included)"),
        MetricSpec("cpu.system_percent", "%", "gauge", "time in the kernel (system + irq + softirq)"),
        MetricSpec("cpu.iowait_percent", "%", "gauge", "idle time with disk I/O outstanding"),
        MetricSpec("cpu.steal_percent", "%", "gauge", "time the hypervisor gave this VM's CPUs to others"),
        MetricSpec(
            "cpu.core<N>.percent",
            "%",
            "gauge",
            "busy of core N (`/proc/stat` line `cpuN`); off with `--per-core false`",
        ),
        MetricSpec("cpu.ctx_switches_per_s", "/s", "rate", "context switches per second, all cores"),
        MetricSpec("load.1m", "1", "gauge", "load average over 1 minute (runnable + uninterruptible tasks)"),
        MetricSpec("load.5m", "1", "gauge", "load average over 5 minutes"),
        MetricSpec("load.15m", "1", "gauge", "load average over 15 minutes"),
    )

    def __init__(self, options: Options | None = None) -> None:
        super().__init__(options)
        self._last: Stat | None = None
        self._counters = Counters()

    def prime(self) -> None:
        self._read()

    def _read(self) -> tuple[Stat | None, Stat, dict[str, float]]:
        stat = read_stat()
        now = self.options.clock()
        last, self._last = self._last, stat
        counters = {"ctxt": stat.scalars["ctxt"]} if "ctxt" in stat.scalars else {}
        return last, stat, self._counters.update(counters, now)

    def sample(self) -> dict[str, float]:
        last, stat, rates = self._read()
        out: dict[str, float] = {}
        if last is not None:
            for name, ticks in stat.cpus.items():
                before = last.cpus.get(name)
                if before is None:
                    continue  # first reading of this cpu (start, or it just came online)
                values = _percentages(ticks, before)
                if values is None:
                    continue
                if name == "cpu":
                    out.update({f"cpu.{key}": value for key, value in values.items()})
                elif self.options.per_core:
                    out[f"cpu.core{name[3:]}.percent"] = values["percent"]
        if "ctxt" in rates:
            out["cpu.ctx_switches_per_s"] = rates["ctxt"]
        out.update(_loadavg())
        return out


def _loadavg() -> dict[str, float]:
    """/proc/loadavg (psutil.getloadavg() calls os.getloadavg(), which ignores PROCFS_PATH)."""
    one, five, fifteen = (float(v) for v in read_text("loadavg").split()[:3])
    return {"load.1m": one, "load.5m": five, "load.15m": fifteen}
