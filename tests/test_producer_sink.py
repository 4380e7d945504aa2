"""producer.sink: error classification, counted delivery reports, rate-limited logs, lazy client, the
bounded backlog (drop oldest, deliver in order), close with a bound."""

from __future__ import annotations

import io
import logging
import socket
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from producer import config
from producer.errors import ConfigError, SinkError
from producer.sink import CLIENT_DEFAULTS, KafkaSink, PrintSink, RateLimitedLog, classify, client_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeProducer:
    """Records what the sink does with its client; `broker_up` decides whether poll/flush acknowledge."""

    def __init__(self, conf: dict[str, Any], clock: FakeClock) -> None:
        self.conf = conf
        self.clock = clock
        self.produced: list[tuple[str, bytes, bytes]] = []
        self.waiting: list[Any] = []  # delivery callbacks not yet served
        self.broker_up = False
        self.purged = False
        self.polls: list[float] = []
        self.raise_on_produce: Exception | None = None

    def produce(self, topic: str, value: bytes, key: bytes, on_delivery: Any) -> None:
        if self.raise_on_produce is not None:
            raise self.raise_on_produce
        self.produced.append((topic, key, value))
        self.waiting.append(on_delivery)

    def _serve(self, timeout: float) -> None:
        if self.broker_up and self.waiting:
            callbacks, self.waiting = self.waiting, []
            for cb in callbacks:
                cb(None, None)
        else:
            self.clock.now += timeout  # nothing to serve: blocks for the whole timeout

    def poll(self, timeout: float) -> int:
        self.polls.append(timeout)
        self._serve(timeout)
        return 0

    def flush(self, timeout: float) -> int:
        self._serve(timeout)
        return len(self.waiting)

    def purge(self, in_queue: bool = True, in_flight: bool = True, blocking: bool = True) -> None:
        self.purged = True
        callbacks, self.waiting = self.waiting, []
        for cb in callbacks:
            cb(KafkaError(KafkaError._PURGE_QUEUE), None)


def make_sink(**kwargs: Any) -> tuple[KafkaSink, list[FakeProducer], FakeClock]:
    made: list[FakeProducer] = []
    clock = FakeClock()

    def factory(conf: dict[str, Any]) -> FakeProducer:
        made.append(FakeProducer(conf, clock))
        return made[-1]

    sink = KafkaSink({"bootstrap.servers": "b:9092"}, "topic-a", factory=factory, clock=clock, **kwargs)
    return sink, made, clock


# --- classification -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "level"),
    [
        (KafkaError._TRANSPORT, "warn"),
        (KafkaError._ALL_BROKERS_DOWN, "warn"),
        (KafkaError._RESOLVE, "warn"),
        (KafkaError._MSG_TIMED_OUT, "warn"),
        (KafkaError.LEADER_NOT_AVAILABLE, "warn"),
        (KafkaError.NOT_ENOUGH_REPLICAS, "warn"),
        (KafkaError._DESTROY, "ignore"),
        (KafkaError._PURGE_QUEUE, "ignore"),
        (KafkaError._AUTHENTICATION, "error"),
        (KafkaError._SSL, "error"),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, "error"),
        (KafkaError.MSG_SIZE_TOO_LARGE, "error"),
        (KafkaError._UNKNOWN_TOPIC, "error"),
    ],
)
def test_classify(code: int, level: str) -> None:
    assert classify(KafkaError(code)) == level


def test_classify_fatal_and_retriable_flags() -> None:
    assert classify(KafkaError(KafkaError._TRANSPORT, "x", fatal=True)) == "error"
    assert classify(KafkaError(KafkaError.UNKNOWN, "x", retriable=True)) == "warn"


# --- callbacks --------------------------------------------------------------------------------------


def test_delivery_reports_are_counted() -> None:
    sink, _, _ = make_sink()
    sink.on_delivery(None, None)
    sink.on_delivery(None, None)
    timed_out = KafkaError(KafkaError._MSG_TIMED_OUT)
    sink.on_delivery(timed_out, None)
    sink.on_delivery(KafkaError(KafkaError._PURGE_QUEUE), None)
    assert (sink.stats.sent, sink.stats.failed, sink.stats.dropped) == (2, 1, 1)  # purged: we gave up on it
    assert sink.last_delivery_error is timed_out  # purges on close are not "the" reason


def test_error_cb_warns_for_transient_errors(caplog: pytest.LogCaptureFixture) -> None:
    sink, _, _ = make_sink()
    with caplog.at_level(logging.DEBUG, logger="producer.sink"):
        sink.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "1/1 brokers are down"))
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "kafka: 1/1 brokers are down")
    ]
    assert sink.fatal is None


