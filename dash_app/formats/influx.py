"""Influx line protocol, as Telegraf writes and parses it (docs/formats.md, "Influx line protocol").

Grammar and escaping follow Telegraf's own parser (plugins/parsers/influx/machine.go.rl and
escape.go, Telegraf 1.x), which is InfluxDB 1.x/2.x line protocol and round-trips what Telegraf's
``influx`` serializer writes:

- measurement: ``\\,`` and ``\\ `` are escapes; any other backslash pair is kept as it is;
- tag keys, tag values, field keys: ``\\,`` ``\\=`` ``\\ `` (and ``\\"``) are escapes, other pairs kept;
- string field values: ``"..."`` with ``\\"`` and ``\\\\``; they may span lines;
- fields: float (``1``, ``-1.5``, ``1e9``), integer ``1i``, unsigned ``1u``, boolean
  (``t T true True TRUE f F false False FALSE``), string. Only numbers are kept; booleans and strings
  are counted as skipped;
- timestamp: optional, up to 19 digits with an optional ``-``, in ``influx_precision`` units;
- blank lines and ``#`` comment lines are skipped. A bad line is dropped (counted) and parsing goes
  on at the next line, as Telegraf does.

Two paths give the same result: a split-based fast path for messages with no backslash and no
double quote (what Telegraf writes for system inputs), and a regex scanner for everything else.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import islice

from .errors import FormatError
from .options import FormatOptions
from .points import Point, measurement_name, ms_from, tag_suffix

_WS = " \t\v\f"
_INT64 = 1 << 63
_UINT64 = 1 << 64
_CACHE_MAX = 4096

# Fast path: one line, no backslash and no double quote anywhere in the message.
_FAST = re.compile(
    r"([^ \t\v\f\r\n,#][^ \t\v\f\r\n,]*(?:,[^ \t\v\f\r\n,=]+=[^ \t\v\f\r\n,=]+)*)"  # series
    r"[ \t\v\f]+([^ \t\v\f\r\n]+)"  # fields
    r"(?:[ \t\v\f]+(-?[0-9]+))?[ \t\v\f]*\r?\Z"  # timestamp
)
# Tokens of the general scanner (Telegraf's machine.go.rl character classes), written as "unrolled
# loops" (plain-run, then escape + plain-run, ...) so that a 1 MiB token costs one linear scan.


def _token(plain: str, escape: str) -> str:
    """One or more of ``plain`` characters or ``escape`` sequences."""
    return f"(?:{plain}|{escape}){plain}*(?:(?:{escape}){plain}*)*"


_MEAS = _token(r"[^\t\n\f\r\v ,\\]", r"\\[^\t\n\f\r]")
_TAGTOK = _token(r"[^\t\n\f\r\v ,=\\]", r"\\[^\t\n\f\r\\]|\\(?=\\)")
_FIELDKEY = _token(r"[^\t\n\f\r\v ,=\\]", r"\\[^\t\n\f\r]")
_SERIES = re.compile(_MEAS + r"(?:," + _TAGTOK + "=" + _TAGTOK + ")*")
_MEAS_RE = re.compile(_MEAS)
_TAG_RE = re.compile(r",(" + _TAGTOK + ")=(" + _TAGTOK + ")")
_FIELD = re.compile(
    "(" + _FIELDKEY + ")="  # key
    r"(?:(\"[^\"\\]*(?:\\.[^\"\\]*)*\")|([^\t\n\f\r\v ,\"][^\t\n\f\r\v ,]*))",  # "string" | other value
    re.DOTALL,
)
_WS_RE = re.compile(r"[ \t\v\f]+")
_TAIL = re.compile(r"[ \t\v\f]+(-?[0-9]+)")
_END = re.compile(r"[ \t\v\f]*\r?(?:\n|\Z)")
_SKIP = re.compile(r"[ \t\v\f]*(?:#[^\n]*)?\r?(?:\n|\Z)")  # blank or comment line

_VALUE = re.compile(
    r"(-?(?:0|[1-9][0-9]*))i"
    r"|(0|[1-9][0-9]*)u"
    r"|(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"|(?:t|T|true|True|TRUE|f|F|false|False|FALSE)"
)
_NUM = r"(?:-?(?:0|[1-9][0-9]*)i|(?:0|[1-9][0-9]*)u|-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
_NUMERIC_FIELDS = re.compile(r"[^ \t\v\f\r\n,=]+=" + _NUM + r"(?:,[^ \t\v\f\r\n,=]+=" + _NUM + ")*")
_INF = math.inf
_NAME_UNESCAPE = re.compile(r"\\([, ])")
_KEY_UNESCAPE = re.compile(r"\\([, =\"])")
# Controls other than the separators \t \n \v \f \r: a line holding one is dropped.
_LINE_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")


def _numeric_fields(text: str) -> dict[str, float]:
    """Fields already checked by ``_NUMERIC_FIELDS``: only range checks are left."""
    fields: dict[str, float] = {}
    for item in text.split(","):
        key, _, token = item.partition("=")
        last = token[-1]
        if last == "i" or last == "u":
            if len(token) >= 20:  # 19 digits or more: may be out of int64 / uint64 range
                _integer(token)
            fields[key] = float(token[:-1])
        else:
            v = float(token)
            if v == _INF or v == -_INF:
                raise _LineError("bad_value", f"float out of range {token[:40]!r}")
            fields[key] = v
    return fields


def _integer(token: str) -> float:
    n = int(token[:-1])
    if (token[-1] == "i" and not -_INT64 <= n < _INT64) or n >= _UINT64:
        raise _LineError("bad_value", f"integer out of range {token[:40]!r}")
    return float(n)


def _fields(pairs: list[tuple[str, str | None]]) -> tuple[dict[str, float], int]:
    """(key, token) pairs, token None for a string → numeric fields and the count of the others."""
    fields: dict[str, float] = {}
    skipped = 0
    for key, token in pairs:
        if not key or token == "":
            raise _LineError("bad_line", f"bad field {key[:40]!r}={(token or '')[:40]!r}")
        if token is None:  # a string
            fields.pop(key, None)
            skipped += 1
            continue
        m = _VALUE.fullmatch(token)
        if m is None:
            raise _LineError("bad_line", f"bad field value {token[:40]!r}")
        kind = m.lastindex
        if kind == 3:
            v = float(token)
            if v == _INF or v == -_INF:
                raise _LineError("bad_value", f"float out of range {token[:40]!r}")
        elif kind is not None:
            v = _integer(token)
        else:  # a boolean
            fields.pop(key, None)
            skipped += 1
            continue
        fields[key] = v
    return fields, skipped


class _LineError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


class _Errors:
    """Bad lines of one message: counts by reason and the first one (kept for the error message)."""

    __slots__ = ("counts", "first")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.first: tuple[str, str] | None = None

    def add(self, reason: str, detail: str, line: str, n: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + n
        if self.first is None and detail:
            self.first = (reason, f"{detail} in {line!r}")


_Series = tuple[str, "str | None", str, "str | None"]  # measurement, host, suffix, error reason


class InfluxParser:
    """Line protocol → points. Holds a small cache of parsed series keys (measurement + tags)."""

    def __init__(self, options: FormatOptions) -> None:
        self.options = options
        self._cache: dict[str, _Series] = {}

    def parse(self, value: bytes, kafka_ts_ms: int | None, drops: Counter[str]) -> list[Point]:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError("not_utf8", str(exc)) from None
        self._budget = self.options.max_fields_per_message
        self._kafka_ts = kafka_ts_ms if kafka_ts_ms is not None and kafka_ts_ms > 0 else None
        self._drops = drops
        points: list[Point] = []
        errors = _Errors()
        control = _LINE_CONTROL.search(text) is not None
        if '"' in text or "\\" in text:
            self._parse_general(text, points, errors, control, self.options.max_lines_per_message)
        else:
            lines = text.split("\n")
            if len(lines) > self.options.max_lines_per_message:
                unread = lines[self.options.max_lines_per_message:]
                errors.add("line_cap", "", "", len(unread) - (unread[-1] == ""))
                del lines[self.options.max_lines_per_message:]
            for line in lines:
                if control and _LINE_CONTROL.search(line):
                    errors.add("control_char", "control character", line[:60])
                    continue
                m = _FAST.match(line)
                if m is None:
                    self._parse_general(line, points, errors, False, 1)
                    continue
                try:
                    fields_text = m.group(2)
                    if _NUMERIC_FIELDS.fullmatch(fields_text):
                        fields, skipped = _numeric_fields(fields_text), 0
                    else:
                        fields, skipped = _fields([f.partition("=")[::2] for f in fields_text.split(",")])
                    points.append(self._point(m.group(1), fields, skipped, m.group(3)))
                except _LineError as exc:
                    errors.add(exc.reason, exc.detail, line[:60])
        if not points:
            if errors.first is not None:
                raise FormatError(*errors.first)
            if errors.counts.get("line_cap"):
                raise FormatError("line_cap", f"no usable line in the first {self.options.max_lines_per_message}")
            raise FormatError("empty", "no line protocol lines")
        if errors.counts:
            drops.update(errors.counts)
        return points

    # -- general scanner -------------------------------------------------------------------------
    def _parse_general(self, text: str, points: list[Point], errors: _Errors, control: bool, lines: int) -> None:
        pos, end = 0, len(text)
        while pos < end:
            if lines <= 0:  # the rest is not read: bounded work whatever the message holds
                errors.add("line_cap", "", "", text.count("\n", pos) + (not text.endswith("\n")))
                return
            lines -= 1
            m = _SKIP.match(text, pos)
            if m is not None:
                pos = m.end()
                continue
            try:
                line_end = self._line(text, pos, points)
            except _LineError as exc:
                errors.add(exc.reason, exc.detail, text[pos:pos + 60])
                nl = text.find("\n", pos)  # like Telegraf: drop the rest of the line, go on
                pos = end if nl < 0 else nl + 1
                continue
            if control and _LINE_CONTROL.search(text, pos, line_end):
                points.pop()
                errors.add("control_char", "control character", text[pos:pos + 60])
            pos = line_end

    def _line(self, text: str, pos: int, points: list[Point]) -> int:
        m = _WS_RE.match(text, pos)
        if m is not None:
            pos = m.end()
        m = _SERIES.match(text, pos)
        if m is None or text.startswith("#", pos):
            raise _LineError("bad_line", "expected measurement")
        series = m.group()
        m = _WS_RE.match(text, m.end())
        if m is None:
            raise _LineError("bad_line", "expected fields after the tag set")
        pos = m.end()
        pairs: list[tuple[str, str | None]] = []
        while True:
            m = _FIELD.match(text, pos)
            if m is None:
                raise _LineError("bad_line", "expected field")
            key = m.group(1)
            if "\\" in key:
                key = _KEY_UNESCAPE.sub(r"\1", key)
            pairs.append((key, m.group(3)))
            pos = m.end()
            if text.startswith(",", pos):
                pos += 1
                continue
            break
        ts = None
        m = _TAIL.match(text, pos)
        if m is not None:
            ts = m.group(1)
            pos = m.end()
        m = _END.match(text, pos)
        if m is None:
            raise _LineError("bad_line", "unexpected text after the fields")
        fields, skipped = _fields(pairs)
        points.append(self._point(series, fields, skipped, ts))
        return m.end()

    # -- one line → one point --------------------------------------------------------------------
    def _point(self, series: str, fields: dict[str, float], skipped: int, ts_token: str | None) -> Point:
        entry = self._cache.get(series)
        if entry is None:
            entry = self._series(series)
        measurement, host, suffix, error = entry
        if error is not None:
            raise _LineError(error, "bad series key")
        ts = self._timestamp(ts_token)
        if host is None:
            raise _LineError("no_host", f"no {self.options.host_tag!r} tag")
        total = len(fields) + skipped
        if total > self._budget:  # the line is valid, but the message has used up its fields
            allowed = max(self._budget, 0)
            keep = min(len(fields), allowed)
            skipped = min(skipped, allowed - keep)
            self._drops["field_cap"] += total - keep - skipped
            fields = dict(islice(fields.items(), keep))
        self._budget -= len(fields) + skipped
        return Point(host, ts, measurement, suffix, fields, skipped)

    def _series(self, series: str) -> _Series:
        if "\\" in series:
            m = _MEAS_RE.match(series)
            raw_name = m.group() if m is not None else series
            raw_tags = [(t.group(1), t.group(2)) for t in _TAG_RE.finditer(series, len(raw_name))]
            name = _NAME_UNESCAPE.sub(r"\1", raw_name)
            tags = {_KEY_UNESCAPE.sub(r"\1", k): _KEY_UNESCAPE.sub(r"\1", v) for k, v in raw_tags}
        else:
            name, *items = series.split(",")
            tags = {}
            for item in items:
                k, _, v = item.partition("=")
                if not k or not v or "=" in v:
                    return ("", None, "", "bad_line")
                tags[k] = v
        host = tags.pop(self.options.host_tag, None) or self.options.default_host
        error = None
        if host is not None and len(host) > self.options.max_host_len:
            error = "bad_host"
        entry: _Series = (measurement_name(name), host, tag_suffix(tags), error)
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[series] = entry
        return entry

    def _timestamp(self, token: str | None) -> int:
        if token is None:
            if self._kafka_ts is None:
                raise _LineError("no_ts", "line without timestamp and no Kafka timestamp")
            return self._kafka_ts
        digits = len(token) - (token[0] == "-")
        n = int(token)
        if digits > 19 or not -_INT64 <= n < _INT64:
            raise _LineError("bad_ts", f"timestamp out of range {token[:40]!r}")
        ms = ms_from(n, self.options.influx_unit_ns)
        if ms <= 0:
            raise _LineError("bad_ts", f"timestamp not after 1970 {token[:40]!r}")
        return ms
