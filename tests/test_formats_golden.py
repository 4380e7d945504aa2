"""Golden records (tests/data/formats/*/case.json): documented Telegraf / InfluxDB examples, the seed's
messages and our v1 example, decoded exactly as recorded. A new bug is a new folder."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from dash_app.formats import Decoder, FormatError, FormatOptions, decode_record

DATA = Path(__file__).parent / "data" / "formats"
CASES = sorted(p.name for p in DATA.iterdir() if (p / "case.json").is_file())


def _sample_dicts(samples) -> list[dict]:
    out = []
    for s in samples:
        d = {"host": s.host, "ts": s.ts, "metrics": s.metrics, "skipped_metrics": s.skipped_metrics}
        if s.seq is not None:
            d["seq"] = s.seq
        out.append(d)
    return out


def test_every_format_has_golden_cases():
    prefixes = {name.split("-")[0] for name in CASES}
    assert {"influx", "telegraf", "seed", "v1"} <= prefixes
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", CASES)
def test_golden_case(name: str):
    folder = DATA / name
    case = json.loads((folder / "case.json").read_text("utf-8"))
    assert case["source"], "every case cites where its data comes from"
    options = FormatOptions(**case["options"])
    dropped: Counter[str] = Counter()
    decoder = Decoder(options, clock=lambda: 0.0) if case["decoder"] == "stateful" else None
    for i, record in enumerate(case["records"]):
        value = (folder / record["value"]).read_bytes()
        key = (folder / record["key_file"]).read_bytes() if "key_file" in record else record.get("key")
        if isinstance(key, str):
            key = key.encode()
        args = (value, key, record.get("kafka_ts_ms"))
        expect = record["expect"]
        if isinstance(expect, dict):
            with pytest.raises(FormatError) as info:
                if decoder is not None:
                    decoder.decode(*args, fmt=case["format"])
                else:
                    decode_record(*args, fmt=case["format"], options=options)
            assert info.value.reason == expect["error"], f"record {i}: {info.value}"
            continue
        if decoder is not None:
            got = decoder.decode(*args, fmt=case["format"])
        else:
            got = decode_record(*args, fmt=case["format"], options=options, dropped=dropped)
        assert _sample_dicts(got) == expect, f"record {i} of {name}"
    if "dropped" in case:
        counts = decoder.dropped if decoder is not None else dropped
        assert dict(counts) == case["dropped"]
