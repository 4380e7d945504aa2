"""Family `memory`: system memory (all of RAM, as `free` and Netdata count it), not this process's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from producer.samplers.base import MetricSpec, Sampler, register


@register
class MemorySampler(Sampler):
    family = "memory"
    metrics = (
        MetricSpec(
            "mem.used_percent",
            "%",
            "gauge",
            "system memory in use: (total − available) / total × 100, as `free` and Netdata count it",
        ),
        MetricSpec("mem.total_bytes", "bytes", "gauge", "physical memory the kernel manages (MemTotal)"),
        MetricSpec(
            "mem.available_bytes",
            "bytes",
            "gauge",
            "memory available for new work without swapping, including reclaimable cache (MemAvailable)",
        ),
        MetricSpec(
            "mem.used_bytes",
            "bytes",
            "gauge",
            "total − available, so that used / total = mem.used_percent (not psutil's `used`)",
        ),
    )

    def __init__(self, virtual_memory: Callable[[], Any] = psutil.virtual_memory) -> None:
        self._virtual_memory = virtual_memory

    def sample(self) -> dict[str, float]:
        vm = self._virtual_memory()
        total, available = float(vm.total), float(vm.available)
        if total <= 0:
            return {}
        used = max(total - available, 0.0)
        return {
            "mem.used_percent": used / total * 100.0,
            "mem.total_bytes": total,
            "mem.available_bytes": available,
            "mem.used_bytes": used,
        }
