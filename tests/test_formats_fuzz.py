"""Fuzzing the decoders: random and mutated records never raise anything but FormatError, never hang
(a per-example deadline), and what comes out respects the caps. Plus two exact properties: what
Telegraf's serializer writes comes back unchanged, and the fast and general line protocol paths agree.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dash_app.formats import FORMATS, Decoder, FormatError, FormatOptions, decode_record
from dash_app.messages import Sample

FUZZ = settings(max_examples=300, deadline=timedelta(seconds=2), database=None,
                suppress_health_check=[HealthCheck.too_slow])
SMALL_CAPS = FormatOptions(max_fields_per_message=40, max_lines_per_message=30, max_name_len=60, max_host_len=30,
                           max_series_per_host=20, max_series_total=50, default_host="fallback")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
GOLDEN = sorted(p.read_bytes() for p in (Path(__file__).parent / "data" / "formats").glob("*/*")
                if p.suffix in (".lp", ".json", ".value") and p.name != "case.json")


def check(samples: object, options: FormatOptions) -> None:
    assert isinstance(samples, list)
    fields = 0
    for s in samples:
        assert isinstance(s, Sample)
        assert isinstance(s.host, str) and 0 < len(s.host) <= options.max_host_len
        assert not CONTROL.search(s.host)
        assert isinstance(s.ts, int) and s.ts > 0
        assert isinstance(s.skipped_metrics, int) and s.skipped_metrics >= 0
        for name, value in s.metrics.items():
            assert isinstance(name, str) and 0 < len(name) <= options.max_name_len
            assert not CONTROL.search(name)
            assert type(value) is float and math.isfinite(value)
        fields += len(s.metrics)
    assert fields <= max(options.max_fields_per_message, 2000)  # v1 has its own cap of 2000


def decode_all_ways(value: bytes, key: bytes | None, ts: int | None) -> None:
    for fmt in FORMATS:
        for options in (SMALL_CAPS, FormatOptions()):
            try:
                check(decode_record(value, key, ts, fmt=fmt, options=options), options)
            except FormatError as exc:
                assert isinstance(exc.reason, str) and exc.reason


@FUZZ
@given(st.binary(max_size=600), st.one_of(st.none(), st.binary(max_size=40)), st.one_of(st.none(), st.integers()))
def test_random_bytes(value: bytes, key: bytes | None, ts: int | None):
    decode_all_ways(value, key, ts)


_MUTATION = st.tuples(st.sampled_from(["flip", "insert", "delete", "dup"]), st.integers(0, 10_000),
                      st.binary(min_size=1, max_size=8))


@FUZZ
@given(st.sampled_from(GOLDEN), st.lists(_MUTATION, max_size=8))
def test_mutated_golden_records(value: bytes, mutations: list):
    data = bytearray(value)
    for op, pos, chunk in mutations:
        pos %= len(data) + 1
        if op == "flip" and pos < len(data):
            data[pos] ^= chunk[0] or 1
        elif op == "insert":
            data[pos:pos] = chunk
        elif op == "delete":
            del data[pos:pos + len(chunk)]
        else:
            data[pos:pos] = data[pos:pos + 16]
    decode_all_ways(bytes(data), b"CPU utilization (%)", 1_700_000_000_000)


_LP_TOKENS = ["cpu", "m", ",", "=", " ", "  ", "\t", "\\", '"', "\n", "\r\n", "#", "host", "h", "t", "f", "1", "1i",
              "-", "1u", ".", "e", "9" * 20, "true", "x=1", ",host=h", ' f="a b"', " 1700000000000000000", "ü", "\x00"]


@FUZZ
@given(st.lists(st.sampled_from(_LP_TOKENS), max_size=60))
def test_line_protocol_token_soup(tokens: list[str]):
    decode_all_ways("".join(tokens).encode(), None, 1_700_000_000_000)


_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1),
                          st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                     max_leaves=20)
_METRIC = st.fixed_dictionaries({
    "name": st.one_of(st.text(max_size=12), _JSON_SCALARS),
    "fields": st.one_of(st.dictionaries(st.text(max_size=12), _JSON_SCALARS, max_size=8), _JSON),
    "tags": st.one_of(st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4), _JSON),
    "timestamp": st.one_of(st.integers(-(2**63), 2**64 - 1), st.floats(allow_nan=False, allow_infinity=False),
                           st.text(max_size=30), st.none()),
})


@FUZZ
@given(st.one_of(_METRIC, st.fixed_dictionaries({"metrics": st.lists(_METRIC, max_size=6)}), _JSON,
                 st.fixed_dictionaries({"v": st.just(1), "host": _JSON_SCALARS, "ts": _JSON_SCALARS,
                                        "metrics": st.dictionaries(st.text(max_size=8), _JSON_SCALARS)})))
def test_json_shapes(doc: object):
    decode_all_ways(orjson.dumps(doc), None, 1_700_000_000_000)


@FUZZ
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=20))
def test_a_stateful_decoder_stays_within_its_caps(values: list[bytes]):
    decoder = Decoder(SMALL_CAPS)
    for value in values:
        with contextlib.suppress(FormatError):
            check(decoder.decode(value, b"k", 1_700_000_000_000), SMALL_CAPS)
    assert len(decoder.limiter) <= SMALL_CAPS.max_series_total
    assert len(decoder.rates) <= SMALL_CAPS.max_series_total


# -- what Telegraf's influx serializer writes comes back exactly ------------------------------------
# Escaping as in plugins/serializers/influx/escape.go; the characters it writes as "\t"-style pairs
# (tab, newline, form feed, carriage return) are left out: the decoder drops control characters.
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\u2028\u2029"),
                min_size=1, max_size=10)


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + c if c in specials else c for c in text)


def _brace(text: str) -> str:
    return re.sub(r"[\\,={}]", lambda m: "\\" + m.group(), text)


def _measurement_ok(name: str) -> bool:  # Telegraf's own round trip breaks on these
    return not name.startswith("#") and not re.search(r"\\([ ,]|$)", name)


def _key_ok(name: str) -> bool:
    return not re.search(r'\\([ ,="]|$)', name)


def _tag_ok(text: str) -> bool:
    return not text.endswith("\\") and '\\"' not in text


@FUZZ
@given(_TEXT.filter(_measurement_ok),
       st.dictionaries(_TEXT.filter(_tag_ok).filter(lambda k: k != "host"), _TEXT.filter(_tag_ok), max_size=4),
       _TEXT.filter(_tag_ok),
       st.dictionaries(_TEXT.filter(_key_ok), st.one_of(st.integers(-(2**63), 2**63 - 1),
                                                        st.floats(allow_nan=False, allow_infinity=False)),
                       min_size=1, max_size=6),
       st.integers(1, 2**63 - 1))
def test_telegraf_serializer_output_round_trips(measurement, tags, host, fields, ts_ns):
    series = _escape(measurement, " ,") + "".join(
        f",{_escape(k, ' ,=')}={_escape(v, ' ,=')}" for k, v in sorted({**tags, "host": host}.items()))
    pairs = ",".join(f"{_escape(k, ' ,=')}={v}i" if isinstance(v, int) else f"{_escape(k, ' ,=')}={v!r}"
                     for k, v in fields.items())
    value = f"{series} {pairs} {ts_ns}\n".encode()
    options = FormatOptions(max_name_len=10_000)
    if ts_ns // 1_000_000 <= 0:
        return
    [s] = decode_record(value, None, None, fmt="influx", options=options)
    suffix = "{" + ",".join(f"{_brace(k)}={_brace(v)}" for k, v in sorted(tags.items())) + "}" if tags else ""
    prefix = measurement.replace(".", "_")
    assert (s.host, s.ts) == (host, ts_ns // 1_000_000)
    assert s.metrics == {f"{prefix}.{k}{suffix}": float(v) for k, v in fields.items()}


# -- the split-based fast path and the regex scanner agree -----------------------------------------
_PLAIN = st.text(st.sampled_from("ab=, \t#.\r-19eiutfT"), max_size=12)


@FUZZ
@given(st.lists(st.one_of(_PLAIN.map(lambda t: f"m,host=h {t}"), _PLAIN.map(lambda t: f"{t} f=1"),
                          _PLAIN.map(lambda t: f"m,host=h,{t} f=1 1700000000000000000"),
                          _PLAIN.map(lambda t: f"m,host=h f=1 {t}"), _PLAIN), min_size=1, max_size=8))
def test_fast_and_general_paths_agree(lines: list[str]):
    text = "ok,host=ok f=1 1700000000000000000\n" + "\n".join(lines)
    forced = text + '\nok,host=ok s="a quote forces the general scanner" 1700000000000000000'

    def run(value: str) -> tuple[list[Sample], Counter[str]]:
        dropped: Counter[str] = Counter()
        samples = decode_record(value.encode(), None, 1_700_000_000_000, fmt="influx", dropped=dropped)
        return [s for s in samples if s.host != "ok"], dropped

    fast, fast_dropped = run(text)
    general, general_dropped = run(forced)
    general_dropped["non_numeric"] -= 1
    assert fast == general
    assert +fast_dropped == +general_dropped
