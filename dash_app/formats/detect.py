"""Which format a record is in, from its first bytes (docs/formats.md, "Detection").

- first non-blank byte ``{`` or ``[``: JSON. An object with ``"v"`` is v1; one with ``"metrics"``, or
  with ``"fields"`` and ``"name"``, is Telegraf JSON; anything else is ``unknown_json``;
- a value that is only a number (``12.5``): the seed's format (the key is the label);
- anything else: Influx line protocol.

None of these overlap: line protocol needs a space and ``=`` after the measurement, so it is never
a bare number and never starts with ``{`` (a measurement may, but then it is not JSON either way:
such a record is tried as JSON and rejected, which is the price of a cheap test).
"""

from __future__ import annotations

import re
from typing import Literal

from .seed import looks_like_seed

Sniffed = Literal["json", "seed", "influx"]

_V1_PREFIX = re.compile(rb'\s*\{\s*"v"\s*:')
_BLANK = b" \t\r\n"


def sniff(value: bytes) -> Sniffed:
    for byte in value[:64]:
        if byte in _BLANK:
            continue
        if byte in b"{[":
            return "json"
        break
    if looks_like_seed(value):
        return "seed"
    return "influx"


def looks_like_v1(value: bytes) -> bool:
    """Our producer writes ``"v"`` first: such a record skips the generic JSON parse."""
    return _V1_PREFIX.match(value) is not None
