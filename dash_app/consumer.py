"""Kafka side of the relay: a thin confluent-kafka consumer running in its own thread.

It reads every partition with ``assign()`` (no consumer group, no commits), so any number of
dashboard instances can read the same topic independently. On start it seeks each partition to
``now - history window`` with ``offsets_for_times`` so the store is filled from Kafka itself.
No network I/O happens before :meth:`MetricsConsumer.start`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from confluent_kafka import OFFSET_END, TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, TopicPartition

from .errors import BadMessage
from .formats import DEFAULT_OPTIONS, Decoder, Format, FormatOptions
from .messages import Sample
from .ratelimit import RateLimitedLog, librdkafka_logger

log = logging.getLogger(__name__)

State = Literal["connecting", "connected", "disconnected"]
PartitionKey = tuple[str, int]  # (topic, partition)
Record = tuple[str, bytes | None, bytes | None, int | None]  # topic, value, key, Kafka timestamp ms

# librdkafka errors that mean "cannot reach the cluster right now": shown as state, retried forever.
_CONNECTIVITY_ERRORS = {
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TRANSPORT,
    KafkaError._RESOLVE,
    KafkaError._TIMED_OUT,
}
# Errors that carry no news for a consumer (partition EOF is only reported when asked for).
_IGNORED_ERRORS = {KafkaError._PARTITION_EOF}

BATCH_SIZE = 1000
POLL_TIMEOUT_S = 0.1
PROBE_INTERVAL_S = 2.0
POSITIONS_INTERVAL_S = 0.5


class MetricsConsumer:
    def __init__(
        self,
        bootstrap_servers: str,
        topics: str | list[tuple[str, str]],
        history_ms: int,
        on_samples: Callable[[list[Sample]], None],
        kafka_overrides: dict[str, str] | None = None,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        format_options: FormatOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        specs = [(topics, "auto")] if isinstance(topics, str) else list(topics)
        self.formats: dict[str, Format] = dict(specs)  # type: ignore[arg-type]
        self.topic = ",".join(self.formats)  # for messages and status
        self.decoder = Decoder(format_options)
        self.history_ms = history_ms
        self._on_samples = on_samples
        self._overrides = dict(kafka_overrides or {})
        self._clock_ms = clock_ms
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.state: State = "connecting"
        self.detail = "starting"
        self.consumed = 0
        self.bad = 0
        self.bad_by_reason: Counter[str] = Counter()
        self.skipped_metrics = 0
        self.assigned_partitions = 0
        # Backfill: per partition, where the replay started and the high watermark at assignment.
        self._backfill_start: dict[PartitionKey, int] = {}
        self._backfill_target: dict[PartitionKey, int] = {}
        self.backfill_progress = 0.0  # 0..1; 1.0 once every partition reached its target
        self.lag: dict[PartitionKey, int] = {}  # messages behind the high watermark
        self._bad_log = RateLimitedLog(log)
        self._err_log = RateLimitedLog(log)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kafka-consumer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def config(self) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            # Required by librdkafka even though we never join the group or commit.
            "group.id": f"dash-app-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            # Bounds latency when little data flows (default 500 ms would dominate end-to-end lag).
            "fetch.wait.max.ms": 20,
            "reconnect.backoff.ms": 100,
            "reconnect.backoff.max.ms": 2000,
            "error_cb": self.on_error,
            "logger": librdkafka_logger("dash_app.librdkafka"),
        }
        conf.update(self._overrides)
        return conf

    # -- callbacks (also fed directly by unit tests) -----------------------------------------
    def on_error(self, err: KafkaError) -> None:
        code = err.code()
        if code in _IGNORED_ERRORS:
            return
        if code == KafkaError._AUTHENTICATION:
            self._set_state("disconnected", f"authentication failed: {err.str()}")
            self._err_log.warning("Kafka authentication failed: %s", err.str())
            return
        if code in _CONNECTIVITY_ERRORS:
            if code == KafkaError._ALL_BROKERS_DOWN or self.state != "connected":
                self._set_state("disconnected", err.str())
            self._err_log.warning("Kafka unreachable (%s); retrying", err.str())
            return
        if err.fatal():
            self._set_state("disconnected", f"fatal: {err.str()}")
            log.error("fatal Kafka error: %s", err.str())
            return
        self._err_log.warning("Kafka error: %s", err.str())

    def handle_values(self, values: list[bytes | None]) -> list[Sample]:
        """Decode bare values as if read from the first topic (tests and tools)."""
        first = next(iter(self.formats))
        return self.handle_records([(first, v, None, None) for v in values])

    def handle_records(self, records: list[Record]) -> list[Sample]:
        """Decode records; bad ones are counted by reason, logged (rate-limited) and skipped."""
        samples: list[Sample] = []
        for topic, value, key, ts in records:
            try:
                decoded = self.decoder.decode(value, key, ts, fmt=self.formats.get(topic, "auto"))
            except BadMessage as exc:
                self.bad += 1
                self.bad_by_reason[exc.reason] += 1
                self._bad_log.warning("skipping bad message on %s: %s", topic, exc)
                continue
            for sample in decoded:
                self.skipped_metrics += sample.skipped_metrics
            samples.extend(decoded)
        self.consumed += len(records)
        return samples

    # -- thread ------------------------------------------------------------------------------
    def _set_state(self, state: State, detail: str) -> None:
        if state != self.state:
            log.info("Kafka %s -> %s (%s)", self.state, state, detail)
        self.state = state
        self.detail = detail

    def _run(self) -> None:
        consumer = Consumer(self.config())
        try:
            self._loop(consumer)
        except Exception:  # the thread must never die silently: the page would freeze as "live"
            log.exception("consumer thread crashed")
            self._set_state("disconnected", "consumer thread crashed")
            raise
        finally:
            consumer.close()

    def _loop(self, consumer: Consumer) -> None:
        backoff = 0.5
        while not self._stop.is_set():
            try:
                self._assign(consumer)
                break
            except (KafkaException, _TopicMissing) as exc:
                if not self.detail.startswith("authentication"):  # keep the more useful reason
                    self._set_state("disconnected", str(exc))
                consumer.poll(0)  # serves error_cb: metadata calls alone never report why (e.g. SASL)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        next_probe = time.monotonic() + PROBE_INTERVAL_S
        next_positions = 0.0
        while not self._stop.is_set():
            # consume(n, timeout) waits out its whole timeout unless n messages come, which added up to
            # 100 ms of latency on a quiet topic: wait for the first message with poll(), then take
            # whatever else is already there in one batch.
            first = consumer.poll(POLL_TIMEOUT_S)
            messages = [] if first is None else [first, *consumer.consume(num_messages=BATCH_SIZE - 1, timeout=0)]
            records: list[Record] = []
            for m in messages:
                err = m.error()
                if err is not None:
                    self.on_error(err)
                    continue
                kind, ts = m.timestamp()
                topic = m.topic() or ""
                records.append((topic, m.value(), m.key(), None if kind == TIMESTAMP_NOT_AVAILABLE else ts))
            if records:
                self._set_state("connected", "receiving")
                samples = self.handle_records(records)
                if samples:
                    self._on_samples(samples)
            if time.monotonic() >= next_positions:
                next_positions = time.monotonic() + POSITIONS_INTERVAL_S
                self._track_positions(consumer)
            if self.state != "connected" and time.monotonic() >= next_probe:
                next_probe = time.monotonic() + PROBE_INTERVAL_S
                self._probe(consumer)

    def _probe(self, consumer: Consumer) -> None:
        """A quiet topic gives no message to prove the broker is back: ask for metadata instead."""
        try:
            consumer.list_topics(next(iter(self.formats)), timeout=1.0)
        except KafkaException as exc:
            self._set_state("disconnected", str(exc))
        else:
            self._set_state("connected", "metadata ok")

    def _assign(self, consumer: Consumer) -> None:
        start_ms = self._clock_ms() - self.history_ms
        wanted = []
        for topic in self.formats:
            md = consumer.list_topics(topic, timeout=3.0)
            topic_md = md.topics.get(topic)
            if topic_md is None or topic_md.error is not None or not topic_md.partitions:
                reason = topic_md.error.str() if topic_md is not None and topic_md.error else "no partitions"
                raise _TopicMissing(f"topic {topic!r} not available: {reason}")
            wanted += [TopicPartition(topic, p, start_ms) for p in sorted(topic_md.partitions)]
        # Watermarks first: a message written after this read is at or beyond `high`, so a partition
        # where offsets_for_times finds nothing new enough is followed from `high` without a gap.
        # (Read after offsets_for_times, `high` could already count a message written in between.)
        highs = {(tp.topic, tp.partition): consumer.get_watermark_offsets(
            TopicPartition(tp.topic, tp.partition), timeout=5.0)[1] for tp in wanted}
        offsets = consumer.offsets_for_times(wanted, timeout=10.0)
        for tp in offsets:
            key = (tp.topic, tp.partition)
            high = highs[key]
            if tp.offset < 0:  # no message at or after start_ms in this partition: follow live
                # from the watermark read before, not OFFSET_END: librdkafka resolves that only after
                # assign(), so a message written between "connected" and then would be skipped
                tp.offset = high if high >= 0 else OFFSET_END
                self._backfill_start[key] = high
            else:
                self._backfill_start[key] = tp.offset
            self._backfill_target[key] = high
        consumer.assign(offsets)
        self.assigned_partitions = len(offsets)
        self.backfill_progress = self.compute_progress({})
        self._set_state("connected", f"assigned {len(offsets)} partitions")

    def compute_progress(self, positions: dict[PartitionKey, int]) -> float:
        """Share of the replay (start → high watermark at assignment) already read, over all partitions."""
        total = done = 0
        for p, target in self._backfill_target.items():
            start = self._backfill_start[p]
            span = max(0, target - start)
            total += span
            done += min(span, max(0, positions.get(p, start) - start))
        return 1.0 if total == 0 else done / total

    def _track_positions(self, consumer: Consumer) -> None:
        assigned = consumer.assignment()
        if not assigned:
            return
        try:
            positions = consumer.position(assigned)
        except KafkaException:
            return
        pos = {(tp.topic, tp.partition): tp.offset for tp in positions if tp.offset >= 0}
        if self.backfill_progress < 1.0:
            self.backfill_progress = self.compute_progress(pos)
        for tp in positions:
            try:
                _low, high = consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            key = (tp.topic, tp.partition)
            # No position yet (nothing fetched from an empty partition): we are where we started.
            at = pos.get(key, self._backfill_start.get(key))
            if high >= 0 and at is not None:
                self.lag[key] = max(0, high - at)


class _TopicMissing(Exception):
    pass
