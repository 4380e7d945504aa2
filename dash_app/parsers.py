"""Value parsers for the dashboard's settings: each takes the text of a flag or environment variable and
returns the value, or raises ValueError with a short reason (config.py names the setting in front).

They live apart from ``SETTINGS`` (dash_app/config.py) so that the table stays short to read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


def _number(lo: float, hi: float, kind: type = float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError("not an integer" if kind is int else "not a number") from None
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo:g} and {hi:g}")
        return value

    return parse


def _nonempty(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text.strip()


def _prefix(text: str) -> str:
    text = text.strip()
    if not text.startswith("/"):
        raise ValueError("must start with '/'")
    return text if text.endswith("/") else text + "/"


def _optional_prefix(text: str) -> str:
    return _prefix(text) if text.strip() else ""


_SCHEMES = {"http", "https"}
_HOST_SOURCE = re.compile(r"(https?://)?(\*\.)?[A-Za-z0-9.-]+(:(\d{1,5}|\*))?")


def _frame_ancestors(text: str) -> str:
    """CSP frame-ancestors sources: 'self', 'none', or origins (https://portal.example.com, *.corp:443)."""
    sources = text.replace(",", " ").split()
    if not sources:
        raise ValueError("must not be empty ('none' forbids every frame, 'self' allows same origin)")
    for src in sources:
        if src in ("'self'", "'none'", "https:", "http:"):
            continue
        if not _HOST_SOURCE.fullmatch(src):
            raise ValueError(f"{src!r} is not 'self', 'none' or an origin like https://portal.example.com")
    if "'none'" in sources and len(sources) > 1:
        raise ValueError("'none' cannot be combined with other sources")
    return " ".join(sources)


def normalise_origin(text: str) -> str:
    """``HTTPS://Portal.example.com:443/`` → ``https://portal.example.com``; ValueError if not an origin."""
    parts = urlsplit(text.strip())
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{text!r} has a bad port") from None
    if parts.scheme.lower() not in _SCHEMES or not parts.hostname or parts.path not in ("", "/") or (
        parts.query or parts.fragment or parts.username or parts.password
    ):
        raise ValueError(f"{text!r} is not an origin like https://portal.example.com[:port]")
    scheme = parts.scheme.lower()
    default = 443 if scheme == "https" else 80
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


def _origins(text: str) -> tuple[str, ...]:
    items = text.replace(",", " ").split()
    return tuple(item if item == "*" else normalise_origin(item) for item in items)


def _token(text: str) -> str:
    text = text.strip()
    if text and (len(text) < 16 or any(c.isspace() for c in text)):
        raise ValueError("must be at least 16 characters without spaces (e.g. python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))')")
    return text


def _basic(text: str) -> str:
    if not text:
        return ""
    user, sep, password = text.partition(":")
    if not sep or not user.strip() or len(password) < 8:
        raise ValueError("must be user:password with a password of at least 8 characters")
    return text


def _networks(text: str) -> tuple[str, ...]:
    out = []
    for item in text.replace(",", " ").split():
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (127.0.0.1, 10.0.0.0/8)") from None
    return tuple(out)


_TOKEN_CHARS = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def _header_name(text: str) -> str:
    text = text.strip()
    if not _TOKEN_CHARS.fullmatch(text):
        raise ValueError("not an HTTP header name")
    return text


def _log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in {"debug", "info", "warning", "error"}:
        raise ValueError("must be one of debug, info, warning, error")
    return level


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.strip() not in options:
            raise ValueError("must be one of " + ", ".join(options))
        return text.strip()

    return parse


def _optional_host(text: str) -> str:
    text = text.strip()
    if len(text) > 255:
        raise ValueError("at most 255 characters")
    return text


def topic_specs(text: str) -> list[tuple[str, str]]:
    """``"a,b:influx"`` → ``[("a", "auto"), ("b", "influx")]`` (Kafka topic names cannot hold ':')."""
    from .formats import FORMATS

    specs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, fmt = item.partition(":")
        fmt = fmt or "auto"
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,249}", name):
            raise ValueError(f"{name!r} is not a Kafka topic name")
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
        specs.append((name, fmt))
    if not specs:
        raise ValueError("must name at least one topic")
    if len({n for n, _ in specs}) != len(specs):
        raise ValueError("a topic is listed twice")
    return specs


def _topics(text: str) -> str:
    return ",".join(n if f == "auto" else f"{n}:{f}" for n, f in topic_specs(text))


def _timestamp_units(text: str) -> str:
    from .formats import parse_timestamp_units

    parse_timestamp_units(text)
    return text.strip()


def _counter_fields(text: str) -> str:
    from .formats import parse_counter_fields

    parse_counter_fields(text)
    return text.strip()
