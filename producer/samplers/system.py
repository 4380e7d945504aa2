"""Family `system`: process count, running/blocked tasks, uptime."""

from __future__ import annotations

import psutil

from producer.samplers._counters import read_stat, read_text
from producer.samplers.base import MetricSpec, Options, Sampler, register


@register
class SystemSampler(Sampler):
    family = "system"
    metrics = (
        MetricSpec(
            "system.processes",
            "1",
            "gauge",
            "processes that exist (numeric entries in /proc; counted at most once a second)",
        ),
        MetricSpec("system.procs_running", "1", "gauge", "tasks runnable right now (`procs_running` in /proc/stat)"),
        MetricSpec(
            "system.procs_blocked", "1", "gauge", "tasks blocked on I/O right now (`procs_blocked` in /proc/stat)"
        ),
        MetricSpec("system.uptime_seconds", "s", "gauge", "time since boot (/proc/uptime), suspend included"),
    )

    # Listing /proc is the costliest read of all (the kernel walks every task): at most once a second.
    PROCESS_COUNT_EVERY = 1.0

    def __init__(self, options: Options | None = None) -> None:
        super().__init__(options)
        self._processes: tuple[float, float] | None = None  # (counted at, count)

    def _process_count(self) -> float:
        now = self.options.clock()
        if self._processes is None or not 0 <= now - self._processes[0] < self.PROCESS_COUNT_EVERY:
            self._processes = (now, float(len(psutil.pids())))
        return self._processes[1]

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {"system.processes": self._process_count()}
        scalars = read_stat().scalars
        for name in ("procs_running", "procs_blocked"):
            if name in scalars:
                out[f"system.{name}"] = float(scalars[name])
        out["system.uptime_seconds"] = float(read_text("uptime").split()[0])
        return out
