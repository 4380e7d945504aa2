"""Docs that could drift from the code: the Producer settings table and the metrics list."""

from __future__ import annotations

import re
from pathlib import Path

from producer import config, samplers

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _producer_section() -> str:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    match = re.search(r"^## Producer\b.*?(?=^## |\Z)", text, flags=re.M | re.S)
    assert match, "docs/configuration.md has no '## Producer' section"
    return match.group(0)


def test_configuration_md_lists_every_producer_setting() -> None:
    section = _producer_section()
    for s in config.SETTINGS:
        assert f"`{s.flag}`" in section, s.flag
        assert f"`{s.env}`" in section, s.env
    assert config.markdown_table() in section, (
        "the Producer table in docs/configuration.md differs from producer/config.py; regenerate it with "
        'python -c "from producer.config import markdown_table; print(markdown_table())"'
    )


def _metrics_rows() -> dict[str, list[str]]:
    rows = {}
    for line in (DOCS / "metrics.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) >= 4:
            rows[cells[0].strip("`")] = cells
    return rows


def test_metrics_md_lists_every_metric_with_unit_and_kind() -> None:
    rows = _metrics_rows()
    for spec in samplers.metric_specs():
        assert spec.name in rows, f"docs/metrics.md does not list {spec.name}"
        assert rows[spec.name][1:3] == [spec.unit, spec.kind], spec.name


def test_metrics_md_lists_no_metric_that_does_not_exist() -> None:
    assert set(_metrics_rows()) == {spec.name for spec in samplers.metric_specs()}
