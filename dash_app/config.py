"""The dashboard's one config object: flags > environment > defaults, validated once.

``SETTINGS`` is the single table every setting comes from: argparse flags, environment variables,
``--print-config`` and docs/configuration.md (checked by tests/test_docs.py) are all derived from it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError

_SECRET_MARKERS = ("password", "secret", "sasl.oauthbearer")


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


def _log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in {"debug", "info", "warning", "error"}:
        raise ValueError("must be one of debug, info, warning, error")
    return level


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    parse: Callable[[str], Any]
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", _nonempty,
            "Kafka bootstrap servers (host:port, comma-separated)."),
    Setting("topic", "DASH_TOPIC", "system-metrics", _nonempty, "Kafka topic to read samples from."),
    Setting("host", "DASH_HOST", "127.0.0.1", _nonempty, "Address the web server binds to."),
    Setting("port", "DASH_PORT", "8050", _number(0, 65535, int), "TCP port of the web server (0: any free)."),
    Setting("url_prefix", "DASH_URL_PREFIX", "/", _prefix,
            "Path prefix of the page, WebSocket (<prefix>ws) and health check (<prefix>healthz)."),
    Setting("frame_interval", "DASH_FRAME_INTERVAL", "0.1", _number(0.02, 5.0),
            "Seconds between WebSocket frames (batching; 0.1 = at most 10 frames/s per client)."),
    Setting("history_seconds", "DASH_HISTORY_SECONDS", "900", _number(10, 7 * 86400, int),
            "History kept per series and replayed from Kafka on start, in seconds."),
    Setting("max_points", "DASH_MAX_POINTS", "3600", _number(10, 1_000_000, int),
            "Most points kept per series."),
    Setting("max_series", "DASH_MAX_SERIES", "5000", _number(1, 1_000_000, int),
            "Most series kept; points of further series are dropped and counted."),
    Setting("stale_seconds", "DASH_STALE_SECONDS", "10", _number(1, 86400),
            "A host that sent nothing for this many seconds is shown as stale (greyed, with its age)."),
    Setting("log_level", "DASH_LOG_LEVEL", "info", _log_level, "debug, info, warning or error."),
)


@dataclass(frozen=True)
class DashboardConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "system-metrics"
    host: str = "127.0.0.1"
    port: int = 8050
    url_prefix: str = "/"
    frame_interval: float = 0.1
    history_seconds: int = 900
    max_points: int = 3600
    max_series: int = 5000
    stale_seconds: float = 10.0
    log_level: str = "info"
    kafka: Mapping[str, str] = field(default_factory=dict)  # librdkafka passthrough

    def masked(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "kafka"}
        out["kafka"] = {
            k: ("****" if any(m in k for m in _SECRET_MARKERS) else v) for k, v in self.kafka.items()
        }
        return out


def kafka_passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """``KAFKA_SASL_USERNAME=x`` → ``{"sasl.username": "x"}``; the bootstrap setting has its own row."""
    out = {}
    for key, value in environ.items():
        if key.startswith("KAFKA_") and key != "KAFKA_BOOTSTRAP_SERVERS":
            out[key[len("KAFKA_"):].lower().replace("_", ".")] = value
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dash_app",
        description="Live system-metrics dashboard: Kafka -> WebSocket -> Chart.js.",
    )
    for s in SETTINGS:
        parser.add_argument(s.flag, dest=s.name, default=None, metavar=s.env, help=f"{s.help} [{s.default}]")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved settings and exit.")
    return parser


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> tuple[
    DashboardConfig, argparse.Namespace
]:
    """Resolve every setting; raises :class:`ConfigError` naming the first bad key and value."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    for s in SETTINGS:
        cli_value = getattr(args, s.name)
        if cli_value is not None:
            key, raw = s.flag, cli_value
        elif s.env in environ:
            key, raw = s.env, environ[s.env]
        else:
            key, raw = s.env, s.default
        try:
            values[s.name] = s.parse(raw)
        except ValueError as exc:
            raise ConfigError(key, raw, str(exc)) from None
    return DashboardConfig(**values, kafka=kafka_passthrough(environ)), args
