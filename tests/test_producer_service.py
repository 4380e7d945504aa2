"""producer.service: fixed-rate timing on an injected clock (no real sleeps), ts, seq, stop and flush,
serving a sink that holds samples, the agent's own metrics and the watchdog pings."""

from __future__ import annotations

import itertools
import logging
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError

from producer.errors import SinkError
from producer.samplers import MetricSpec, Sampler
from producer.sdnotify import Notifier
from producer.service import POLL_SLICE, FixedRate, Service
from producer.sink import DeliveryStats


class FakeClock:
    """Monotonic and wall clocks that only move when the service waits or a sampler works."""

    def __init__(self) -> None:
        self.now = 500.0
        self.wall_offset = 1_700_000_000.0 - 500.0
        self.waits: list[float] = []
        self.stop_after_waits: int | None = None
        self.service: Service | None = None

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.now + self.wall_offset

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        if self.stop_after_waits is not None and len(self.waits) > self.stop_after_waits:
            assert self.service is not None
            self.service.stop()
            return True
        self.now += seconds
        return False


class FakeSampler(Sampler):
    """Records when it was read and advances the clock by the work it 'does'."""

    family = "fake"
    metrics = (MetricSpec("fake.value", "1", "gauge", "test"),)

    def __init__(
        self, clock: FakeClock, work: dict[int, float] | None = None, default_work: float = 0.0
    ) -> None:
        self.clock = clock
        self.work = work or {}
        self.default_work = default_work
        self.read_at: list[float] = []

    def sample(self) -> dict[str, float]:
        self.read_at.append(self.clock.now)
        self.clock.now += self.work.get(len(self.read_at) - 1, self.default_work)
        return {"fake.value": float(len(self.read_at))}


class BrokenSampler(Sampler):
    family = "broken"
    metrics = ()

    def sample(self) -> dict[str, float]:
        raise OSError("no /proc")


class FakeSink:
    def __init__(self) -> None:
        self.stats = DeliveryStats()
        self.started = False
        self.sent: list[tuple[bytes, dict[str, Any]]] = []
        self.closed_with: float | None = None
        self.fatal: KafkaError | None = None
        self.pending = 0

    def start(self) -> None:
        self.started = True

    def send(self, key: bytes, value: bytes) -> bool:
        self.sent.append((key, orjson.loads(value)))
        self.stats.sent += 1
        return True

    def poll(self, timeout: float = 0.0) -> None:
        pass

    def close(self, timeout: float) -> int:
        self.closed_with = timeout
        return 0


class FakeNotifier(Notifier):
    """Records what would go to systemd, with the (fake) time it was sent."""

    def __init__(self, clock: FakeClock, watchdog_interval: float | None = None) -> None:
        super().__init__({})
        self.clock = clock
        self.watchdog_interval = watchdog_interval
        self.sent: list[tuple[float, tuple[str, ...]]] = []

    def notify(self, *fields: str, wait: bool = True) -> bool:
        self.sent.append((self.clock.now, fields))
        return True

    def pings(self) -> list[float]:
        return [t for t, fields in self.sent if "WATCHDOG=1" in fields]


def make_service(
    clock: FakeClock,
    samplers: list[Sampler],
    *,
    interval: float = 1.0,
    stop_after_waits: int | None = None,
    sink: Any = None,
    notifier: Notifier | None = None,
) -> tuple[Service, FakeSink]:
    sink = sink if sink is not None else FakeSink()
    service = Service(
        samplers,
        sink,
        host_id="test-host",
        interval=interval,
        flush_timeout=7.0,
        notifier=notifier,
        clock=clock.monotonic,
        wall_clock=clock.wall,
        wait=clock.wait,
    )
    clock.service = service
    clock.stop_after_waits = stop_after_waits
    return service, sink


# --- FixedRate ------------------------------------------------------------------------------------


def test_fixed_rate_deadlines_do_not_drift() -> None:
    rate = FixedRate(0.5, start=10.0)
    assert rate.next_deadline(10.0) == 10.5
    assert rate.next_deadline(10.61) == 11.0  # the tick's own work does not push later deadlines
    assert rate.next_deadline(11.2) == 11.5
    assert rate.skipped == 0


def test_fixed_rate_runs_a_slightly_late_tick_now() -> None:
    rate = FixedRate(1.0, start=0.0)
    assert rate.next_deadline(0.0) == 1.0
    assert rate.next_deadline(2.4) == 2.0  # 0.4 interval late: run it now
    assert rate.next_deadline(2.5) == 3.0
    assert rate.skipped == 0


