"""Influx line protocol: grammar, escaping, value types, timestamps, bad lines, hosts (dash_app/formats/influx.py)."""

from __future__ import annotations

from collections import Counter

import pytest

from dash_app.formats import FormatError, FormatOptions, decode_record

TS = 1_700_000_000_000_000_000  # ns
MS = 1_700_000_000_000


def dec(value: bytes, kafka_ts_ms: int | None = None, **options) -> list:
    return decode_record(value, None, kafka_ts_ms, fmt="influx", options=FormatOptions(**options))


def metrics(value: bytes, **options) -> dict[str, float]:
    out: dict[str, float] = {}
    for s in dec(value, **options):
        out.update(s.metrics)
    return out


def reason(value: bytes, **options) -> str:
    with pytest.raises(FormatError) as info:
        dec(value, **options)
    return info.value.reason


def test_one_line_names_host_and_time():
    [s] = dec(b"cpu,cpu=cpu0,host=web-1 usage_idle=92.5,usage_user=3 1700000000123456789\n")
    assert (s.host, s.ts, s.seq) == ("web-1", 1_700_000_000_123, None)
    assert s.metrics == {"cpu.usage_idle{cpu=cpu0}": 92.5, "cpu.usage_user{cpu=cpu0}": 3.0}


def test_tags_are_sorted_and_the_host_tag_is_left_out_of_the_name():
    m = metrics(b"disk,path=/,host=h,device=sda1,fstype=ext4 used_percent=41.5 %d" % TS)
    assert m == {"disk.used_percent{device=sda1,fstype=ext4,path=/}": 41.5}


def test_no_tags_no_braces_and_dots_in_measurement_become_underscores():
    assert metrics(b"mem,host=h used_percent=15.9 %d" % TS) == {"mem.used_percent": 15.9}
    assert metrics(b"docker.container,host=h mem=1 %d" % TS) == {"docker_container.mem": 1.0}
    assert metrics(b"m,host=h a.b=1 %d" % TS) == {"m.a.b": 1.0}  # the family is still "m"


def test_host_tag_is_configurable_and_default_host_stands_in():
    assert dec(b"cpu,node=n1,host=h usage=1 %d" % TS, host_tag="node")[0].host == "n1"
    assert metrics(b"cpu,node=n1,host=h usage=1 %d" % TS, host_tag="node") == {"cpu.usage{host=h}": 1.0}
    assert reason(b"mem used=1 %d" % TS) == "no_host"
    assert dec(b"mem used=1 %d" % TS, default_host="box")[0].host == "box"


def test_several_lines_group_by_host_and_time():
    value = (b"cpu,host=a usage=1 %d\n" b"mem,host=a used=2 %d\n" b"cpu,host=b usage=3 %d\n" b"cpu,host=a usage=4 %d\n"
             % (TS, TS, TS, TS + 10**9))
    samples = dec(value)
    assert [(s.host, s.ts, s.metrics) for s in samples] == [
        ("a", MS, {"cpu.usage": 1.0, "mem.used": 2.0}),
        ("b", MS, {"cpu.usage": 3.0}),
        ("a", MS + 1000, {"cpu.usage": 4.0}),
    ]


@pytest.mark.parametrize(("token", "value"), [
    ("1", 1.0), ("-1.5", -1.5), ("1.", 1.0), (".5", 0.5), ("-.5", -0.5), ("1e3", 1000.0), ("1E-2", 0.01),
    ("1.5e+2", 150.0), ("007", 7.0), ("0i", 0.0), ("-0i", 0.0), ("42i", 42.0), ("-42i", -42.0),
    ("9223372036854775807i", 9223372036854775807.0), ("-9223372036854775808i", -9223372036854775808.0),
    ("0u", 0.0), ("18446744073709551615u", 18446744073709551615.0),
])
def test_numeric_field_values(token: str, value: float):
    assert metrics(b"m,host=h f=%s %d" % (token.encode(), TS)) == {"m.f": value}


