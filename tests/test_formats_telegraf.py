"""Telegraf JSON serializer: single and batch form, timestamp units, field types (dash_app/formats/telegraf.py)."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest

from dash_app.formats import FormatError, FormatOptions, decode_record


def metric(fields=None, name="cpu", tags=None, timestamp=1_700_000_000) -> dict:
    return {"fields": {"usage_idle": 92.5} if fields is None else fields, "name": name,
            "tags": {"host": "h1"} if tags is None else tags, "timestamp": timestamp}


def dec(doc, *, kafka_ts_ms=None, dropped=None, fmt="auto", **options) -> list:
    value = doc if isinstance(doc, bytes) else orjson.dumps(doc)
    return decode_record(value, None, kafka_ts_ms, fmt=fmt, options=FormatOptions(**options), dropped=dropped)


def reason(doc, **kw) -> str:
    with pytest.raises(FormatError) as info:
        dec(doc, **kw)
    return info.value.reason


def test_single_metric():
    [s] = dec(metric(tags={"host": "h1", "cpu": "cpu0"}))
    assert (s.host, s.ts, s.skipped_metrics) == ("h1", 1_700_000_000_000, 0)
    assert s.metrics == {"cpu.usage_idle{cpu=cpu0}": 92.5}


def test_batch_groups_by_host_and_time():
    doc = {"metrics": [metric(), metric({"used": 1}, name="mem"), metric(tags={"host": "h2"}),
                       metric(timestamp=1_700_000_010)]}
    assert [(s.host, s.ts, s.metrics) for s in dec(doc)] == [
        ("h1", 1_700_000_000_000, {"cpu.usage_idle": 92.5, "mem.used": 1.0}),
        ("h2", 1_700_000_000_000, {"cpu.usage_idle": 92.5}),
        ("h1", 1_700_000_010_000, {"cpu.usage_idle": 92.5}),
    ]


@pytest.mark.parametrize(("units", "ts", "ms"), [
    ("1s", 1_700_000_000, 1_700_000_000_000),
    ("1ms", 1_700_000_000_123, 1_700_000_000_123),
    ("10ms", 170_000_000_012, 1_700_000_000_120),  # Telegraf divides by the unit, even 10 ms
    ("15ms", 170_000_000_012, 1_700_000_000_120),  # ... truncated to the power of ten below
    ("1us", 1_700_000_000_123_456, 1_700_000_000_123),
    ("1ns", 1_700_000_000_123_456_789, 1_700_000_000_123),
    ("auto", 1_700_000_000, 1_700_000_000_000),
    ("auto", 1_700_000_000_123, 1_700_000_000_123),
    ("auto", 1_700_000_000_123_456_789, 1_700_000_000_123),
])
def test_timestamp_units(units: str, ts: int, ms: int):
    assert dec(metric(timestamp=ts), json_timestamp_units=units)[0].ts == ms


@pytest.mark.parametrize(("ts", "ms"), [
    ("2023-11-14T22:13:20Z", 1_700_000_000_000),
    ("2023-11-14T22:13:20.5+00:00", 1_700_000_000_500),
    ("2023-11-14T23:13:20+01:00", 1_700_000_000_000),
    ("2023-11-14T22:13:20", 1_700_000_000_000),  # no zone: Telegraf formats in UTC
])
def test_formatted_timestamps(ts: str, ms: int):
    assert dec(metric(timestamp=ts))[0].ts == ms


def test_float_timestamp_and_missing_timestamp():
    assert dec(metric(timestamp=1_700_000_000.25))[0].ts == 1_700_000_000_250
    doc = metric()
    del doc["timestamp"]
    assert dec(doc, kafka_ts_ms=42)[0].ts == 42
    assert reason(doc) == "no_ts"


@pytest.mark.parametrize("ts", ["yesterday", True, None, [1], 0, -5, 1e300])
def test_bad_timestamps(ts):
    doc = metric(timestamp=ts)
    assert reason(doc, kafka_ts_ms=None) in ("bad_ts", "no_ts")


def test_non_numeric_fields_are_skipped_and_counted():
    dropped: Counter[str] = Counter()
    fields = {"n": 1, "f": 1.5, "b": True, "s": "up", "z": None, "nested": {"a": 1}, "arr": [1, 2], "": 3}
    [s] = dec(metric(fields), dropped=dropped)
    assert s.metrics == {"cpu.n": 1.0, "cpu.f": 1.5}
    assert s.skipped_metrics == 6
    assert dropped == {"non_numeric": 6}


def test_big_integers_become_floats():
    assert dec(metric({"u": 18446744073709551615}))[0].metrics == {"cpu.u": 18446744073709551615.0}


def test_host_tag_default_host_and_name_rules():
    [s] = dec(metric(tags={"node": "n1", "host": "h"}), host_tag="node")
    assert (s.host, list(s.metrics)) == ("n1", ["cpu.usage_idle{host=h}"])
    assert reason(metric(tags={})) == "no_host"
    assert dec(metric(tags={}), default_host="d")[0].host == "d"
    doc = metric(name="a.b", tags={"host": "h", "x,y": "1=2"})
    assert list(dec(doc)[0].metrics) == [r"a_b.usage_idle{x\,y=1\=2}"]
    assert reason(metric(tags={"host": "h" * 256})) == "bad_host"


@pytest.mark.parametrize("bad", [
    {"fields": {"a": 1}, "name": "", "tags": {"host": "h"}, "timestamp": 1_700_000_000},
    {"fields": {"a": 1}, "name": 5, "tags": {"host": "h"}, "timestamp": 1_700_000_000},
    {"fields": {}, "name": "m", "tags": {"host": "h"}, "timestamp": 1_700_000_000},
    {"fields": [1], "name": "m", "tags": {"host": "h"}, "timestamp": 1_700_000_000},
    {"fields": {"a": 1}, "name": "m", "tags": {"host": 5}, "timestamp": 1_700_000_000},
    {"fields": {"a": 1}, "name": "m", "tags": ["host"], "timestamp": 1_700_000_000},
])
def test_bad_metrics(bad):
    assert reason(bad) == "bad_metric"


def test_a_bad_metric_in_a_batch_is_dropped_and_counted():
    dropped: Counter[str] = Counter()
    doc = {"metrics": [metric(), "junk", metric(name="")]}
    [s] = dec(doc, dropped=dropped)
    assert s.metrics == {"cpu.usage_idle": 92.5}
    assert dropped == {"bad_metric": 2}
    assert reason({"metrics": ["junk"]}) == "bad_metric"
    assert reason({"metrics": []}) == "empty"
    assert reason({"metrics": {"a": 1}}) == "bad_metric"


def test_json_that_is_no_telegraf_metric():
    assert reason({"hello": 1}) == "unknown_json"
    assert reason(b"[1, 2]") == "not_object"
    assert reason(b"{nope") == "not_json"
    assert reason(b'"text"', fmt="telegraf_json") == "not_object"


def test_caps():
    dropped: Counter[str] = Counter()
    doc = {"metrics": [metric({f"f{i}": i for i in range(4)}, tags={"host": "h", "i": str(j)}) for j in range(3)]}
    [s] = dec(doc, dropped=dropped, max_fields_per_message=6)
    assert len(s.metrics) == 6
    assert dropped == {"field_cap": 6}
    dropped.clear()
    [s] = dec(doc, dropped=dropped, max_lines_per_message=2)
    assert len(s.metrics) == 8
    assert dropped == {"line_cap": 1}


def test_control_characters_hidden_in_json_escapes_are_dropped():
    dropped: Counter[str] = Counter()
    doc = {"metrics": [metric(tags={"host": "h\u0000"}),
                       metric({"a\u001fb": 1, "ok": 2}, tags={"host": "h", "t": "\u007f"}),
                       metric({"ok": 3}, name="m", tags={"host": "h"})]}
    [s] = dec(doc, dropped=dropped)
    assert s.metrics == {"m.ok": 3.0}
    assert dropped == {"control_char": 3}
