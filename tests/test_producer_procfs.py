"""Samplers against recorded /proc snapshots (psutil.PROCFS_PATH): one folder per golden case.

Each folder under tests/data/procfs/ is a case: numbered step directories laid out like /proc, and
case.json with the steps' monotonic times and, for every step after the first, the exact metrics the
samplers must produce from it. A new bug is a new folder (see tests/data/procfs/record.py), not new
test code. Besides the exact expectations, every case is checked for what must hold anywhere: no
negative rate, percentages within 0–100, only declared metric names.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psutil
import pytest

from producer import config, samplers
from producer.samplers import Options

CASES_DIR = Path(__file__).resolve().parent / "data" / "procfs"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if (p / "case.json").is_file())


@contextmanager
def _procfs(root: Path) -> Iterator[None]:
    saved = psutil.PROCFS_PATH
    psutil.PROCFS_PATH = str(root)
    try:
        yield
    finally:
        psutil.PROCFS_PATH = saved


class _Steps:
    """The case's clock and statvfs, both following the step being read."""

    def __init__(self, case_dir: Path) -> None:
        self.case_dir = case_dir
        self.time = 0.0
        self.usage: dict[str, dict[str, int]] = {}

    def enter(self, step: dict[str, Any]) -> Path:
        root = self.case_dir / step["procfs"]
        self.time = float(step["time"])
        usage_file = root / "statvfs.json"
        self.usage = json.loads(usage_file.read_text()) if usage_file.is_file() else {}
        return root

    def clock(self) -> float:
        return self.time

    def statvfs(self, mountpoint: str) -> Any:
        try:
            return SimpleNamespace(**self.usage[mountpoint])
        except KeyError:
            raise FileNotFoundError(2, "not in statvfs.json", mountpoint) from None


def _options(case: dict[str, Any], steps: _Steps) -> Options:
    """The shipped defaults (config.Config), with the case's `options` on top."""
    defaults = config.Config()
    opts = {
        "per_core": defaults.per_core,
        "per_device": defaults.per_device,
        "disk_exclude": defaults.disk_exclude,
        "net_exclude": defaults.net_exclude,
        **case.get("options", {}),
    }
    return Options(
        per_core=opts["per_core"],
        per_device=opts["per_device"],
        disk_exclude=re.compile(opts["disk_exclude"]),
        net_exclude=re.compile(opts["net_exclude"]),
        clock=steps.clock,
        statvfs=steps.statvfs,
    )


def replay(case_dir: Path, case: dict[str, Any]) -> list[dict[str, float]]:
    """Metrics the case's families produce at each step after the first (used by record.py too)."""
    names = samplers.families() if case["families"] == "all" else case["families"]
    steps = _Steps(case_dir)
    first, *rest = case["steps"]
    with _procfs(steps.enter(first)):
        created = samplers.create(names, _options(case, steps))
    results = []
    for step in rest:
        with _procfs(steps.enter(step)):
            got: dict[str, float] = {}
            for sampler in created:
                got.update(sampler.sample())
        results.append(got)
    return results


def _load(name: str) -> dict[str, Any]:
    return json.loads((CASES_DIR / name / "case.json").read_text())


def test_there_are_golden_cases() -> None:
    assert {"recorded-host", "counter-reset", "device-hotplug", "cpu-offline"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_case_matches_its_expectations(name: str) -> None:
    case = _load(name)
    got = replay(CASES_DIR / name, case)
    for n, (step, values) in enumerate(zip(case["steps"][1:], got, strict=True), start=1):
        expect = step["expect"]
        assert sorted(values) == sorted(expect), f"{name} step {n}: metric names differ"
        assert values == pytest.approx(expect, rel=1e-9, abs=1e-9), f"{name} step {n}"


def _template(spec_name: str) -> re.Pattern[str]:
    parts = re.split(r"<[A-Za-z]+>", spec_name)
    return re.compile(".+".join(re.escape(p) for p in parts) + "$")


@pytest.mark.parametrize("name", CASES)
def test_case_values_are_sane(name: str) -> None:
    """What must hold for any input: declared names only, no negative rate, percentages in range."""
    specs = samplers.registered_specs()
    patterns = [(_template(s.name), s) for s in specs]
    for values in replay(CASES_DIR / name, _load(name)):
        for metric, value in values.items():
            matching = [spec for pattern, spec in patterns if pattern.match(metric)]
            assert matching, f"{metric} is not declared by any sampler"
            assert math.isfinite(value), metric
            if any(s.kind == "rate" for s in matching):
                assert value >= 0, metric
            if metric.endswith("percent"):
                assert 0.0 <= value <= 100.0, metric
