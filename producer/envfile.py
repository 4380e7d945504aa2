"""`--env-file`: KEY=VALUE lines, read the way systemd reads an EnvironmentFile=, so one file serves both.

Blank lines and lines starting with `#` or `;` are ignored. A value is either unquoted (a backslash
escapes the next character and is removed: write regular expressions in single quotes), in single
quotes (taken literally) or in double quotes (a backslash before `"`, `\\`, `` ` `` or `$` is removed,
others are kept). No variable expansion, no `export`, no line continuation: a line we do not
understand is an error, not a silent skip.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse(text: str) -> dict[str, str]:
    """Variables from the file's text; ValueError("line N: reason") on a line that is not KEY=VALUE."""
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not _NAME.fullmatch(name):
            raise ValueError(f"line {number}: expected NAME=VALUE")
        value = value.strip()
        if value.endswith("\\"):
            raise ValueError(f"line {number}: line continuation is not supported")
        out[name] = _unquote(value, number)
    return out


def _unquote(value: str, number: int) -> str:
    if value[:1] in ("'", '"'):
        quote = value[0]
        if len(value) < 2 or value[-1] != quote:
            raise ValueError(f"line {number}: unterminated {quote} quote")
        inner = value[1:-1]
        if quote == '"':
            inner = re.sub(r'\\(["\\`$])', r"\1", inner)
        return inner
    return re.sub(r"\\(.)", r"\1", value)


def read(path: str) -> dict[str, str]:
    """Variables from the file at `path`; OSError if unreadable, ValueError on a bad line."""
    return parse(Path(path).read_text(encoding="utf-8"))