def test_fixed_rate_skips_missed_ticks_instead_of_bursting() -> None:
    rate = FixedRate(1.0, start=0.0)
    assert rate.next_deadline(0.0) == 1.0
    assert rate.next_deadline(5.7) == 6.0  # woke up at 5.7: deadlines 2..5 are gone, 6 is next
    assert rate.skipped == 4
    assert rate.next_deadline(6.01) == 7.0


def test_fixed_rate_rejects_non_positive_interval() -> None:
    with pytest.raises(ValueError):
        FixedRate(0.0, start=0.0)


# --- Service --------------------------------------------------------------------------------------


def test_ticks_at_start_plus_n_intervals_despite_work() -> None:
    clock = FakeClock()
    sampler = FakeSampler(clock, default_work=0.13)
    service, sink = make_service(clock, [sampler], interval=0.5, stop_after_waits=6)
    service.run()
    assert sampler.read_at == pytest.approx([500.5, 501.0, 501.5, 502.0, 502.5, 503.0])
    assert sink.started
    assert sink.closed_with == 7.0


def test_a_stall_skips_ticks_and_does_not_burst() -> None:
    clock = FakeClock()
    sampler = FakeSampler(clock, work={2: 3.7})  # the third read hangs for 3.7 intervals
    service, _ = make_service(clock, [sampler], stop_after_waits=6)
    service.run()
    assert sampler.read_at == pytest.approx([501.0, 502.0, 503.0, 507.0, 508.0, 509.0])
    assert service.schedule is not None and service.schedule.skipped == 3


def test_messages_carry_sample_time_seq_and_host() -> None:
    clock = FakeClock()
    sampler = FakeSampler(clock, default_work=0.25)
    service, sink = make_service(clock, [sampler], stop_after_waits=3)
    service.run()
    keys = [key for key, _ in sink.sent]
    values = [value for _, value in sink.sent]
    assert keys == [b"test-host"] * 3
    assert [v["seq"] for v in values] == [0, 1, 2]
    # ts is the wall-clock time when the sampler was read (before its 0.25 s of work), in ms
    assert [v["ts"] for v in values] == [int((t + clock.wall_offset) * 1000) for t in sampler.read_at]
    assert all(v["v"] == 1 and v["host"] == "test-host" for v in values)
    assert [v["metrics"]["fake.value"] for v in values] == [1.0, 2.0, 3.0]
    assert [v["metrics"]["agent.sample_seconds"] for v in values] == [0.25, 0.25, 0.25]


def test_once_takes_one_sample_after_one_interval() -> None:
    clock = FakeClock()
    sampler = FakeSampler(clock)
    service, sink = make_service(clock, [sampler], interval=2.0)
    service.run(once=True)
    assert sampler.read_at == [502.0]
    assert len(sink.sent) == 1
    assert sink.closed_with == 7.0


def test_stop_during_wait_ends_without_another_sample() -> None:
    clock = FakeClock()
    sampler = FakeSampler(clock)
    service, sink = make_service(clock, [sampler], stop_after_waits=0)
    service.run()
    assert sampler.read_at == []
    assert sink.sent == []
    assert sink.closed_with == 7.0


def test_stop_before_run_returns_at_once() -> None:
    clock = FakeClock()
    service, sink = make_service(clock, [FakeSampler(clock)])
    service.stop()
    service.run()
    assert clock.waits == []
    assert sink.closed_with == 7.0


def test_a_failing_sampler_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    service, sink = make_service(clock, [BrokenSampler(), FakeSampler(clock)], stop_after_waits=2)
    with caplog.at_level(logging.ERROR, logger="producer.service"):
        service.run()
    assert [value["metrics"]["fake.value"] for _, value in sink.sent] == [1.0, 2.0]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # rate-limited
    assert "'broken'" in errors[0].getMessage()
    assert errors[0].exc_info is not None


def test_fatal_client_error_stops_with_sink_error() -> None:
    clock = FakeClock()
    service, sink = make_service(clock, [FakeSampler(clock)])
    sink.fatal = KafkaError(KafkaError._FATAL, "fenced", fatal=True)
    with pytest.raises(SinkError, match="fenced"):
        service.run()
    assert len(sink.sent) == 1
    assert sink.closed_with == 7.0


