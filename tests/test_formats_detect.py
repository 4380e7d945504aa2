"""Detection per record, forced formats, v1 through the same door, whole-record errors (dash_app/formats)."""

from __future__ import annotations

import orjson
import pytest

from dash_app.formats import FORMATS, Decoder, FormatError, FormatOptions, decode_record
from dash_app.messages import decode as v1_decode

V1 = orjson.dumps({"v": 1, "host": "web-1", "ts": 1_733_300_000_123, "seq": 42, "metrics": {"cpu.percent": 12.5}})
LP = b"cpu,host=web-2 usage_idle=90 1733300000123000000\n"
TJ = orjson.dumps({"fields": {"usage_idle": 90}, "name": "cpu", "tags": {"host": "web-3"}, "timestamp": 1_733_300_000})
SEED = b"12.5"


@pytest.mark.parametrize(("value", "key", "fmt", "host"), [
    (V1, b"web-1", "v1", "web-1"),
    (b'  {"ts": 1733300000123, "host": "web-1", "v": 1, "metrics": {"cpu.percent": 1}}', None, "v1", "web-1"),
    (LP, None, "influx", "web-2"),
    (TJ, None, "telegraf_json", "web-3"),
    (b'{"metrics": []}'[:0] + orjson.dumps({"metrics": [orjson.loads(TJ)]}), None, "telegraf_json", "web-3"),
    (SEED, b"CPU utilization (%)", "seed", "seed"),
])
def test_detected_per_record(value: bytes, key, fmt: str, host: str):
    decoder = Decoder()
    [s] = decoder.decode(value, key, 1_733_300_000_999)
    assert s.host == host
    assert decoder.formats == {fmt: 1}
    [forced] = decode_record(value, key, 1_733_300_000_999, fmt=fmt)
    assert forced == s


def test_v1_is_decoded_by_the_existing_decoder():
    [s] = decode_record(V1, None, None)
    assert s == v1_decode(V1)


@pytest.mark.parametrize(("value", "reason"), [
    (b'{"v":99}', "unsupported_version"),
    (b'{"v":1,"host":"x","ts":"soon","metrics":{}}', "bad_ts"),
    (b"[1,2,3]", "not_object"),
    (b"{not json", "not_json"),
])
def test_v1_reasons_are_kept(value: bytes, reason: str):
    with pytest.raises(FormatError) as info:
        decode_record(value, None, None)
    assert info.value.reason == reason


@pytest.mark.parametrize(("value", "fmt", "reason"), [
    (None, "auto", "empty"),
    (b"", "auto", "empty"),
    (b" \n\t", "auto", "empty"),
    (None, "influx", "empty"),
    (LP, "v1", "not_json"),
    (V1, "influx", "bad_line"),
    (LP, "telegraf_json", "not_json"),
    (LP, "seed", "seed_bad_value"),
    (V1, "telegraf_json", "bad_metric"),  # its "metrics" is an object, not a batch list
])
def test_whole_record_errors(value, fmt: str, reason: str):
    with pytest.raises(FormatError) as info:
        decode_record(value, b"k", 1, fmt=fmt)
    assert info.value.reason == reason


def test_too_large_records_are_refused_before_parsing():
    with pytest.raises(FormatError) as info:
        decode_record(LP * 100, None, None, options=FormatOptions(max_message_bytes=len(LP) * 10))
    assert info.value.reason == "too_large"


def test_unknown_format_name_is_a_programming_error():
    assert FORMATS == ("auto", "v1", "influx", "telegraf_json", "seed")
    with pytest.raises(ValueError, match="format 'csv'"):
        decode_record(LP, None, None, fmt="csv")  # type: ignore[arg-type]


def test_four_formats_interleaved_through_one_decoder():
    decoder = Decoder()
    got = []
    for value, key in ((V1, b"web-1"), (LP, None), (TJ, None), (SEED, b"CPU utilization (%)")):
        got += decoder.decode(value, key, 1_733_300_000_500)
    assert {(s.host, m, v) for s in got for m, v in s.metrics.items()} == {
        ("web-1", "cpu.percent", 12.5), ("web-2", "cpu.usage_idle", 90.0), ("web-3", "cpu.usage_idle", 90.0),
        ("seed", "CPU utilization (%)", 12.5),
    }
    assert decoder.formats == {"v1": 1, "influx": 1, "telegraf_json": 1, "seed": 1}


def test_text_values_are_accepted_like_bytes():
    assert decode_record(LP.decode(), None, None) == decode_record(LP, None, None)
    with pytest.raises(FormatError) as info:
        decode_record("\udcff", None, None)  # a lone surrogate: not UTF-8 once encoded
    assert info.value.reason == "not_utf8"
