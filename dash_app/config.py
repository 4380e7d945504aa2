"""The dashboard's one config object: flags > environment > defaults, validated once.

``SETTINGS`` is the single table every setting comes from: argparse flags, environment variables,
``--print-config`` and docs/configuration.md (checked by tests/test_docs.py) are all derived from it.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from .errors import ConfigError
from .parsers import (
    _basic,
    _choice,
    _counter_fields,
    _frame_ancestors,
    _header_name,
    _log_level,
    _networks,
    _nonempty,
    _number,
    _optional_host,
    _optional_prefix,
    _origins,
    _prefix,
    _timestamp_units,
    _token,
    _topics,
    topic_specs,
)

# librdkafka keys whose values are masked wherever they are shown (an inline private key too).
_SECRET_MARKERS = ("password", "secret", "sasl.oauthbearer", "ssl.key.pem")
MASK = "****"
# Variables Kafka's own scripts read (often set on Kafka hosts); they are not librdkafka settings.
_NOT_CLIENT_SETTINGS = frozenset({
    "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CLUSTER_ID", "KAFKA_DEBUG", "KAFKA_GC_LOG_OPTS", "KAFKA_HEAP_OPTS",
    "KAFKA_HOME", "KAFKA_JMX_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_LOG_DIR",
    "KAFKA_OPTS",
})  # fmt: skip




@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: str
    parse: Callable[[str], Any]
    help: str
    secret: bool = False  # the value is never shown: not in --print-config, not in error messages

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SETTINGS: tuple[Setting, ...] = (
    Setting("bootstrap_servers", "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", _nonempty,
            "Kafka bootstrap servers (host:port, comma-separated)."),
    Setting("topic", "DASH_TOPIC", "system-metrics", _topics,
            "Kafka topic(s) to read, comma-separated; each may force a format: `metrics,telegraf:influx`."),
    Setting("host", "DASH_HOST", "127.0.0.1", _nonempty, "Address the web server binds to."),
    Setting("port", "DASH_PORT", "8050", _number(0, 65535, int), "TCP port of the web server (0: any free)."),
    Setting("url_prefix", "DASH_URL_PREFIX", "/", _prefix,
            "Path prefix of the page, WebSocket (<prefix>ws) and health check (<prefix>healthz)."),
    Setting("public_url_prefix", "DASH_PUBLIC_URL_PREFIX", "", _optional_prefix,
            "Prefix browsers use when a reverse proxy rewrites the path, e.g. /tools/metrics/ in front of "
            "url_prefix /; must end with url_prefix. Empty: url_prefix."),
    Setting("frame_ancestors", "DASH_FRAME_ANCESTORS", "'self'", _frame_ancestors,
            "Who may show the page in a frame (CSP frame-ancestors): 'self', 'none' or origins such as "
            "https://portal.example.com, space-separated."),
    Setting("allowed_origins", "DASH_ALLOWED_ORIGINS", "", _origins,
            "Origins (scheme://host[:port], comma-separated, or *) whose pages may open the WebSocket besides "
            "the dashboard's own host. Others are closed with code 4403."),
    Setting("auth_token", "DASH_AUTH_TOKEN", "", _token,
            "Shared bearer token (Authorization: Bearer ..., at least 16 characters). Empty: off.", secret=True),
    Setting("basic_auth", "DASH_BASIC_AUTH", "", _basic,
            "HTTP basic auth as user:password (password at least 8 characters). Empty: off.", secret=True),
    Setting("trusted_proxies", "DASH_TRUSTED_PROXIES", "", _networks,
            "Addresses/networks of reverse proxies whose user header is trusted (comma-separated). Empty: off."),
    Setting("proxy_user_header", "DASH_PROXY_USER_HEADER", "X-Forwarded-User", _header_name,
            "Header with the authenticated user, honoured only from trusted_proxies."),
    Setting("ws_max_message_bytes", "DASH_WS_MAX_MESSAGE_BYTES", "16384", _number(256, 1_048_576, int),
            "Largest WebSocket message a page may send; a larger one closes the socket (code 1009)."),
    Setting("ws_rate_limit", "DASH_WS_RATE_LIMIT", "10", _number(0.1, 1000),
            "WebSocket messages per second a page may send (bursts of twice that); more closes it (1008)."),
    Setting("ws_compression", "DASH_WS_COMPRESSION", "shared", _choice("shared", "connection", "off"),
            "permessage-deflate for pages that offer it: `shared` deflates each frame once for all clients, "
            "`connection` once per client with context takeover (smaller, CPU grows with clients), `off` "
            "never (docs/scaling.md)."),
    Setting("frame_interval", "DASH_FRAME_INTERVAL", "0.05", _number(0.02, 5.0),
            "Least seconds between two WebSocket frames to a client (batching; 0.05 = at most 20 frames/s)."),
    Setting("frame_budget", "DASH_FRAME_BUDGET", "3000", _number(0, 1_000_000, int),
            "Frames per second the relay sends summed over all clients (0 = no limit): with more than "
            "budget × interval clients the gap between frames widens to clients / budget (docs/scaling.md)."),
    Setting("history_seconds", "DASH_HISTORY_SECONDS", "900", _number(10, 7 * 86400, int),
            "Full-resolution history kept per series, in seconds (longer views use 10 s / 1 min buckets)."),
    Setting("max_points", "DASH_MAX_POINTS", "3600", _number(10, 1_000_000, int),
            "Most points kept per series."),
    Setting("max_series", "DASH_MAX_SERIES", "5000", _number(1, 1_000_000, int),
            "Most series kept; points of further series are dropped and counted."),
    Setting("stale_seconds", "DASH_STALE_SECONDS", "10", _number(1, 86400),
            "A host that sent nothing for this many seconds is shown as stale (greyed, with its age)."),
    Setting("client_timeout", "DASH_CLIENT_TIMEOUT", "30", _number(1, 3600),
            "A page whose socket accepts no frame for this many seconds is disconnected (code 4008)."),
    Setting("host_tag", "DASH_HOST_TAG", "host", _nonempty,
            "Influx/Telegraf tag that names the host (docs/formats.md)."),
    Setting("default_host", "DASH_DEFAULT_HOST", "", _optional_host,
            "Host for Influx/Telegraf records without the host tag (empty: such records are dropped)."),
    Setting("influx_precision", "DASH_INFLUX_PRECISION", "ns", _choice("ns", "us", "ms", "s", "auto"),
            "Unit of Influx line protocol timestamps (Telegraf writes ns)."),
    Setting("json_timestamp_units", "DASH_JSON_TIMESTAMP_UNITS", "1s", _timestamp_units,
            "Telegraf JSON timestamp unit, as Telegraf's json_timestamp_units (1s, 1ms, 1us, 1ns, auto)."),
    Setting("seed_host", "DASH_SEED_HOST", "seed", _nonempty, "Host shown for the seed tutorial's messages."),
    Setting("counter_fields", "DASH_COUNTER_FIELDS", "default", _counter_fields,
            "Influx/Telegraf fields that are counters, shown as per-second rates (`default` = Telegraf's net, "
            "diskio, …; add `measurement.field`)."),
    Setting("log_level", "DASH_LOG_LEVEL", "info", _log_level, "debug, info, warning or error."),
)


@dataclass(frozen=True)
class DashboardConfig:
    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "system-metrics"
    host: str = "127.0.0.1"
    port: int = 8050
    url_prefix: str = "/"
    frame_interval: float = 0.05
    frame_budget: int = 3000
    history_seconds: int = 900
    max_points: int = 3600
    max_series: int = 5000
    stale_seconds: float = 10.0
    client_timeout: float = 30.0
    host_tag: str = "host"
    default_host: str = ""
    influx_precision: str = "ns"
    json_timestamp_units: str = "1s"
    seed_host: str = "seed"
    counter_fields: str = "default"
    public_url_prefix: str = ""
    frame_ancestors: str = "'self'"
    allowed_origins: tuple[str, ...] = ()
    auth_token: str = field(default="", repr=False)
    basic_auth: str = field(default="", repr=False)
    trusted_proxies: tuple[str, ...] = ()
    proxy_user_header: str = "X-Forwarded-User"
    ws_max_message_bytes: int = 16384
    ws_rate_limit: float = 10.0
    ws_compression: str = "shared"
    log_level: str = "info"
    kafka: Mapping[str, str] = field(default_factory=dict)  # librdkafka passthrough

    @property
    def topics(self) -> list[tuple[str, str]]:
        """(topic, format) pairs; format ``auto`` detects per record."""
        return topic_specs(self.topic)

    def format_options(self) -> Any:
        from .formats import FormatOptions, parse_counter_fields

        return FormatOptions(
            host_tag=self.host_tag,
            default_host=self.default_host or None,
            influx_precision=self.influx_precision,  # type: ignore[arg-type]
            json_timestamp_units=self.json_timestamp_units,
            seed_host=self.seed_host,
            counter_fields=parse_counter_fields(self.counter_fields),
        )

    @property
    def browser_prefix(self) -> str:
        """The prefix in the browser's address bar (Dash's requests_pathname_prefix)."""
        return self.public_url_prefix or self.url_prefix

    @property
    def auth_configured(self) -> bool:
        return bool(self.auth_token or self.basic_auth or self.trusted_proxies)

    def masked(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "kafka"}
        out["auth_token"] = MASK if self.auth_token else ""
        out["basic_auth"] = self.basic_auth.partition(":")[0] + ":" + MASK if self.basic_auth else ""
        out["kafka"] = {k: (MASK if is_secret(k) else v) for k, v in self.kafka.items()}
        return out


def is_secret(kafka_key: str) -> bool:
    lowered = kafka_key.lower()
    return any(marker in lowered for marker in _SECRET_MARKERS)


def kafka_passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """``KAFKA_SASL_USERNAME=x`` → ``{"sasl.username": "x"}``; the bootstrap setting has its own row.

    Empty values count as unset, and the JVM variables of Kafka's own scripts (KAFKA_OPTS, KAFKA_HOME…)
    are not client settings, as in the producer.
    """
    out = {}
    for key, value in environ.items():
        if key.startswith("KAFKA_") and key not in _NOT_CLIENT_SETTINGS and value and len(key) > len("KAFKA_"):
            out[key[len("KAFKA_"):].lower().replace("_", ".")] = value
    return dict(sorted(out.items()))


def kafka_env_name(kafka_key: str) -> str:
    return "KAFKA_" + kafka_key.upper().replace(".", "_")


def check_kafka_settings(settings: Mapping[str, str]) -> None:
    """Let librdkafka judge the passthrough settings now, so a typo is a config error (exit 2).

    A consumer without ``bootstrap.servers`` knows no broker, so this does no network I/O; it does
    load files such as ``ssl.ca.location``.
    """
    if not settings:
        return
    from confluent_kafka import Consumer, KafkaException

    quiet = logging.getLogger("dash_app.config.librdkafka-check")
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False  # "no bootstrap.servers configured" is expected here
    conf: dict[str, Any] = {"group.id": "config-check", **settings, "logger": quiet}
    conf.pop("bootstrap.servers", None)
    try:
        Consumer(conf).close()
    except KafkaException as exc:
        reason = exc.args[0].str() if exc.args and hasattr(exc.args[0], "str") else str(exc)
        reason = reason.removeprefix("Failed to create consumer: ")
        key = _blamed_key(reason, settings)
        value = settings.get(key, "")
        raise ConfigError(kafka_env_name(key), MASK if is_secret(key) and value else value, reason) from None


def _blamed_key(reason: str, settings: Mapping[str, str]) -> str:
    quoted = re.findall(r'"([a-z0-9._]+)"', reason)
    named = [k for k in quoted if k in settings] or quoted
    if named:
        return named[0]
    mentioned = sorted((k for k in settings if k in reason), key=len, reverse=True)
    if mentioned:
        return mentioned[0]
    by_value = [k for k, v in settings.items() if v and v in reason and not is_secret(k)]
    return by_value[0] if by_value else next(iter(settings))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dash_app",
        description="Live system-metrics dashboard: Kafka -> WebSocket -> Chart.js.",
    )
    for s in SETTINGS:
        flags = [s.flag, "--topics"] if s.name == "topic" else [s.flag]
        parser.add_argument(*flags, dest=s.name, default=None, metavar=s.env, help=f"{s.help} [{s.default}]")
    parser.add_argument("--print-config", action="store_true", help="Print the resolved settings and exit.")
    return parser


def load(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> tuple[
    DashboardConfig, argparse.Namespace
]:
    """Resolve every setting; raises :class:`ConfigError` naming the first bad key and value."""
    environ = os.environ if environ is None else environ
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for s in SETTINGS:
        cli_value = getattr(args, s.name)
        if cli_value is not None:
            key, raw = s.flag, cli_value
        elif s.env in environ:
            key, raw = s.env, environ[s.env]
        else:
            key, raw = s.env, s.default
        keys[s.name] = key
        try:
            values[s.name] = s.parse(raw)
        except ValueError as exc:
            raise ConfigError(key, MASK if s.secret else raw, str(exc)) from None
    _check_together(values, keys)
    return DashboardConfig(**values, kafka=kafka_passthrough(environ)), args


def _check_together(values: Mapping[str, Any], keys: Mapping[str, str]) -> None:
    public, own = values["public_url_prefix"], values["url_prefix"]
    if public and not public.endswith(own):
        # Dash serves routes at url_prefix and writes public_url_prefix into the page; a proxy can only
        # strip a leading part, so the public prefix must end with the one this server sees.
        raise ConfigError(keys["public_url_prefix"], public, f"must end with the url prefix {own!r}")


def with_overrides(config: DashboardConfig, overrides: Mapping[str, Any]) -> DashboardConfig:
    """``config`` with some settings replaced (``create_app(url_prefix=...)``), each parsed like its
    environment variable, so the same checks apply. ``kafka`` takes a mapping of librdkafka keys."""
    by_name = {s.name: s for s in SETTINGS}
    values = {f.name: getattr(config, f.name) for f in fields(config)}
    keys = {s.name: s.name for s in SETTINGS}
    for name, value in overrides.items():
        if name == "kafka":
            values["kafka"] = dict(value)
            continue
        setting = by_name.get(name)
        if setting is None:
            raise TypeError(f"create_app() got an unknown setting {name!r}")
        raw = ",".join(value) if isinstance(value, (tuple, list)) else str(value)
        try:
            values[name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(name, MASK if setting.secret else raw, str(exc)) from None
    _check_together(values, keys)
    if "kafka" in overrides:
        check_kafka_settings(values["kafka"])
    return DashboardConfig(**values)