@pytest.mark.parametrize("token", ["t", "T", "true", "True", "TRUE", "f", "F", "false", "False", "FALSE",
                                   '""', '"text"', '"with, comma and = and space"'])
def test_booleans_and_strings_are_skipped_and_counted(token: str):
    dropped: Counter[str] = Counter()
    [s] = decode_record(b"m,host=h f=%s,g=1 %d" % (token.encode(), TS), None, None, fmt="influx",
                        options=FormatOptions(), dropped=dropped)
    assert s.metrics == {"m.g": 1.0}
    assert s.skipped_metrics == 1
    assert dropped == {"non_numeric": 1}


@pytest.mark.parametrize("token", ["01i", "1.5i", "-1u", "1x", "+1", "1_000", "nan", "inf", "0x10", "tru", "--1",
                                   "1e", "e5", ".", "-", "١", "1 2", "'a'"])
def test_invalid_values_make_the_line_bad(token: str):
    assert reason(b"m,host=h f=%s %d" % (token.encode(), TS)) == "bad_line"


@pytest.mark.parametrize("token", ["9223372036854775808i", "-9223372036854775809i", "18446744073709551616u", "1e400",
                                   "-1e309"])
def test_out_of_range_numbers_make_the_line_bad(token: str):
    assert reason(b"m,host=h f=%s %d" % (token.encode(), TS)) == "bad_value"


def test_field_type_change_and_duplicates_last_wins():
    assert metrics(b'm,host=h f=1,f=2 %d' % TS) == {"m.f": 2.0}
    assert metrics(b'm,host=h f=1,f="now a string",g=3 %d' % TS) == {"m.g": 3.0}


# -- escaping (Telegraf's parser: machine.go.rl, escape.go) -------------------------------------------
@pytest.mark.parametrize(("line", "name"), [
    (rb"my\ cpu,host=h f=1", "my cpu.f"),
    (rb"my\,cpu,host=h f=1", "my,cpu.f"),
    (rb"a\=b,host=h f=1", r"a\=b.f"),  # "=" needs no escape in a measurement: the pair stays as written
    (rb"a=b,host=h f=1", "a=b.f"),
    (rb"a\\b,host=h f=1", r"a\\b.f"),  # other backslash pairs are kept
    (rb"a\b,host=h f=1", r"a\b.f"),
    (rb"m,host=h,t\ k=v\ 1 f=1", "m.f{t k=v 1}"),
    (rb"m,host=h,t\,k=v\,1 f=1", r"m.f{t\,k=v\,1}"),  # our own name escaping of ',' inside braces
    (rb"m,host=h,t\=k=v\=1 f=1", r"m.f{t\=k=v\=1}"),
    (rb"m,host=h,t=a\"b f=1", r'm.f{t=a"b}'),
    (rb"m,host=h,t=a\b f=1", r"m.f{t=a\\b}"),  # a kept backslash is escaped inside braces
    (rb"m,host=h,t={x} f=1", r"m.f{t=\{x\}}"),
    (rb"m,host=h f\ 1=1", "m.f 1"),
    (rb"m,host=h f\,1=1", "m.f,1"),
    (rb"m,host=h f\=1=1", "m.f=1"),
    ("m,host=h,ü=ö 🚀=1".encode(), "m.🚀{ü=ö}"),
])
def test_escaping(line: bytes, name: str):
    assert metrics(line + b" %d" % TS) == {name: 1.0}


def test_escaped_host_tag_value():
    assert dec(rb"m,host=my\ host\,1 f=1 %d" % TS)[0].host == "my host,1"


def test_tag_backslash_before_backslash_escapes_the_next_character():
    # Telegraf's tagchar: '\\' '\\' consumes one backslash and re-reads the second, so "\\," is
    # "\" then an escaped comma (value: "a\,b", escaped again in our name as "a\\\,b").
    assert metrics(rb"m,host=h,t=a\\,b f=1 %d" % TS) == {r"m.f{t=a\\\,b}": 1.0}


