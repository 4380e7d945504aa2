"""FormatOptions validation and Telegraf's json_timestamp_units parsing (dash_app/formats/options.py)."""

from __future__ import annotations

import pytest

from dash_app.formats import FormatOptions, parse_timestamp_units


@pytest.mark.parametrize(("text", "ns"), [
    ("1s", 10**9), ("1ms", 10**6), ("10ms", 10**7), ("15ms", 10**7), ("1us", 10**3), ("1µs", 10**3), ("1ns", 1),
    ("100ns", 100), ("1m", 10**10), ("0s", 10**9), ("auto", 0), (" 1ms ", 10**6), ("1s500ms", 10**9),
])
def test_timestamp_units_like_telegraf(text: str, ns: int):
    assert parse_timestamp_units(text) == ns


@pytest.mark.parametrize("text", ["", "ms", "1", "1 s", "-1s", "1d", "soon"])
def test_bad_timestamp_units(text: str):
    with pytest.raises(ValueError, match="json_timestamp_units"):
        parse_timestamp_units(text)


def test_defaults_follow_telegraf():
    o = FormatOptions()
    assert (o.host_tag, o.influx_precision, o.json_timestamp_units) == ("host", "ns", "1s")
    assert (o.influx_unit_ns, o.json_unit_ns) == (1, 10**9)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"influx_precision": "h"}, "influx_precision"),
    ({"json_timestamp_units": "x"}, "json_timestamp_units"),
    ({"host_tag": ""}, "host_tag"),
    ({"seed_host": ""}, "seed_host"),
    ({"default_host": "h" * 256}, "default_host"),
    ({"max_fields_per_message": 0}, "max_fields_per_message"),
    ({"max_series_total": 0}, "max_series_total"),
    ({"series_idle_s": 0}, "series_idle_s"),
])
def test_bad_options_name_the_setting(kwargs: dict, message: str):
    with pytest.raises(ValueError, match=message):
        FormatOptions(**kwargs)
