"""Where samples go: Kafka (confluent_kafka.Producer behind a bounded local buffer), or stdout for `--dry-run`.

The Kafka sink does no network I/O until `start()`. librdkafka then connects in the background and
reconnects on its own. Samples go first into our own bounded backlog (`producer.backlog`, which drops
the *oldest* when full, counts and logs it); at most `IN_FLIGHT_MAX` at a time are handed to
librdkafka, which retries them without a time limit (`message.timeout.ms=0`) and, being idempotent,
delivers them in order and exactly once per partition. With the broker down the agent keeps sampling:
the window fills, then the backlog; when the broker is back everything held is delivered in order,
without a restart. Client errors are sorted into ignore / warn / error and logged at most once per
`log_period` per kind; delivery reports are counted.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal, Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from producer.backlog import Backlog
from producer.config import MASK, Config, env_name, is_secret
from producer.errors import ConfigError, SinkError

log = logging.getLogger(__name__)
_rdkafka_log = logging.getLogger("producer.librdkafka")

# Producer defaults; any KAFKA_* passthrough setting overrides them.
CLIENT_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,  # retries never duplicate or reorder a host's samples
    "acks": "all",
    "compression.type": "lz4",
    "linger.ms": 5,
    # Samples handed to librdkafka wait for the broker as long as it takes: how much is held during an
    # outage is bounded by our backlog (PRODUCER_BUFFER_SAMPLES), not by time.
    "message.timeout.ms": 0,
}
# Samples handed to librdkafka at once; the rest wait in the backlog, where the oldest can be dropped.
IN_FLIGHT_MAX = 100
# close(): how long one flush() call may block, so that a second Ctrl-C is served promptly.
_FLUSH_SLICE = 0.1
_PURGED = frozenset({KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})
# produce() refusals that may pass (the topic is being created): the sample stays in the backlog.
_NOT_YET = frozenset({KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION})
# The same news in a delivery report: samples produced while the broker was away (it may auto-create
# the topic only when it is back) fail once librdkafka has waited `topic.metadata.propagation.max.ms`
# (30 s). They go back to the front of the backlog, in order, and are produced again.
_RETRY_DELIVERY = _NOT_YET | {KafkaError.UNKNOWN_TOPIC_OR_PART}

Level = Literal["ignore", "warn", "error"]

# Transient conditions librdkafka recovers from by itself (reconnects, leader moves, retries).
_WARN_CODES = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError._TIMED_OUT,
        KafkaError._TIMED_OUT_QUEUE,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._QUEUE_FULL,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    }
)
# Not worth a line: the client is being torn down, or we purged the queue ourselves on close.
_IGNORE_CODES = frozenset({KafkaError._DESTROY, KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT})


def classify(err: KafkaError) -> Level:
    """Sort a librdkafka error: `ignore` (expected), `warn` (transient, retried), `error` (needs a human)."""
    if err.fatal():
        return "error"
    code = err.code()
    if code in _IGNORE_CODES:
        return "ignore"
    if code in _WARN_CODES or err.retriable():
        return "warn"
    return "error"


class RateLimitedLog:
    """Logs a given kind of message at most once per `period` seconds, counting what it held back."""

    def __init__(
        self, logger: logging.Logger, period: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._logger = logger
        self._period = period
        self._clock = clock
        self._state: dict[object, tuple[float, int]] = {}  # kind -> (last logged at, suppressed since)

    def log(
        self,
        level: int,
        kind: object,
        msg: str,
        *args: object,
        exc_info: bool = False,
        logger: logging.Logger | None = None,
    ) -> bool:
        now = self._clock()
        last = self._state.get(kind)
        if last is not None and now - last[0] < self._period:
            self._state[kind] = (last[0], last[1] + 1)
            return False
        if last is not None and last[1]:
            msg += " (%d more like this in the last %.0f s)"
            args = (*args, last[1], now - last[0])
        (logger or self._logger).log(level, msg, *args, exc_info=exc_info)
        self._state[kind] = (now, 0)
        return True


class _LibrdkafkaLog:
    """librdkafka's own log lines (served from poll/flush) on logger `producer.librdkafka`.

    confluent_kafka calls `log(level, "%s [%s] %s", facility, client_name, text)`. Lines are
    rate-limited per facility; connection failures (facility FAIL) go to DEBUG because `error_cb`
    reports the same event already.
    """

    def __init__(self, limiter: RateLimitedLog) -> None:
        self._limiter = limiter

    def log(self, level: int, msg: str, *args: object) -> None:
        facility = args[0] if args else msg
        if facility == "FAIL":
            level = logging.DEBUG
        if _rdkafka_log.isEnabledFor(level):
            self._limiter.log(level, ("librdkafka", level, facility), msg, *args, logger=_rdkafka_log)


@dataclass
class DeliveryStats:
    sent: int = 0  # acknowledged by the broker
    failed: int = 0  # refused by the broker or the client (delivery report with an error, produce() error)
    dropped: int = 0  # given up by us: oldest dropped from the full backlog, or left unsent at close


class Sink(Protocol):
    """What the service writes samples to."""

    stats: DeliveryStats

    @property
    def pending(self) -> int:
        """Samples accepted by send() and not yet delivered, failed or dropped."""
        ...

    def start(self) -> None: ...

    def send(self, key: bytes, value: bytes) -> bool: ...

    def poll(self, timeout: float = 0.0) -> None: ...

    def close(self, timeout: float) -> int: ...

    @property
    def fatal(self) -> KafkaError | None: ...


def client_config(config: Config, **overrides: Any) -> dict[str, Any]:
    """librdkafka settings: bootstrap servers, our defaults, the KAFKA_* passthrough, then `overrides`.

    `overrides` use librdkafka names with `_` for `.` (`message_timeout_ms=30000`).
    """
    conf: dict[str, Any] = {"bootstrap.servers": config.bootstrap_servers, "client.id": "metrics-producer"}
    conf.update(CLIENT_DEFAULTS)
    conf.update(config.kafka)
    conf.update({k.replace("_", "."): v for k, v in overrides.items()})
    return conf


class KafkaSink:
    """Publishes encoded samples to one topic. Create, `start()`, `send()`/`poll()`, `close(timeout)`."""

    def __init__(
        self,
        conf: Mapping[str, Any],
        topic: str,
        *,
        capacity: int = 1800,
        factory: Callable[[dict[str, Any]], Any] = Producer,
        clock: Callable[[], float] = time.monotonic,
        log_period: float = 10.0,
    ) -> None:
        self._conf = dict(conf)
        self._topic = topic
        self._factory = factory
        self._clock = clock
        self._limiter = RateLimitedLog(log, log_period, clock)
        self._client: Any = None
        self._backlog: Backlog[tuple[bytes, bytes]] = Backlog(capacity)
        self._window = max(1, min(IN_FLIGHT_MAX, capacity // 2))
        self._in_flight = 0  # produced, delivery report not yet served
        self._retry: list[tuple[bytes, bytes]] = []  # in-flight samples to produce again (topic not yet there)
        self._holding = False  # the backlog is in use (Kafka is not keeping up)
        self.stats = DeliveryStats()
        self.last_error: KafkaError | None = None  # latest error worth logging, of any kind
        self.last_delivery_error: KafkaError | None = None
        self._fatal: KafkaError | None = None

    @property
    def fatal(self) -> KafkaError | None:
        """The fatal error librdkafka reported, if any: the client is unusable and the process should exit."""
        return self._fatal

    @property
    def pending(self) -> int:
        """Samples held: in the backlog plus handed to librdkafka and not yet acknowledged."""
        return len(self._backlog) + self._in_flight + len(self._retry)

    @property
    def capacity(self) -> int:
        return self._backlog.capacity

    def start(self) -> None:
        """Create the client. librdkafka checks the settings here; a bad one raises ConfigError."""
        if self._client is not None:
            return
        conf = {**self._conf, "error_cb": self.on_error, "logger": _LibrdkafkaLog(self._limiter)}
        try:
            self._client = self._factory(conf)
        except KafkaException as exc:
            raise ConfigError(_describe_config_error(exc, self._conf)) from None

    def send(self, key: bytes, value: bytes) -> bool:
        """Accept one sample; when the buffer is full the *oldest* held sample is dropped (and counted)."""
        if self._client is None:
            raise SinkError("KafkaSink.send() before start()")
        dropped = self._backlog.push((key, value), self._in_flight)
        if dropped:
            self.stats.dropped += dropped
            self._limiter.log(
                logging.WARNING,
                "buffer-full",
                "local buffer full (%d samples held, Kafka unreachable?): dropping the oldest; %d dropped so far",
                self.capacity,
                self.stats.dropped,
            )
        self._pump()
        return True

    def poll(self, timeout: float = 0.0) -> None:
        """Serve delivery reports, error and log callbacks, then hand more held samples to librdkafka."""
        if self._client is not None:
            self._client.poll(timeout)
            self._pump()

    def _pump(self) -> None:
        """Move samples from the backlog to librdkafka, in order, while the in-flight window has room."""
        if self._retry:  # delivery reports come in produce order: put them back before the rest
            self._backlog.requeue(self._retry)
            self._retry = []
        while self._backlog and self._in_flight < self._window:
            key, value = self._backlog.peek()
            try:
                self._client.produce(self._topic, value=value, key=key, on_delivery=self.on_delivery)
            except BufferError:  # librdkafka's own queue limits (KAFKA_QUEUE_BUFFERING_MAX_*): try later
                break
            except KafkaException as exc:
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                if err is not None and err.code() in _NOT_YET:
                    # The topic is not known (yet): it may be being created. Keep the samples; if it
                    # never appears the backlog fills and drops the oldest, and the error is logged.
                    self._note(err, "cannot produce yet, holding the samples: %s", level="error")
                    break
                self._backlog.pop()  # refused outright (e.g. larger than message.max.bytes)
                self.stats.failed += 1
                if err is not None:
                    self._note(err, "produce failed: %s")
                else:
                    self._limiter.log(logging.ERROR, "produce", "produce failed: %s", exc)
                continue
            self._backlog.pop()
            self._in_flight += 1
        if self._backlog and not self._holding:
            self._holding = True
            log.warning(
                "Kafka is not acknowledging samples: holding them locally (up to %d, then the oldest are dropped)",
                self.capacity,
            )
        elif self._holding and not self.pending:
            self._holding = False
            log.info("caught up: every held sample is delivered (%d dropped so far)", self.stats.dropped)

    def close(self, timeout: float) -> int:
        """Deliver what is held for up to `timeout` s, then drop the rest. Returns how many were dropped."""
        client = self._client
        if client is None:
            return 0
        deadline = self._clock() + timeout
        while self.pending:
            self._pump()
            left = deadline - self._clock()
            if left <= 0:
                break
            client.flush(min(left, _FLUSH_SLICE))  # serves delivery reports; short, so signals get served
        remaining = self.pending
        if remaining:
            log.warning("%d sample(s) not delivered within %.1f s; dropping them", remaining, timeout)
            self.stats.dropped += self._backlog.clear() + len(self._retry)
            self._retry = []
            client.purge(in_queue=True, in_flight=True, blocking=False)
            client.poll(0)  # their delivery reports (purged) are counted as dropped
        self._client = None
        return remaining

    # --- librdkafka callbacks (public so tests can feed them KafkaError objects) ---------------------

    def on_error(self, err: KafkaError) -> None:
        """`error_cb`: client-level errors (connections, brokers, fatal states)."""
        if err.fatal():
            self._fatal = err
        self._note(err, "kafka: %s")

    def on_delivery(self, err: KafkaError | None, msg: Message | None) -> None:
        """`on_delivery`: one call per produced message, after the broker acked it or it failed."""
        self._in_flight = max(0, self._in_flight - 1)
        if err is None:
            self.stats.sent += 1
            return
        if err.code() in _PURGED:  # we gave up on it at close()
            self.stats.dropped += 1
            return
        if err.code() in _RETRY_DELIVERY and msg is not None:
            self._retry.append((msg.key() or b"", msg.value() or b""))
            self._note(err, "topic not available yet, producing the samples again: %s", level="warn")
            return
        self.stats.failed += 1
        if classify(err) != "ignore":
            self.last_delivery_error = err
        self._note(err, "sample not delivered: %s")

    def _note(self, err: KafkaError, msg: str, level: Level | None = None) -> None:
        level = level or classify(err)
        if level != "ignore":
            self.last_error = err
            py_level = logging.WARNING if level == "warn" else logging.ERROR
            self._limiter.log(py_level, (msg, err.code()), msg, err.str())


def _describe_config_error(exc: KafkaException, conf: Mapping[str, Any]) -> str:
    """One line for a setting librdkafka rejected, naming its KAFKA_* variable when the text names a key."""
    err = exc.args[0] if exc.args else None
    text = err.str() if isinstance(err, KafkaError) else str(exc)
    for key, value in conf.items():
        if is_secret(key) and isinstance(value, str) and value:
            text = text.replace(value, MASK)
    quoted = re.findall(r'property:? "([^"]+)"', text)
    mentioned = sorted(
        (k for k in conf if re.search(rf"(?<![\w.]){re.escape(k)}(?![\w.])", text)), key=text.index
    )
    for key in (*quoted, *mentioned):
        if key in conf:
            shown = MASK if is_secret(key) else conf[key]
            return f"{env_name(key)}={shown!r}: {text}"
    return f"Kafka client settings rejected: {text}"


class PrintSink:
    """`--dry-run`: each message value as one JSON line on stdout, no Kafka."""

    fatal = None
    pending = 0

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self.stats = DeliveryStats()

    def start(self) -> None:
        pass

    def send(self, key: bytes, value: bytes) -> bool:
        self._stream.write(value.decode("utf-8") + "\n")
        self._stream.flush()
        self.stats.sent += 1
        return True

    def poll(self, timeout: float = 0.0) -> None:
        pass

    def close(self, timeout: float) -> int:
        return 0