class HoldingSink(FakeSink):
    """Holds every sample until `deliver_at` (fake time); poll() blocks like librdkafka's, up to its timeout."""

    def __init__(self, clock: FakeClock, deliver_at: float) -> None:
        super().__init__()
        self.clock = clock
        self.deliver_at = deliver_at
        self.polls: list[tuple[float, float]] = []

    def send(self, key: bytes, value: bytes) -> bool:
        super().send(key, value)
        self.stats.sent -= 1
        self.pending += 1
        return True

    def poll(self, timeout: float = 0.0) -> None:
        self.polls.append((self.clock.now, timeout))
        if self.pending and self.clock.now + timeout >= self.deliver_at:
            self.clock.now = max(self.clock.now, self.deliver_at)
            self.stats.sent += self.pending
            self.pending = 0
        else:
            self.clock.now += timeout


def test_while_samples_are_held_the_loop_polls_the_sink_in_short_slices() -> None:
    clock = FakeClock()
    sink = HoldingSink(clock, deliver_at=503.55)
    sampler = FakeSampler(clock)
    service, _ = make_service(clock, [sampler], stop_after_waits=2, sink=sink)
    service.run()
    # ticks stay on schedule while the sink is served
    assert sampler.read_at == pytest.approx([501.0, 502.0, 503.0, 504.0])
    waiting = [(t, timeout) for t, timeout in sink.polls if timeout > 0]
    assert waiting and all(timeout <= POLL_SLICE + 1e-9 for _, timeout in waiting)
    assert waiting[0][0] == pytest.approx(501.0)  # polled right after the first tick: nothing idles
    # once everything is delivered the loop sleeps until the next deadline instead of polling
    assert clock.waits == pytest.approx([1.0, 1.0 - 0.55, 1.0])
    # the agent's metrics in each message show what was held when it was taken
    depth = [value["metrics"]["agent.buffer_depth"] for _, value in sink.sent]
    sent = [value["metrics"]["agent.samples_sent"] for _, value in sink.sent]
    assert depth == [0.0, 1.0, 2.0, 0.0]
    assert sent == [0.0, 0.0, 0.0, 3.0]


def test_agent_metrics_count_drops_and_skipped_ticks() -> None:
    clock = FakeClock()
    sink = FakeSink()
    sink.stats.dropped = 5
    sink.stats.failed = 2
    sampler = FakeSampler(clock, work={0: 2.7})
    service, _ = make_service(clock, [sampler], stop_after_waits=2, sink=sink)
    service.run()
    last = sink.sent[-1][1]["metrics"]
    assert last["agent.samples_dropped"] == 5.0
    assert last["agent.delivery_errors"] == 2.0
    assert last["agent.ticks_skipped"] == 2.0
    assert service.status_line() == "2 sampled, 2 delivered, 0 held, 5 dropped, 2 refused"


# --- systemd notify and watchdog ------------------------------------------------------------------


def test_ready_after_the_sink_started_then_stopping() -> None:
    clock = FakeClock()
    notifier = FakeNotifier(clock)
    service, sink = make_service(clock, [FakeSampler(clock)], stop_after_waits=1, notifier=notifier)
    service.run()
    kinds = [fields[0] for _, fields in notifier.sent]
    assert kinds == ["READY=1", "STOPPING=1"]
    assert sink.started
    assert notifier.sent[0][1][1] == "STATUS=sampling every 1 s"


def test_watchdog_pings_from_the_loop_even_between_slow_ticks() -> None:
    clock = FakeClock()
    notifier = FakeNotifier(clock, watchdog_interval=0.4)
    service, _ = make_service(clock, [FakeSampler(clock)], interval=1.0, stop_after_waits=8, notifier=notifier)
    service.run()
    pings = notifier.pings()
    assert pings[0] == 500.0
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert gaps and max(gaps) <= 0.4 + 1e-9  # never later than the interval, though ticks are 1 s apart
    status = [f for _, fields in notifier.sent for f in fields if f.startswith("STATUS=") and "sampled" in f]
    assert status[-1].startswith("STATUS=") and "delivered" in status[-1]


def test_a_stalled_loop_stops_pinging() -> None:
    clock = FakeClock()
    notifier = FakeNotifier(clock, watchdog_interval=0.5)
    sampler = FakeSampler(clock, work={1: 30.0})  # the second read hangs for 30 s
    service, _ = make_service(clock, [sampler], stop_after_waits=6, notifier=notifier)
    service.run()
    pings = notifier.pings()
    stall_start, stall_end = sampler.read_at[1], sampler.read_at[1] + 30.0
    assert not [t for t in pings if stall_start < t < stall_end]
    assert [t for t in pings if t >= stall_end], "pings resume once the loop runs again"
