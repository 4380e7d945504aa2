"""Family `cpu`: whole-system CPU busy percentage, computed from `psutil.cpu_times()` deltas.

Same arithmetic as `psutil.cpu_percent(interval=None)`, but with its own previous reading instead of
psutil's module-global one (which any other caller in the process would disturb). The sampler reads
once at construction, so its first `sample()` already covers the time since then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from producer.samplers.base import MetricSpec, Sampler, register


def _busy_and_total(times: Any) -> tuple[float, float]:
    """(busy, total) CPU seconds from a `psutil.cpu_times()` result.

    Linux counts guest time inside user/nice as well, so it is taken out of the total; idle and
    iowait are both "not busy" (as psutil and top count them).
    """
    total = sum(times) - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)
    idle = times.idle + getattr(times, "iowait", 0.0)
    return total - idle, total


@register
class CpuSampler(Sampler):
    family = "cpu"
    metrics = (
        MetricSpec(
            "cpu.percent",
            "%",
            "gauge",
            "whole-system CPU busy, all cores together (0–100), since the previous sample",
        ),
    )

    def __init__(self, cpu_times: Callable[[], Any] = psutil.cpu_times) -> None:
        self._cpu_times = cpu_times
        self._last: tuple[float, float] | None = _busy_and_total(cpu_times())

    def sample(self) -> dict[str, float]:
        busy, total = _busy_and_total(self._cpu_times())
        last, self._last = self._last, (busy, total)
        if last is None:
            return {}
        total_delta = total - last[1]
        if total_delta <= 0:
            # No tick elapsed (nothing to report), or the counters went backwards (CPUs went
            # offline, a reset): not a negative rate; the next sample starts from this reading.
            return {}
        percent = (busy - last[0]) / total_delta * 100.0
        return {"cpu.percent": round(min(max(percent, 0.0), 100.0), 1)}
