"""Family `memory`: system RAM and swap (as `free` and Netdata count them), not this process's memory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from producer.samplers._counters import DECIMALS, read_text
from producer.samplers.base import MetricSpec, Options, Sampler, register


def _swap() -> tuple[float, float] | None:
    """(SwapTotal, SwapFree) in bytes from /proc/meminfo.

    Not `psutil.swap_memory()`: it also reads /proc/vmstat for swap-in/out counters we do not report,
    and warns (RuntimeWarning, every call) where a container hides that file.
    """
    fields: dict[str, float] = {}
    for line in read_text("meminfo").splitlines():
        name, _, rest = line.partition(":")
        if name in ("SwapTotal", "SwapFree"):
            fields[name] = float(rest.split()[0]) * 1024  # kB
    if len(fields) != 2:
        return None
    return fields["SwapTotal"], fields["SwapFree"]


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
        MetricSpec("mem.total_bytes", "bytes", "gauge", "physical memory the kernel manages (`MemTotal`)"),
        MetricSpec(
            "mem.available_bytes",
            "bytes",
            "gauge",
            "memory available for new work without swapping, including reclaimable cache (`MemAvailable`)",
        ),
        MetricSpec(
            "mem.used_bytes",
            "bytes",
            "gauge",
            "total − available, so that used / total = `mem.used_percent` (not psutil's `used`)",
        ),
        MetricSpec("mem.swap_total_bytes", "bytes", "gauge", "swap space configured (`SwapTotal`; 0 without swap)"),
        MetricSpec("mem.swap_used_bytes", "bytes", "gauge", "swap in use: `SwapTotal − SwapFree`"),
        MetricSpec(
            "mem.swap_used_percent", "%", "gauge", "swap used / swap total × 100; left out on hosts without swap"
        ),
    )

    def __init__(
        self, options: Options | None = None, virtual_memory: Callable[[], Any] = psutil.virtual_memory
    ) -> None:
        super().__init__(options)
        self._virtual_memory = virtual_memory

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        vm = self._virtual_memory()
        total, available = float(vm.total), float(vm.available)
        if total > 0:
            used = max(total - available, 0.0)
            out = {
                "mem.used_percent": round(used / total * 100.0, DECIMALS),
                "mem.total_bytes": total,
                "mem.available_bytes": available,
                "mem.used_bytes": used,
            }
        swap = _swap()
        if swap is not None:
            swap_total, swap_free = swap
            swap_used = max(swap_total - swap_free, 0.0)
            out["mem.swap_total_bytes"] = swap_total
            out["mem.swap_used_bytes"] = swap_used
            if swap_total > 0:
                out["mem.swap_used_percent"] = round(swap_used / swap_total * 100.0, DECIMALS)
        return out
