"""Counters → per-second rates (dash_app/formats/rates.py) and their use by the Decoder."""

from __future__ import annotations

import pytest

from dash_app.formats import DEFAULT_COUNTER_FIELDS, Decoder, FormatOptions, RateConverter, parse_counter_fields


def test_first_value_emits_nothing_then_per_second_rate():
    r = RateConverter()
    assert r.rate("h", "s", 1_000, 100.0) is None
    assert r.rate("h", "s", 3_000, 300.0) == 100.0
    assert r.rate("h", "s", 3_500, 350.0) == 100.0
    assert r.first == 1


def test_reset_emits_nothing_and_becomes_the_new_base():
    r = RateConverter()
    r.rate("h", "s", 1_000, 1_000.0)
    assert r.rate("h", "s", 2_000, 10.0) is None
    assert r.rate("h", "s", 3_000, 30.0) == 20.0
    assert r.resets == 1


def test_duplicates_and_late_values_emit_nothing_and_keep_the_state():
    r = RateConverter()
    r.rate("h", "s", 2_000, 200.0)
    assert r.rate("h", "s", 2_000, 200.0) is None
    assert r.rate("h", "s", 1_000, 50.0) is None
    assert r.rate("h", "s", 3_000, 300.0) == 100.0
    assert r.stale == 2


def test_series_are_independent_per_host_and_name():
    r = RateConverter()
    for host in ("a", "b"):
        for name in ("x", "y"):
            r.rate(host, name, 0 + 1, 0.0)
    assert r.rate("a", "x", 1_001, 10.0) == 10.0
    assert r.rate("b", "x", 1_001, 20.0) == 20.0
    assert len(r) == 4
    r.forget("a", "x")
    assert r.rate("a", "x", 2_001, 30.0) is None


def test_state_is_bounded():
    r = RateConverter(max_entries=2)
    r.rate("h", "a", 1, 1.0)
    r.rate("h", "b", 1, 1.0)
    assert r.rate("h", "c", 1, 1.0) is None
    assert r.rate("h", "c", 2, 2.0) is None
    assert (len(r), r.refused) == (2, 2)


def test_defaults_cover_telegraf_net_and_diskio_counters_not_gauges():
    for f in ("bytes_sent", "bytes_recv", "packets_sent", "packets_recv", "err_in", "err_out", "drop_in", "drop_out"):
        assert f"net.{f}" in DEFAULT_COUNTER_FIELDS
    for f in ("reads", "writes", "read_bytes", "write_bytes", "read_time", "write_time", "io_time", "weighted_io_time"):
        assert f"diskio.{f}" in DEFAULT_COUNTER_FIELDS
    assert "diskio.iops_in_progress" not in DEFAULT_COUNTER_FIELDS
    assert "net.tcp_currestab" not in DEFAULT_COUNTER_FIELDS
    assert RateConverter().is_counter("net", "bytes_recv")


def test_parse_counter_fields():
    assert parse_counter_fields("net.bytes_recv, diskio.reads") == {"net.bytes_recv", "diskio.reads"}
    assert parse_counter_fields("default,nstat.TcpInSegs") == DEFAULT_COUNTER_FIELDS | {"nstat.TcpInSegs"}
    assert parse_counter_fields("") == frozenset()
    with pytest.raises(ValueError, match="bytes_recv"):
        parse_counter_fields("bytes_recv")


LINE = b"net,host=h,interface=eth0 bytes_recv=%di,packets_recv=%di,speed=1000i %d\n"


def test_decoder_turns_configured_counters_into_rates_and_leaves_gauges():
    d = Decoder()
    [s] = d.decode(LINE % (1_000, 10, 1_700_000_000 * 10**9))
    assert s.metrics == {"net.speed{interface=eth0}": 1000.0}  # counters: first value, nothing yet
    [s] = d.decode(LINE % (3_000, 30, 1_700_000_002 * 10**9))
    assert s.metrics == {"net.bytes_recv_per_s{interface=eth0}": 1000.0,
                         "net.packets_recv_per_s{interface=eth0}": 10.0, "net.speed{interface=eth0}": 1000.0}


def test_counter_list_is_configurable():
    d = Decoder(FormatOptions(counter_fields=frozenset({"net.speed"})))
    d.decode(LINE % (1_000, 10, 1_700_000_000 * 10**9))
    [s] = d.decode(LINE % (3_000, 30, 1_700_000_002 * 10**9))
    assert s.metrics == {"net.bytes_recv{interface=eth0}": 3000.0, "net.packets_recv{interface=eth0}": 30.0,
                         "net.speed_per_s{interface=eth0}": 0.0}


def test_rates_from_telegraf_json_too():
    d = Decoder()
    doc = b'{"fields":{"read_bytes":%d},"name":"diskio","tags":{"host":"h","name":"sda"},"timestamp":%d}'
    assert d.decode(doc % (0, 1_700_000_000)) == []
    [s] = d.decode(doc % (4096, 1_700_000_004))
    assert s.metrics == {"diskio.read_bytes_per_s{name=sda}": 1024.0}