def test_string_fields_with_escapes_newlines_and_separators():
    value = b'm,host=h s="a \\" , = \\\\ b\nsecond line",f=1 %d\nm,host=h g=2 %d' % (TS, TS)
    [s] = dec(value)
    assert s.metrics == {"m.f": 1.0, "m.g": 2.0}
    assert s.skipped_metrics == 1


def test_comments_blank_lines_crlf_and_whitespace():
    value = b"# a comment\n\n   \r\n  # indented comment\nm,host=h f=1 %d\r\n\tm,host=h g=2\t%d  \n" % (TS, TS)
    assert metrics(value) == {"m.f": 1.0, "m.g": 2.0}
    assert metrics(b"m,host=h  f=1   %d" % TS) == {"m.f": 1.0}


@pytest.mark.parametrize("line", [
    b"m,host=h", b"m,host=h ", b"m,host=h f", b"m,host=h f=", b"m,host=h =1", b"m,host=h f=1,", b"m,host=h f=1,,g=2",
    b",host=h f=1", b"m,host f=1", b"m,host= f=1", b"m,=h f=1", b"m,host=h,a=b=c f=1", b"m,host=h f=1 12x",
    b"m,host=h f=1 1 2", b'm,host=h f="unterminated', b"m,host=h f=1\rg=2", b"m,host=h f==1",
    b"m,host=h f=1 12345678901234567890",
])
def test_malformed_lines(line: bytes):
    r = reason(line)
    assert r in ("bad_line", "bad_ts"), r


def test_a_bad_line_is_dropped_counted_and_parsing_goes_on():
    dropped: Counter[str] = Counter()
    value = b"m,host=h f=1 %d\nthis is not it\nm,host=h g=oops %d\nm,host=h g=2 %d\n" % (TS, TS, TS)
    [s] = decode_record(value, None, None, options=FormatOptions(), dropped=dropped)
    assert s.metrics == {"m.f": 1.0, "m.g": 2.0}
    assert dropped == {"bad_line": 2}


def test_a_bad_quoted_line_does_not_swallow_the_next_lines():
    value = b'm,host=h s="open\nm,host=h f=1 %d\n' % TS
    dropped: Counter[str] = Counter()
    [s] = decode_record(value, None, None, fmt="influx", options=FormatOptions(), dropped=dropped)
    assert s.metrics == {"m.f": 1.0}  # the raw newline ends the bad line, as in Telegraf's discard_line
    assert dropped == {"bad_line": 1}


def test_all_lines_bad_raises_with_the_first_reason():
    with pytest.raises(FormatError) as info:
        dec(b"junk\nmore junk\n")
    assert info.value.reason == "bad_line"
    assert "junk" in str(info.value)


def test_only_comments_is_empty():
    assert reason(b"# nothing\n\n") == "empty"


def test_not_utf8():
    assert reason(b"m,host=\xff f=1 %d" % TS) == "not_utf8"


@pytest.mark.parametrize(("precision", "token", "ms"), [
    ("ns", "1700000000123456789", 1_700_000_000_123),
    ("us", "1700000000123456", 1_700_000_000_123),
    ("ms", "1700000000123", 1_700_000_000_123),
    ("s", "1700000000", 1_700_000_000_000),
    ("auto", "1700000000", 1_700_000_000_000),
    ("auto", "1700000000123", 1_700_000_000_123),
    ("auto", "1700000000123456", 1_700_000_000_123),
    ("auto", "1700000000123456789", 1_700_000_000_123),
])
def test_timestamp_precision(precision: str, token: str, ms: int):
    assert dec(b"m,host=h f=1 " + token.encode(), influx_precision=precision)[0].ts == ms


def test_missing_timestamp_uses_the_kafka_timestamp():
    assert dec(b"m,host=h f=1", kafka_ts_ms=1234)[0].ts == 1234
    assert reason(b"m,host=h f=1") == "no_ts"


