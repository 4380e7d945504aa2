"""Family `agent`: the producer's own health, in every message (not selectable with `--metrics`).

The counters are cumulative since the agent started and describe the state when the sample was taken:
`agent.samples_sent` counts samples the broker had acknowledged by then.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from producer.samplers._counters import DECIMALS
from producer.samplers.base import MetricSpec, Sampler


@dataclass(frozen=True)
class AgentStatus:
    """What the service knows about its own work, handed to AgentSampler on each tick."""

    sent: int  # acknowledged by the broker
    dropped: int  # never delivered, by our choice: oldest dropped from a full buffer, left at shutdown
    delivery_errors: int  # the broker or client refused them
    buffer_depth: int  # taken but not yet acknowledged (local buffer + in flight)
    ticks_skipped: int  # deadlines missed by more than half an interval (stall, suspend)
    last_sample_seconds: float | None  # how long reading all the families took for this sample


class AgentSampler(Sampler):
    family = "agent"
    metrics = (
        MetricSpec("agent.samples_sent", "1", "counter", "samples the broker acknowledged since the agent started"),
        MetricSpec(
            "agent.samples_dropped",
            "1",
            "counter",
            "samples given up: the oldest dropped when the local buffer was full, or left unsent at shutdown",
        ),
        MetricSpec(
            "agent.delivery_errors", "1", "counter", "samples the broker or client refused (not retried; see the log)"
        ),
        MetricSpec(
            "agent.buffer_depth", "1", "gauge", "samples taken but not yet acknowledged (grows while Kafka is away)"
        ),
        MetricSpec("agent.ticks_skipped", "1", "counter", "sampling deadlines skipped because the loop was late"),
        MetricSpec(
            "agent.sample_seconds", "s", "gauge", "time this sample took to read all the metric families"
        ),
        MetricSpec(
            "agent.cpu_percent", "%", "gauge", "the agent's own CPU use, % of one core, since the previous sample"
        ),
        MetricSpec("agent.rss_bytes", "bytes", "gauge", "the agent's resident memory"),
    )

    def __init__(self, status: Callable[[], AgentStatus], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._status = status
        self._clock = clock
        self._process = psutil.Process()
        self._last_cpu = self._cpu_seconds()
        self._last_time = clock()

    def _cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return float(times.user + times.system)

    def sample(self) -> dict[str, float]:
        status = self._status()
        out = {
            "agent.samples_sent": float(status.sent),
            "agent.samples_dropped": float(status.dropped),
            "agent.delivery_errors": float(status.delivery_errors),
            "agent.buffer_depth": float(status.buffer_depth),
            "agent.ticks_skipped": float(status.ticks_skipped),
            "agent.rss_bytes": float(self._process.memory_info().rss),
        }
        if status.last_sample_seconds is not None:
            out["agent.sample_seconds"] = round(status.last_sample_seconds, 6)
        cpu, now = self._cpu_seconds(), self._clock()
        if now > self._last_time and cpu >= self._last_cpu:
            out["agent.cpu_percent"] = round((cpu - self._last_cpu) / (now - self._last_time) * 100.0, DECIMALS)
        self._last_cpu, self._last_time = cpu, now
        return out
