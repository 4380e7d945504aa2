"""Family `network`: per-interface and total traffic, packets, errors and drops per second (/proc/net/dev).

Interfaces matching `--net-exclude` (default: `lo` and the `veth*` halves of container links, whose
traffic the bridge or the container's own interface already shows) are left out of both the
per-interface metrics and the totals.
"""

from __future__ import annotations

import psutil

from producer.samplers._counters import Counters, excluded, total_rates
from producer.samplers.base import MetricSpec, Options, Sampler, register

# psutil snetio field -> metric suffix
_FIELDS = {
    "bytes_recv": "rx_bytes_per_s",
    "bytes_sent": "tx_bytes_per_s",
    "packets_recv": "rx_packets_per_s",
    "packets_sent": "tx_packets_per_s",
    "errin": "rx_errors_per_s",
    "errout": "tx_errors_per_s",
    "dropin": "rx_drops_per_s",
    "dropout": "tx_drops_per_s",
}
_UNITS = {"bytes": "bytes/s", "packets": "/s", "errors": "/s", "drops": "/s"}


def _specs() -> tuple[MetricSpec, ...]:
    specs = []
    for where, scope in (("net", "all reported interfaces"), ("net.<iface>", "one interface")):
        for suffix in _FIELDS.values():
            direction, what = suffix.split("_")[:2]
            verb = "received" if direction == "rx" else "sent"
            what_text = {"errors": "packets with errors", "drops": "packets dropped"}.get(what, what)
            specs.append(
                MetricSpec(f"{where}.{suffix}", _UNITS[what], "rate", f"{what_text} {verb} per second, {scope}")
            )
    return tuple(specs)


@register
class NetworkSampler(Sampler):
    family = "network"
    metrics = _specs()

    def __init__(self, options: Options | None = None) -> None:
        super().__init__(options)
        self._counters = Counters()

    def prime(self) -> None:
        self._rates()

    def _rates(self) -> dict[str, float]:
        # nowrap=False for the same reason as in the disk family: resets are handled by Counters.
        per_nic = psutil.net_io_counters(pernic=True, nowrap=False) or {}
        now = self.options.clock()
        readings = {}
        for nic, io in per_nic.items():
            if excluded(nic, self.options.net_exclude):
                continue
            for field in _FIELDS:
                readings[f"{nic}.{field}"] = float(getattr(io, field))
        return self._counters.update(readings, now)

    def sample(self) -> dict[str, float]:
        rates = self._rates()
        out = {f"net.{_FIELDS[field]}": v for field, v in total_rates(rates, _FIELDS).items()}
        if self.options.per_device:
            for key, value in rates.items():
                nic, _, field = key.rpartition(".")
                out[f"net.{nic}.{_FIELDS[field]}"] = value
        return out
