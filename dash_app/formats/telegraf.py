"""Telegraf's JSON serializer (plugins/serializers/json, Telegraf 1.x), single and batch form.

Single: ``{"fields": {...}, "name": "cpu", "tags": {"host": "h", ...}, "timestamp": 1458229140}``;
batch (``use_batch_format``): ``{"metrics": [<single>, ...]}``. ``timestamp`` is the metric time in
``json_timestamp_units`` (an integer; Telegraf's default unit is one second), or a string when
``json_timestamp_format`` is set (RFC 3339 / ISO 8601 is understood). Fields that are not numbers
(booleans, strings, nested JSON from ``json_nested_fields_*``) are skipped and counted. A bad metric
in a batch is dropped and counted; the others are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime
from itertools import islice

from .errors import FormatError
from .options import FormatOptions
from .points import Point, measurement_name, ms_from, tag_suffix


class _MetricError(Exception):
    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def is_telegraf(doc: dict) -> bool:
    return "metrics" in doc or ("fields" in doc and "name" in doc)


def parse(doc: object, kafka_ts_ms: int | None, options: FormatOptions, drops: Counter[str]) -> list[Point]:
    if not isinstance(doc, dict):
        raise FormatError("not_object", type(doc).__name__)
    if "metrics" in doc:
        items = doc["metrics"]
        if not isinstance(items, list):
            raise FormatError("bad_metric", f"'metrics' is {type(items).__name__}, not a list")
    elif "fields" in doc and "name" in doc:
        items = [doc]
    else:
        raise FormatError("unknown_json", "neither a v1 message nor a Telegraf metric")
    budget = options.max_fields_per_message
    kafka_ts = kafka_ts_ms if kafka_ts_ms is not None and kafka_ts_ms > 0 else None
    points: list[Point] = []
    errors: Counter[str] = Counter()
    first: tuple[str, str] | None = None
    if len(items) > options.max_lines_per_message:
        errors["line_cap"] += len(items) - options.max_lines_per_message
        items = items[: options.max_lines_per_message]
    for item in items:
        try:
            point = _metric(item, kafka_ts, options)
        except _MetricError as exc:
            errors[exc.reason] += 1
            first = first or (exc.reason, exc.detail)
            continue
        total = len(point.fields) + point.skipped
        if total > budget:
            allowed = max(budget, 0)
            keep = min(len(point.fields), allowed)
            point.skipped = min(point.skipped, allowed - keep)
            drops["field_cap"] += total - keep - point.skipped
            point.fields = dict(islice(point.fields.items(), keep))
        budget -= len(point.fields) + point.skipped
        points.append(point)
    if not points:
        if first is not None:
            raise FormatError(*first)
        raise FormatError("empty", "a batch with no metrics")
    drops.update(errors)
    return points


def _metric(item: object, kafka_ts: int | None, options: FormatOptions) -> Point:
    if not isinstance(item, dict):
        raise _MetricError("bad_metric", f"a metric is {type(item).__name__}, not an object")
    name = item.get("name")
    if not isinstance(name, str) or not name:
        raise _MetricError("bad_metric", f"name {name!r:.80}")
    tags = item.get("tags")
    if tags is None:
        tags = {}
    elif not isinstance(tags, dict) or not all(isinstance(v, str) and v for v in tags.values()):
        raise _MetricError("bad_metric", f"tags of {name!r:.80} are not strings")
    raw_fields = item.get("fields")
    if not isinstance(raw_fields, dict) or not raw_fields:
        raise _MetricError("bad_metric", f"fields of {name!r:.80}")
    host = tags.get(options.host_tag) or options.default_host
    if host is None:
        raise _MetricError("no_host", f"no {options.host_tag!r} tag in {name!r:.80}")
    if len(host) > options.max_host_len:
        raise _MetricError("bad_host", f"{host!r:.80}")
    ts = _timestamp(item.get("timestamp"), kafka_ts, options)
    fields: dict[str, float] = {}
    skipped = 0
    for key, v in raw_fields.items():
        if type(v) is float:
            if not math.isfinite(v):
                skipped += 1
                continue
            fields[key] = v
        elif type(v) is int:
            fields[key] = float(v)
        else:  # bool, str, None, nested object or array
            skipped += 1
    if "" in fields:
        del fields[""]
        skipped += 1
    if options.host_tag in tags:
        tags = {k: v for k, v in tags.items() if k != options.host_tag}
    return Point(host, ts, measurement_name(name), tag_suffix(tags), fields, skipped)


def _timestamp(ts: object, kafka_ts: int | None, options: FormatOptions) -> int:
    if ts is None:
        if kafka_ts is None:
            raise _MetricError("no_ts", "metric without timestamp and no Kafka timestamp")
        return kafka_ts
    if type(ts) is int or type(ts) is float:
        if not math.isfinite(ts) or abs(ts) >= 1 << 63:
            raise _MetricError("bad_ts", f"{ts!r:.40}")
        ms = ms_from(ts, options.json_unit_ns)
    elif isinstance(ts, str):
        try:
            when = datetime.fromisoformat(ts)
        except ValueError:
            raise _MetricError("bad_ts", f"{ts!r:.40}: not an RFC 3339 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        ms = int(when.timestamp() * 1000)
    else:
        raise _MetricError("bad_ts", f"{ts!r:.40}")
    if ms <= 0:
        raise _MetricError("bad_ts", f"{ts!r:.40}: not after 1970")
    return ms
