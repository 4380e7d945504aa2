"""producer.service: fixed-rate timing on an injected clock (no real sleeps), ts, seq, stop and flush."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from confluent_kafka import KafkaError

from producer.errors import SinkError
from producer.samplers import MetricSpec, Sampler
from producer.service import FixedRate, Service
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


def make_service(
    clock: FakeClock, samplers: list[Sampler], *, interval: float = 1.0, stop_after_waits: int | None = None
) -> tuple[Service, FakeSink]:
    sink = FakeSink()
    service = Service(
        samplers,
        sink,
        host_id="test-host",
        interval=interval,
        flush_timeout=7.0,
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
    assert [v["metrics"] for v in values] == [{"fake.value": 1.0}, {"fake.value": 2.0}, {"fake.value": 3.0}]


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
    assert [value["metrics"] for _, value in sink.sent] == [{"fake.value": 1.0}, {"fake.value": 2.0}]
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
