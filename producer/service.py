"""The sampling loop: read every sampler at a fixed rate, encode, hand to the sink, stop cleanly.

Timing runs on the monotonic clock with deadlines at `start + n * interval` (n = 1, 2, ...), so
per-tick work never accumulates as drift. A tick that comes more than half an interval late (the
machine was suspended, a sampler hung) is skipped, with the ones after it up to now, instead of
firing a burst of catch-up samples. The first sample comes one interval after start so that rates
such as cpu.percent cover a whole interval. `ts` in the message is the wall-clock time of the read.

Between ticks the loop serves the Kafka client while it holds samples (delivery reports, handing
held samples over as room frees up) in slices of at most `POLL_SLICE`, and otherwise sleeps until the
next deadline. It also sends systemd's watchdog pings (`producer.sdnotify`): a loop stuck in a
sampler stops pinging and systemd restarts the agent.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

from producer import message
from producer.errors import SinkError
from producer.samplers import AgentSampler, AgentStatus, Sampler
from producer.sdnotify import Notifier
from producer.sink import RateLimitedLog, Sink

log = logging.getLogger(__name__)

# Longest a single poll of the Kafka client blocks while samples are held: how soon stop() is noticed.
POLL_SLICE = 0.1


class FixedRate:
    """Deadlines `start + n * interval` on a monotonic clock; late ones are skipped, never bunched up."""

    def __init__(self, interval: float, start: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.start = start
        self.n = 0  # index of the deadline handed out last
        self.skipped = 0

    def next_deadline(self, now: float) -> float:
        """The next deadline to sleep until (in the past = run now). Call once per tick."""
        n = self.n + 1
        # The deadline nearest to now, if the next one is already more than half an interval behind.
        caught_up = math.ceil((now - self.start) / self.interval - 0.5)
        if caught_up > n:
            self.skipped += caught_up - n
            n = caught_up
        self.n = n
        return self.start + n * self.interval


class Service:
    """Owns the samplers and the sink for one producer process."""

    def __init__(
        self,
        samplers: Sequence[Sampler],
        sink: Sink,
        *,
        host_id: str,
        interval: float,
        flush_timeout: float,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self._samplers = list(samplers)
        self._sink = sink
        self._host_id = host_id
        self._key = message.key(host_id)
        self._interval = interval
        self._flush_timeout = flush_timeout
        self._notifier = notifier if notifier is not None else Notifier({})
        self._clock = clock
        self._wall_clock = wall_clock
        self._stopping = threading.Event()
        # wait(seconds) -> True if stop() was called meanwhile; injectable so tests need no real sleeps.
        self._wait = wait if wait is not None else self._stopping.wait
        self._seq = 0
        self._limiter = RateLimitedLog(log, 10.0, clock)
        self._last_sample_seconds: float | None = None
        self._next_ping = -math.inf
        self._agent = AgentSampler(self.status, clock=clock)
        self.schedule: FixedRate | None = None

    @property
    def seq(self) -> int:
        """Number of samples taken so far (the next message's `seq`)."""
        return self._seq

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler or another thread)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def status(self) -> AgentStatus:
        stats = self._sink.stats
        return AgentStatus(
            sent=stats.sent,
            dropped=stats.dropped,
            delivery_errors=stats.failed,
            buffer_depth=self._sink.pending,
            ticks_skipped=self.schedule.skipped if self.schedule is not None else 0,
            last_sample_seconds=self._last_sample_seconds,
        )

    def status_line(self) -> str:
        """One line for `systemctl status` and the logs."""
        s = self.status()
        return (
            f"{self._seq} sampled, {s.sent} delivered, {s.buffer_depth} held, {s.dropped} dropped, "
            f"{s.delivery_errors} refused"
        )

    def run(self, *, once: bool = False) -> None:
        """Sample until stop() (or one sample with `once`), then flush the sink within the bound.

        Raises SinkError if the Kafka client reported a fatal error.
        """
        self._sink.start()  # the client exists (and librdkafka accepted its settings): we are ready
        self._notifier.ready(f"sampling every {self._interval:g} s")
        self.schedule = schedule = FixedRate(self._interval, self._clock())
        try:
            while not self._stopping.is_set():
                deadline = schedule.next_deadline(self._clock())
                if self._wait_until(deadline):
                    break
                self.tick()
                fatal = self._sink.fatal
                if fatal is not None:
                    raise SinkError(f"Kafka client failed: {fatal.str()}")
                if once:
                    break
        finally:
            self._notifier.stopping(f"flushing {self._sink.pending} held sample(s)")
            self._sink.close(self._flush_timeout)
            log.info("stopped: %s, %d tick(s) skipped", self.status_line(), schedule.skipped)
            self._notifier.close()

    def _wait_until(self, deadline: float) -> bool:
        """Serve the sink and the watchdog until `deadline`; True if stop() was called meanwhile."""
        while True:
            now = self._clock()
            self._ping(now)
            left = deadline - now
            if left <= 0:
                return self._stopping.is_set()
            step = left
            if self._notifier.watchdog_interval is not None:
                step = min(step, max(self._next_ping - now, 0.0))
            if self._sink.pending:
                self._sink.poll(min(step, POLL_SLICE))
                if self._stopping.is_set():
                    return True
            elif self._wait(step):
                return True

    def _ping(self, now: float) -> None:
        interval = self._notifier.watchdog_interval
        if interval is not None and now >= self._next_ping:
            self._notifier.watchdog(self.status_line())
            self._next_ping = now + interval

    def tick(self) -> message.Sample:
        """Read all samplers now and send the result."""
        started = self._clock()
        ts_ms = int(self._wall_clock() * 1000)
        metrics: dict[str, float] = {}
        for sampler in self._samplers:
            try:
                metrics.update(sampler.sample())
            except Exception:  # one broken family must not stop the others
                family = sampler.family
                self._limiter.log(logging.ERROR, family, "sampler %r failed", family, exc_info=True)
        self._last_sample_seconds = self._clock() - started
        metrics.update(self._agent.sample())
        sample = message.Sample(host=self._host_id, ts_ms=ts_ms, seq=self._seq, metrics=metrics)
        self._seq += 1
        self._sink.send(self._key, message.encode(sample))
        self._sink.poll(0)
        return sample
