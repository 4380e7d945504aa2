"""Vendored browser files match the versions and hashes recorded in assets/vendor/README.md."""

import hashlib
import re

from tests.support import ROOT

VENDOR = ROOT / "assets" / "vendor"


def test_vendored_files_match_recorded_hashes():
    table = (VENDOR / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", table, re.M)
    assert {name for name, _ in rows} == {p.name for p in VENDOR.glob("*.js")}
    for name, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name


def test_clientside_namespace_is_merged_not_overwritten():
    for js in (ROOT / "assets").glob("*.js"):
        text = js.read_text()
        assert not re.search(r"window\.dash_clientside\s*=\s*\{", text), js.name