@pytest.mark.parametrize("token", ["0", "-1700000000000000000", "999999"])
def test_times_not_after_1970_are_bad(token: str):
    assert reason(b"m,host=h f=1 " + token.encode()) == "bad_ts"


def test_host_longer_than_the_cap_is_bad():
    assert reason(b"m,host=%s f=1 %d" % (b"h" * 256, TS)) == "bad_host"
    assert dec(b"m,host=%s f=1 %d" % (b"h" * 255, TS))[0].host == "h" * 255


@pytest.mark.parametrize("bad", [b"\x00", b"\x1f", b"\x7f", "\u0085".encode()])
def test_control_characters_drop_the_line(bad: bytes):
    dropped: Counter[str] = Counter()
    value = b"m,host=h\x01x f=1 %d\nm,host=h,t=a%sb f=1 %d\nm,host=h ok=1 %d\n" % (TS, bad, TS, TS)
    [s] = decode_record(value, None, None, fmt="influx", options=FormatOptions(), dropped=dropped)
    assert s.metrics == {"m.ok": 1.0}
    assert dropped == {"control_char": 2}


def test_control_characters_in_the_general_path_too():
    dropped: Counter[str] = Counter()
    value = b'm,host=h\x01 s="x",f=1 %d\nm,host=h s="y",ok=1 %d\n' % (TS, TS)
    [s] = decode_record(value, None, None, fmt="influx", options=FormatOptions(), dropped=dropped)
    assert s.metrics == {"m.ok": 1.0}
    assert dropped["control_char"] == 1


def test_fields_beyond_the_message_cap_are_dropped_and_counted():
    dropped: Counter[str] = Counter()
    value = b"".join(b"m,host=h,i=%d a=1,b=2,c=3 %d\n" % (i, TS) for i in range(4))
    [s] = decode_record(value, None, None, options=FormatOptions(max_fields_per_message=7), dropped=dropped)
    assert len(s.metrics) == 7
    assert "m.a{i=2}" in s.metrics and "m.b{i=2}" not in s.metrics
    assert dropped == {"field_cap": 5}


def test_lines_beyond_the_line_cap_are_not_read_and_counted():
    dropped: Counter[str] = Counter()
    value = b"".join(b"m,host=h,i=%d a=1 %d\n" % (i, TS) for i in range(10))
    [s] = decode_record(value, None, None, options=FormatOptions(max_lines_per_message=4), dropped=dropped)
    assert len(s.metrics) == 4
    assert dropped == {"line_cap": 6}
    # the same through the general scanner (a quote anywhere in the message)
    dropped.clear()
    [s] = decode_record(value + b'm,host=h s="x" %d\n' % TS, None, None,
                        options=FormatOptions(max_lines_per_message=4), dropped=dropped)
    assert len(s.metrics) == 4
    assert dropped == {"line_cap": 7}
    assert reason(b"x\n" * 5 + value, max_lines_per_message=4) == "bad_line"


def test_names_longer_than_the_cap_are_dropped_and_counted():
    dropped: Counter[str] = Counter()
    value = b"m,host=h,t=%s f=1,g=2 %d\nm,host=h ok=1 %d" % (b"x" * 200, TS, TS)
    [s] = decode_record(value, None, None, options=FormatOptions(), dropped=dropped)
    assert s.metrics == {"m.ok": 1.0}
    assert s.skipped_metrics == 2
    assert dropped == {"name_too_long": 2}


def test_crlf_blank_lines_are_blank_in_both_paths():
    plain = b"m,host=h f=1 %d\r\n\r\n\r\nm,host=h g=2 %d\r\n" % (TS, TS)
    quoted = plain + b'm,host=h s="forces the general scanner" %d\r\n' % TS
    for value in (plain, quoted):
        dropped: Counter[str] = Counter()
        [s] = decode_record(value, None, None, fmt="influx", dropped=dropped)
        assert s.metrics == {"m.f": 1.0, "m.g": 2.0}
        assert "bad_line" not in dropped
