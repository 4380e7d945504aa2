"""Consumer callbacks fed with confluent-kafka's own error objects (no broker needed)."""

import logging

import orjson
from confluent_kafka import KafkaError

from dash_app.consumer import MetricsConsumer


def make():
    got = []
    c = MetricsConsumer("127.0.0.1:1", "t", 60_000, on_samples=got.extend)
    return c, got


def test_no_io_in_constructor_and_config_is_low_latency():
    c, _ = make()
    assert c.state == "connecting"
    conf = c.config()
    assert conf["fetch.wait.max.ms"] <= 50
    assert conf["enable.auto.commit"] is False
    assert callable(conf["error_cb"])


def test_overrides_pass_through():
    c = MetricsConsumer("b:1", "t", 1, on_samples=lambda s: None, kafka_overrides={"security.protocol": "SSL"})
    assert c.config()["security.protocol"] == "SSL"


def test_all_brokers_down_is_a_visible_state_and_recovers():
    c, _ = make()
    c._set_state("connected", "ok")
    c.on_error(KafkaError(KafkaError._TRANSPORT, "socket closed"))
    assert c.state == "connected"  # one broken connection is not an outage
    c.on_error(KafkaError(KafkaError._ALL_BROKERS_DOWN, "down"))
    assert c.state == "disconnected"
    c._set_state("connected", "metadata ok")
    assert c.state == "connected"


def test_fatal_error_marks_disconnected():
    c, _ = make()
    c.on_error(KafkaError(KafkaError._FATAL, "boom", fatal=True))
    assert c.state == "disconnected" and "fatal" in c.detail


def test_partition_eof_is_ignored():
    c, _ = make()
    c.on_error(KafkaError(KafkaError._PARTITION_EOF))
    assert c.state == "connecting"


def test_bad_messages_are_counted_by_reason_logged_rate_limited_and_skipped(caplog):
    c, _ = make()
    good = orjson.dumps({"v": 1, "host": "h", "ts": 5, "metrics": {"a": 1, "b": "x"}})
    with caplog.at_level(logging.WARNING, logger="dash_app.consumer"):
        samples = c.handle_values([b"junk", good, None, b"[]", b"junk2", good])
    assert [s.host for s in samples] == ["h", "h"]
    assert c.consumed == 6 and c.bad == 4
    assert c.bad_by_reason == {"bad_line": 2, "empty": 1, "not_object": 1}  # junk reads as bad Influx
    assert c.skipped_metrics == 2
    assert len([r for r in caplog.records if "bad message" in r.message]) == 1


def test_backfill_progress_over_partitions():
    c, _ = make()
    assert c.compute_progress({}) == 1.0  # nothing to replay
    c._backfill_start = {0: 100, 1: 0, 2: 50}
    c._backfill_target = {0: 200, 1: 100, 2: 50}  # partition 2 has nothing to replay
    assert c.compute_progress({}) == 0.0
    assert c.compute_progress({0: 150, 1: 50}) == 0.5
    assert c.compute_progress({0: 500, 1: 100}) == 1.0  # live data beyond the target counts once


def test_authentication_failure_is_named_in_the_state():
    c, _ = make()
    c.on_error(KafkaError(KafkaError._AUTHENTICATION, "SASL authentication error: Authentication failed"))
    assert c.state == "disconnected"
    assert c.detail.startswith("authentication failed")


class _FakeKafka:
    """Just enough of confluent_kafka.Consumer for `_assign`: partition 0 has history, 1 has none."""

    def __init__(self):
        self.assigned = None
        self.written = 0  # messages written to partition 1 after offsets_for_times answered


    def list_topics(self, topic, timeout):
        from types import SimpleNamespace
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions={0: None, 1: None})})

    def offsets_for_times(self, wanted, timeout):
        from confluent_kafka import TopicPartition
        self.written = 3  # a producer writes while the dashboard assigns
        return [TopicPartition(tp.topic, tp.partition, 5 if tp.partition == 0 else -1) for tp in wanted]

    def get_watermark_offsets(self, tp, timeout):
        return (0, 7 if tp.partition == 0 else 42 + self.written)

    def assign(self, partitions):
        self.assigned = {tp.partition: tp.offset for tp in partitions}


def test_a_partition_without_history_starts_at_its_watermark_not_at_end():
    # OFFSET_END is resolved by librdkafka after assign(): a message written between the watermark
    # read and that moment (e.g. right after /healthz said "connected") would never be read. And the
    # watermark is read before offsets_for_times: the 3 messages written after that call (offsets
    # 42-44, new, so not history) must still be read.
    c, _ = make()
    fake = _FakeKafka()
    c._assign(fake)
    assert fake.assigned == {0: 5, 1: 42}
    assert c.state == "connected" and c.assigned_partitions == 2
    assert c._backfill_start == {("t", 0): 5, ("t", 1): 42} and c._backfill_target == {("t", 0): 7, ("t", 1): 42}