def test_error_cb_records_fatal_errors(caplog: pytest.LogCaptureFixture) -> None:
    sink, _, _ = make_sink()
    fatal = KafkaError(KafkaError._FATAL, "producer fenced", fatal=True)
    with caplog.at_level(logging.DEBUG, logger="producer.sink"):
        sink.on_error(fatal)
    assert sink.fatal is fatal
    assert caplog.records[-1].levelno == logging.ERROR


def test_error_cb_ignores_destroy(caplog: pytest.LogCaptureFixture) -> None:
    sink, _, _ = make_sink()
    with caplog.at_level(logging.DEBUG, logger="producer.sink"):
        sink.on_error(KafkaError(KafkaError._DESTROY))
    assert caplog.records == []
    assert sink.last_error is None


def test_repeated_errors_are_rate_limited(caplog: pytest.LogCaptureFixture) -> None:
    sink, _, clock = make_sink(log_period=10.0)
    err = KafkaError(KafkaError._TRANSPORT, "Connection refused")
    with caplog.at_level(logging.DEBUG, logger="producer.sink"):
        for _ in range(5):
            sink.on_error(err)
            clock.now += 1.0
        assert len(caplog.records) == 1
        sink.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "down"))  # another kind: logged
        assert len(caplog.records) == 2
        clock.now += 10.0
        sink.on_error(err)
    assert len(caplog.records) == 3
    assert caplog.records[-1].getMessage() == "kafka: Connection refused (4 more like this in the last 15 s)"


def test_rate_limited_log_keeps_kinds_apart() -> None:
    logger = logging.getLogger("test.ratelimit")
    clock = FakeClock()
    limiter = RateLimitedLog(logger, period=5.0, clock=clock)
    assert limiter.log(logging.INFO, "a", "one")
    assert limiter.log(logging.INFO, "b", "two")
    assert not limiter.log(logging.INFO, "a", "one again")
    clock.now += 5.0
    assert limiter.log(logging.INFO, "a", "one later")


def test_librdkafka_connection_failures_go_to_debug(caplog: pytest.LogCaptureFixture) -> None:
    sink, made, _ = make_sink()
    sink.start()
    librdkafka_logger = made[0].conf["logger"]
    with caplog.at_level(logging.DEBUG, logger="producer.librdkafka"):
        librdkafka_logger.log(logging.ERROR, "%s [%s] %s", "FAIL", "rdkafka#producer-1", "Connect failed")
        librdkafka_logger.log(logging.WARNING, "%s [%s] %s", "CONFWARN", "rdkafka#producer-1", "odd setting")
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("producer.librdkafka", logging.DEBUG),
        ("producer.librdkafka", logging.WARNING),
    ]


# --- client lifecycle -----------------------------------------------------------------------------


def test_no_client_until_start() -> None:
    sink, made, _ = make_sink()
    assert made == []
    with pytest.raises(SinkError):
        sink.send(b"k", b"v")
    sink.start()
    sink.start()  # idempotent
    assert len(made) == 1
    conf = made[0].conf
    assert conf["bootstrap.servers"] == "b:9092"
    assert conf["error_cb"] == sink.on_error


def test_send_produces_with_key_and_delivery_callback() -> None:
    sink, made, _ = make_sink()
    sink.start()
    assert sink.send(b"host-1", b"{}")
    assert made[0].produced == [("topic-a", b"host-1", b"{}")]


def test_librdkafka_queue_full_keeps_the_sample_for_later() -> None:
    sink, made, _ = make_sink()
    sink.start()
    made[0].raise_on_produce = BufferError("Local: Queue full")
    assert sink.send(b"k", b"v1")
    assert sink.send(b"k", b"v2")
    assert sink.pending == 2 and sink.stats.dropped == 0
    made[0].raise_on_produce = None
    sink.poll(0)
    assert [value for _, _, value in made[0].produced] == [b"v1", b"v2"]


