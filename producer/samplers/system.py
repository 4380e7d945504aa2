"""Family `system`: process count, running/blocked tasks, uptime."""

from __future__ import annotations

import psutil

from producer.samplers._counters import read_stat, read_text
from producer.samplers.base import MetricSpec, Sampler, register


@register
class SystemSampler(Sampler):
    family = "system"
    metrics = (
        MetricSpec("system.processes", "1", "gauge", "processes that exist (numeric entries in /proc)"),
        MetricSpec("system.procs_running", "1", "gauge", "tasks runnable right now (`procs_running` in /proc/stat)"),
        MetricSpec(
            "system.procs_blocked", "1", "gauge", "tasks blocked on I/O right now (`procs_blocked` in /proc/stat)"
        ),
        MetricSpec("system.uptime_seconds", "s", "gauge", "time since boot (/proc/uptime), suspend included"),
    )

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {"system.processes": float(len(psutil.pids()))}
        scalars = read_stat().scalars
        for name in ("procs_running", "procs_blocked"):
            if name in scalars:
                out[f"system.{name}"] = float(scalars[name])
        out["system.uptime_seconds"] = float(read_text("uptime").split()[0])
        return out
