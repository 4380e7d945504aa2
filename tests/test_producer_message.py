"""producer.message: the v1 Kafka message exactly as docs/protocol.md describes it."""

from __future__ import annotations

import math

import orjson
from hypothesis import given
from hypothesis import strategies as st

from producer import message
from producer.message import Sample


def test_encode_v1() -> None:
    sample = Sample(
        host="web-1", ts_ms=1733300000123, seq=42, metrics={"cpu.percent": 12.5, "mem.used_percent": 43}
    )
    raw = message.encode(sample)
    assert raw == (
        b'{"v":1,"host":"web-1","ts":1733300000123,"seq":42,'
        b'"metrics":{"cpu.percent":12.5,"mem.used_percent":43.0}}'
    )
    decoded = orjson.loads(raw)
    assert type(decoded["ts"]) is int
    assert type(decoded["seq"]) is int
    assert all(type(v) is float for v in decoded["metrics"].values())


def test_key_is_host_id_utf8() -> None:
    assert message.key("web-1") == b"web-1"
    assert message.key("hôte") == "hôte".encode()


def test_non_finite_values_are_left_out() -> None:
    sample = Sample(
        host="h", ts_ms=1, seq=0, metrics={"a": math.nan, "b": math.inf, "c": -math.inf, "d": 1.5}
    )
    assert orjson.loads(message.encode(sample))["metrics"] == {"d": 1.5}


def test_empty_metrics_is_still_an_object() -> None:
    assert orjson.loads(message.encode(Sample(host="h", ts_ms=1, seq=0)))["metrics"] == {}


names = st.from_regex(r"[a-z]+(\.[a-z_]+)+", fullmatch=True)


@given(
    host=st.text(min_size=1, max_size=255),
    ts_ms=st.integers(min_value=0, max_value=2**53),
    seq=st.integers(min_value=0, max_value=2**63 - 1),
    metrics=st.dictionaries(names, st.floats(allow_nan=False, allow_infinity=False), max_size=8),
)
def test_round_trip(host: str, ts_ms: int, seq: int, metrics: dict[str, float]) -> None:
    decoded = orjson.loads(message.encode(Sample(host=host, ts_ms=ts_ms, seq=seq, metrics=metrics)))
    assert decoded == {"v": 1, "host": host, "ts": ts_ms, "seq": seq, "metrics": metrics}
    assert list(decoded) == ["v", "host", "ts", "seq", "metrics"]
