"""The seed tutorial's Elixir format: key = label, value = number as text (dash_app/formats/seed.py)."""

from __future__ import annotations

import pytest

from dash_app.formats import FormatError, FormatOptions, decode_record

KEY = b"CPU utilization (%)"


def dec(value: bytes, key: bytes | None = KEY, ts: int | None = 1_714_600_000_123, fmt="auto", **options) -> list:
    return decode_record(value, key, ts, fmt=fmt, options=FormatOptions(**options))


def reason(value: bytes, **kw) -> str:
    with pytest.raises(FormatError) as info:
        dec(value, **kw)
    return info.value.reason


@pytest.mark.parametrize(("text", "number"), [
    (b"12.5", 12.5), (b"0.0", 0.0), (b"100", 100.0), (b"-3.25", -3.25), (b"1.0e-5", 1e-5), (b"2.5E3", 2500.0),
    (b"5.946372985839844", 5.946372985839844), (b" 7.5\n", 7.5), (b".5", 0.5),
])
def test_elixir_number_text(text: bytes, number: float):
    [s] = dec(text)
    assert (s.host, s.ts, s.metrics, s.seq) == ("seed", 1_714_600_000_123, {"CPU utilization (%)": number}, None)


def test_host_comes_from_configuration_and_label_is_kept_verbatim():
    [s] = dec(b"42.0", key=b"Memory used by processes (MB)", seed_host="elixir-1")
    assert (s.host, s.metrics) == ("elixir-1", {"Memory used by processes (MB)": 42.0})


def test_needs_a_key_and_a_kafka_timestamp():
    assert reason(b"12.5", key=None) == "seed_no_key"
    assert reason(b"12.5", key=b"") == "seed_no_key"
    assert reason(b"12.5", ts=None) == "seed_no_ts"
    assert reason(b"12.5", ts=-1) == "seed_no_ts"


@pytest.mark.parametrize("key", [b"\xff", b"a\x00b", b" ", b"x" * 201])
def test_bad_keys(key: bytes):
    assert reason(b"12.5", key=key) == "seed_bad_key"


@pytest.mark.parametrize("value", [b"nan", b"inf", b"1e999", b"12,5", b"twelve", b"1_0", b"+1", b"1" * 65])
def test_bad_values_when_forced(value: bytes):
    assert reason(value, fmt="seed") == "seed_bad_value"


def test_a_number_without_key_is_not_mistaken_for_another_format():
    assert reason(b"12.5", key=None) == "seed_no_key"
