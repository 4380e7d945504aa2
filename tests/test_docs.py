"""Docs that can drift are checked: every dashboard setting is in docs/configuration.md."""

import re

from dash_app.config import SETTINGS
from tests.support import ROOT


def dashboard_section() -> str:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return text.split("## Dashboard", 1)[1]


def test_every_dashboard_setting_is_documented_with_its_env_var_and_default():
    section = dashboard_section()
    for s in SETTINGS:
        row = re.search(rf"^\| `{s.name}` \| `{re.escape(s.flag)}` \| `{s.env}` \| `{re.escape(s.default)}` \|",
                        section, re.M)
        assert row, f"docs/configuration.md lacks a Dashboard row for {s.name} ({s.env}, default {s.default})"


def test_no_stale_rows():
    names = {s.name for s in SETTINGS}
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", dashboard_section(), re.M))
    assert documented <= names, f"documented but unknown: {documented - names}"
