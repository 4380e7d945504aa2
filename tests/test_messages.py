import orjson
import pytest

from dash_app.errors import BadMessage
from dash_app.messages import MAX_METRICS_PER_MESSAGE, decode


def encode(**doc):
    return orjson.dumps(doc)


GOOD = {"v": 1, "host": "web-1", "ts": 1_733_300_000_123, "seq": 7,
        "metrics": {"cpu.percent": 12.5, "mem.used_percent": 43}}


def test_decodes_v1_message():
    s = decode(encode(**GOOD))
    assert (s.host, s.ts, s.seq) == ("web-1", 1_733_300_000_123, 7)
    assert s.metrics == {"cpu.percent": 12.5, "mem.used_percent": 43.0}
    assert isinstance(s.metrics["mem.used_percent"], float)


def test_accepts_extra_fields_and_extra_metrics():
    doc = {**GOOD, "agent": {"version": "9"}, "metrics": {**GOOD["metrics"], "disk.read_bps": 1e6}}
    s = decode(encode(**doc))
    assert s.metrics["disk.read_bps"] == 1e6
    assert len(s.metrics) == 3


def test_non_numeric_metric_values_are_skipped_and_counted():
    doc = {**GOOD, "metrics": {"a": "1.5", "b": None, "c": True, "d": 2.0, "e": [1]}}
    s = decode(encode(**doc))
    assert s.metrics == {"d": 2.0}
    assert s.skipped_metrics == 4


def test_nan_written_by_a_lenient_encoder_makes_the_message_bad_not_fatal():
    # Python's json.dumps writes NaN, which is not JSON; the message is counted as bad, never raised
    with pytest.raises(BadMessage) as info:
        decode(b'{"v":1,"host":"h","ts":5,"metrics":{"a":NaN}}')
    assert info.value.reason == "not_json"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty"),
        (b"not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1,2]", "not_object"),
        (encode(**{**GOOD, "v": 2}), "unsupported_version"),
        (encode(**{**GOOD, "v": True}), "unsupported_version"),
        (encode(**{k: v for k, v in GOOD.items() if k != "host"}), "bad_host"),
        (encode(**{**GOOD, "host": ""}), "bad_host"),
        (encode(**{**GOOD, "host": "x" * 300}), "bad_host"),
        (encode(**{**GOOD, "ts": "now"}), "bad_ts"),
        (encode(**{**GOOD, "ts": 1.5}), "bad_ts"),
        (encode(**{**GOOD, "ts": -1}), "bad_ts"),
        (encode(**{**GOOD, "seq": "1"}), "bad_seq"),
        (encode(**{**GOOD, "metrics": [1]}), "bad_metrics"),
        (encode(**{**GOOD, "metrics": {f"m{i}": 1 for i in range(MAX_METRICS_PER_MESSAGE + 1)}}),
         "too_many_metrics"),
    ],
)
def test_bad_messages_raise_with_a_stable_reason(value, reason):
    with pytest.raises(BadMessage) as info:
        decode(value)
    assert info.value.reason == reason