def test_refused_produce_is_counted_as_failed_and_the_next_one_goes() -> None:
    sink, made, _ = make_sink()
    sink.start()
    made[0].raise_on_produce = KafkaException(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    sink.send(b"k", b"huge")
    assert sink.stats.failed == 1 and sink.pending == 0
    assert sink.last_error is not None and sink.last_error.code() == KafkaError.MSG_SIZE_TOO_LARGE
    made[0].raise_on_produce = None
    sink.send(b"k", b"ok")
    assert [value for _, _, value in made[0].produced] == [b"ok"]


def test_unknown_topic_keeps_the_samples_until_it_exists(caplog: pytest.LogCaptureFixture) -> None:
    sink, made, _ = make_sink()
    sink.start()
    made[0].raise_on_produce = KafkaException(KafkaError(KafkaError._UNKNOWN_TOPIC, "Local: Unknown topic"))
    with caplog.at_level(logging.DEBUG, logger="producer.sink"):
        sink.send(b"k", b"1")
        sink.send(b"k", b"2")
    assert (sink.pending, sink.stats.failed, sink.stats.dropped) == (2, 0, 0)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["cannot produce yet, holding the samples: Local: Unknown topic"]  # once: rate-limited
    made[0].raise_on_produce = None  # the topic was created
    sink.poll(0)
    assert _values(made[0]) == [1, 2]


def _values(producer: FakeProducer) -> list[int]:
    return [int(value) for _, _, value in producer.produced]


def test_outage_beyond_the_buffer_drops_the_oldest_then_delivers_the_rest_in_order(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink, made, clock = make_sink(capacity=10)  # window 5 in librdkafka, up to 10 held in all
    sink.start()
    with caplog.at_level(logging.DEBUG, logger="producer.sink"):
        for n in range(30):  # broker down: nothing is acknowledged
            sink.send(b"h", str(n).encode())
            clock.now += 1.0
        assert sink.pending == 10
        assert sink.stats.dropped == 20
        assert _values(made[0]) == [0, 1, 2, 3, 4]  # the window went to librdkafka before the outage showed
        made[0].broker_up = True
        sink.poll(0)  # acknowledges the window, hands over the backlog
        sink.poll(0)
    assert _values(made[0]) == [0, 1, 2, 3, 4, 25, 26, 27, 28, 29]  # oldest of the backlog dropped, order kept
    assert (sink.stats.sent, sink.stats.dropped, sink.pending) == (10, 20, 0)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("Kafka is not acknowledging samples: holding them locally (up to 10")
    drops = [m for m in messages if m.startswith("local buffer full")]
    assert drops[0] == "local buffer full (10 samples held, Kafka unreachable?): dropping the oldest; 1 dropped so far"
    assert 1 < len(drops) < 20  # logged, but rate-limited (30 fake seconds, one line per 10 s)
    assert messages[-1] == "caught up: every held sample is delivered (20 dropped so far)"


def test_within_the_buffer_nothing_is_lost() -> None:
    sink, made, _ = make_sink(capacity=50)
    sink.start()
    for n in range(50):
        sink.send(b"h", str(n).encode())
    assert sink.stats.dropped == 0 and sink.pending == 50
    made[0].broker_up = True
    while sink.pending:
        sink.poll(0)
    assert _values(made[0]) == list(range(50))
    assert sink.stats.sent == 50


def test_close_delivers_held_samples_within_the_bound() -> None:
    sink, made, clock = make_sink(capacity=400)
    sink.start()
    for n in range(250):  # more than one in-flight window
        sink.send(b"h", str(n).encode())
    made[0].broker_up = True
    started = clock.now
    assert sink.close(5.0) == 0
    assert clock.now == started  # no waiting: everything was acknowledged at once
    assert _values(made[0]) == list(range(250))
    assert sink.stats.sent == 250


def test_close_drops_what_did_not_flush_in_time() -> None:
    sink, made, clock = make_sink(capacity=400)
    sink.start()
    for n in range(150):
        sink.send(b"h", str(n).encode())
    started = clock.now
    assert sink.close(0.5) == 150
    assert clock.now - started == pytest.approx(0.5)  # flushed in slices until the bound
    assert made[0].purged
    assert (sink.stats.sent, sink.stats.failed, sink.stats.dropped) == (0, 0, 150)
    assert sink.pending == 0
    assert sink.close(0.5) == 0  # already closed


def test_close_without_start_is_a_no_op() -> None:
    sink, made, _ = make_sink()
    assert sink.close(1.0) == 0
    assert made == []


def test_client_config_layers() -> None:
    cfg = config.load({"bootstrap_servers": "k1:9092"}, {"KAFKA_LINGER_MS": "50", "KAFKA_SASL_USERNAME": "u"})
    conf = client_config(cfg, message_timeout_ms=30000)
    assert conf["bootstrap.servers"] == "k1:9092"
    assert conf["linger.ms"] == "50"  # passthrough beats our default
    assert conf["sasl.username"] == "u"
    assert conf["message.timeout.ms"] == 30000  # explicit override beats both
    for key in ("enable.idempotence", "acks", "compression.type"):
        assert conf[key] == CLIENT_DEFAULTS[key]


def test_real_client_rejects_bad_passthrough_naming_the_variable() -> None:
    sink = KafkaSink({"security.protocol": "xyz"}, "t")  # no bootstrap.servers: never connects
    with pytest.raises(ConfigError) as info:
        sink.start()
    assert str(info.value).startswith("KAFKA_SECURITY_PROTOCOL='xyz': ")
    sink = KafkaSink({"no.such.key": "1"}, "t")
    with pytest.raises(ConfigError, match=r"^KAFKA_NO_SUCH_KEY='1': No such configuration property"):
        sink.start()


def test_config_error_text_masks_secrets() -> None:
    sink = KafkaSink({"sasl.password": "hunter2"}, "t", factory=_refuse_password)
    with pytest.raises(ConfigError) as info:
        sink.start()
    assert "hunter2" not in str(info.value)
    assert str(info.value).startswith("KAFKA_SASL_PASSWORD='***': Invalid value \"***\"")


def _refuse_password(conf: dict[str, Any]) -> Any:
    raise KafkaException(
        KafkaError(
            KafkaError._INVALID_ARG,
            f'Invalid value "{conf["sasl.password"]}" for configuration property "sasl.password"',
        )
    )


def test_real_client_with_unreachable_broker_holds_bounded_then_drops_on_close() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = KafkaSink({**CLIENT_DEFAULTS, "bootstrap.servers": f"127.0.0.1:{port}"}, "t", capacity=20)
    sink.start()
    for n in range(50):
        assert sink.send(b"k", str(n).encode())
    sink.poll(0)
    assert sink.pending == 20  # bounded: 10 in librdkafka's queue, the newest 10 in the backlog
    assert sink.stats.dropped == 30
    assert sink.close(0.2) == 20
    assert (sink.stats.sent, sink.stats.failed, sink.stats.dropped) == (0, 0, 50)


def test_defaults_wait_for_the_broker_without_a_time_limit() -> None:
    assert CLIENT_DEFAULTS["message.timeout.ms"] == 0
    assert CLIENT_DEFAULTS["enable.idempotence"] is True
    assert CLIENT_DEFAULTS["acks"] == "all"
    assert CLIENT_DEFAULTS["compression.type"] in ("lz4", "zstd")


def test_print_sink_writes_json_lines() -> None:
    out = io.StringIO()
    sink = PrintSink(out)
    sink.start()
    assert sink.send(b"h", b'{"v":1}')
    assert sink.send(b"h", b'{"v":1,"seq":1}')
    assert out.getvalue() == '{"v":1}\n{"v":1,"seq":1}\n'
    assert sink.stats.sent == 2
    assert sink.close(1.0) == 0


class _Msg:
    def __init__(self, key: bytes, value: bytes) -> None:
        self._key, self._value = key, value

    def key(self) -> bytes:
        return self._key

    def value(self) -> bytes:
        return self._value


def test_samples_refused_for_an_unknown_topic_in_flight_are_produced_again_in_order() -> None:
    # Broker away longer than topic.metadata.propagation.max.ms, topic auto-created when it is back:
    # librdkafka fails the in-flight window with "Unknown topic or partition". Nothing may be lost.
    sink, made, _ = make_sink()
    sink.start()
    for i in range(1, 4):
        sink.send(b"k", str(i).encode())
    fake = made[0]
    callbacks, fake.waiting = fake.waiting, []
    for cb, (_, key, value) in zip(callbacks, fake.produced, strict=True):
        cb(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART, "Broker: Unknown topic or partition"), _Msg(key, value))
    assert (sink.pending, sink.stats.failed, sink.stats.dropped) == (3, 0, 0)
    sink.send(b"k", b"4")  # a new sample goes after the ones to retry
    fake.broker_up = True
    sink.poll(0)
    sink.poll(0)
    assert _values(fake) == [1, 2, 3, 1, 2, 3, 4]
    assert (sink.pending, sink.stats.sent, sink.stats.failed) == (0, 4, 0)


def test_samples_to_retry_count_as_dropped_when_close_gives_up() -> None:
    sink, made, _clock = make_sink()
    sink.start()
    sink.send(b"k", b"1")
    fake = made[0]
    fake.waiting.pop()(KafkaError(KafkaError._UNKNOWN_TOPIC), _Msg(b"k", b"1"))
    assert sink.close(1.0) == 1
    assert (sink.pending, sink.stats.dropped) == (0, 1)
