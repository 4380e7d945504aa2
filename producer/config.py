"""The producer's settings: one table drives the CLI flags, the environment, `--print-config` and the docs.

Precedence: command-line flag > environment variable > `--env-file` (KEY=VALUE lines) > default. An
empty variable counts as unset (so `PRODUCER_TOPIC=` in an EnvironmentFile means "default"). A bad value
raises ConfigError with one line naming the key and the value, e.g.
`PRODUCER_INTERVAL='abc': not a number`.

Every other `KAFKA_<NAME>` variable passes through to librdkafka as `<name>` with `_` -> `.`
(`KAFKA_SECURITY_PROTOCOL=SASL_SSL` -> `security.protocol`); librdkafka itself checks those when the
client is created (see `producer.sink`).
"""

from __future__ import annotations

import argparse
import math
import re
import socket
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from producer import envfile, samplers
from producer.errors import ConfigError

LogLevel = Literal["debug", "info", "warning", "error"]

MIN_INTERVAL = 0.1
MIN_BUFFER = 10
# Devices whose I/O is not worth a series of its own or would be counted twice: loop, RAM, zram,
# floppy and CD-ROM devices, and partitions of sdX/vdX/xvdX/hdX, NVMe and MMC disks (node_exporter's
# default, plus zram/sr).
DEFAULT_DISK_EXCLUDE = r"^(loop|ram|zram|fd|sr)\d+$|^((h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$"
# Loopback, and the host ends of container links (their traffic shows on the bridge / in the container).
DEFAULT_NET_EXCLUDE = r"^(lo|veth.*)$"
ENV_FILE_ENV = "PRODUCER_ENV_FILE"
KAFKA_PREFIX = "KAFKA_"
# Variables that Kafka's own scripts (kafka-run-class.sh, kafka-server-start.sh) read. They are often
# set on machines that run Kafka and are not librdkafka settings, so they do not pass through.
NOT_CLIENT_SETTINGS = frozenset(
    {
        "KAFKA_BOOTSTRAP_SERVERS",  # a setting of its own, below
        "KAFKA_CLUSTER_ID",
        "KAFKA_DEBUG",
        "KAFKA_GC_LOG_OPTS",
        "KAFKA_HEAP_OPTS",
        "KAFKA_HOME",
        "KAFKA_JMX_OPTS",
        "KAFKA_JVM_PERFORMANCE_OPTS",
        "KAFKA_LOG4J_OPTS",
        "KAFKA_LOG_DIR",
        "KAFKA_OPTS",
    }
)
# librdkafka keys whose values are masked wherever they are shown (passwords, secrets, OAuth config,
# an inline private key).
SECRET_MARKERS = ("password", "secret", "sasl.oauthbearer", "ssl.key.pem")
MASK = "***"

_TOPIC_RE = re.compile(r"[A-Za-z0-9._-]{1,249}")
_HOST_ID_MAX = 255


@dataclass(frozen=True)
class Config:
    """Everything the producer process needs, built once by `load()` and never changed."""

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "system-metrics"
    interval: float = 1.0
    host_id: str = field(default_factory=socket.gethostname)
    metrics: tuple[str, ...] = field(default_factory=samplers.families)
    per_core: bool = True
    per_device: bool = True
    disk_exclude: str = DEFAULT_DISK_EXCLUDE
    net_exclude: str = DEFAULT_NET_EXCLUDE
    buffer_samples: int = 1800
    flush_timeout: float = 10.0
    log_level: LogLevel = "info"
    env_file: str | None = None
    # librdkafka settings from KAFKA_* variables: dotted key -> value, as given.
    kafka: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def masked(self) -> dict[str, Any]:
        """The settings as plain data, secrets masked: what `--print-config` shows."""
        out: dict[str, Any] = {s.name: getattr(self, s.name) for s in SETTINGS}
        out["metrics"] = ",".join(self.metrics)
        out["kafka"] = mask(self.kafka)
        return out

    def sampler_options(self) -> samplers.Options:
        return samplers.Options(
            per_core=self.per_core,
            per_device=self.per_device,
            disk_exclude=re.compile(self.disk_exclude),
            net_exclude=re.compile(self.net_exclude),
        )


# --- value parsers: str -> value, ValueError(reason) on a bad value -------------------------------


def _number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _interval(raw: str) -> float:
    value = _number(raw)
    if value < MIN_INTERVAL:
        raise ValueError(f"must be at least {MIN_INTERVAL} seconds")
    return value


def _timeout(raw: str) -> float:
    value = _number(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _bootstrap_servers(raw: str) -> str:
    servers = [part.strip() for part in raw.split(",")]
    if not all(servers):
        raise ValueError("expected host:port[,host:port...]")
    if any(" " in server or "\t" in server for server in servers):
        raise ValueError("a server address contains whitespace")
    return ",".join(servers)


def _topic(raw: str) -> str:
    if raw in (".", "..") or not _TOPIC_RE.fullmatch(raw):
        raise ValueError("a Kafka topic name is 1–249 characters from [A-Za-z0-9._-], not '.' or '..'")
    return raw


def _host_id(raw: str) -> str:
    if not 1 <= len(raw) <= _HOST_ID_MAX:
        raise ValueError(f"must be 1–{_HOST_ID_MAX} characters")
    if any(unicodedata.category(ch).startswith(("C", "Z")) and ch != " " for ch in raw) or raw != raw.strip():
        raise ValueError("contains control characters or leading/trailing whitespace")
    return raw


def _metrics(raw: str) -> tuple[str, ...]:
    known = samplers.families()
    names: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in known:
            raise ValueError(f"unknown metric family {name!r} (known: {', '.join(known)})")
        if name not in names:
            names.append(name)
    if not names:
        raise ValueError(f"no metric family given (known: {', '.join(known)})")
    return tuple(names)


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "yes", "on", "1"):
        return True
    if value in ("false", "no", "off", "0"):
        return False
    raise ValueError("expected true or false")


def _regex(raw: str) -> str:
    try:
        re.compile(raw)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return raw


def _buffer(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None
    if value < MIN_BUFFER:
        raise ValueError(f"must be at least {MIN_BUFFER}")
    return value


def _path(raw: str) -> str:
    return raw


def _log_level(raw: str) -> LogLevel:
    value = raw.strip().lower()
    for choice in get_args(LogLevel):
        if value == choice:
            return cast(LogLevel, choice)
    raise ValueError(f"expected one of {', '.join(get_args(LogLevel))}")


@dataclass(frozen=True)
class Setting:
    """One row of the settings table: the single source for argparse, env lookup and docs."""

    name: str  # Config field
    env: str
    flag: str
    parse: Callable[[str], Any]
    doc_default: str
    help: str
    metavar: str = "VALUE"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "bootstrap_servers",
        "KAFKA_BOOTSTRAP_SERVERS",
        "--bootstrap-servers",
        _bootstrap_servers,
        "`127.0.0.1:9092`",
        "Kafka brokers to bootstrap from, comma-separated host:port.",
        "HOST:PORT[,...]",
    ),
    Setting(
        "topic",
        "PRODUCER_TOPIC",
        "--topic",
        _topic,
        "`system-metrics`",
        "Topic the samples are written to.",
        "NAME",
    ),
    Setting(
        "interval",
        "PRODUCER_INTERVAL",
        "--interval",
        _interval,
        "`1.0`",
        f"Seconds between samples (at least {MIN_INTERVAL}); the first one comes one interval after start.",
        "SECONDS",
    ),
    Setting(
        "host_id",
        "PRODUCER_HOST_ID",
        "--host-id",
        _host_id,
        "the machine's hostname",
        "Host id: the message key and `host` field (1–255 characters).",
        "ID",
    ),
    Setting(
        "metrics",
        "PRODUCER_METRICS",
        "--metrics",
        _metrics,
        "`" + ",".join(samplers.families()) + "`",
        "Metric families to sample, comma-separated (see docs/metrics.md).",
        "FAMILY[,...]",
    ),
    Setting(
        "per_core",
        "PRODUCER_PER_CORE",
        "--per-core",
        _bool,
        "`true`",
        "Also send each core's busy % (`cpu.core<N>.percent`); false for hosts with hundreds of cores.",
        "true|false",
    ),
    Setting(
        "per_device",
        "PRODUCER_PER_DEVICE",
        "--per-device",
        _bool,
        "`true`",
        "Also send per-disk, per-interface and per-mount metrics; false keeps only the totals.",
        "true|false",
    ),
    Setting(
        "disk_exclude",
        "PRODUCER_DISK_EXCLUDE",
        "--disk-exclude",
        _regex,
        f"`{DEFAULT_DISK_EXCLUDE}`",
        "Block devices to leave out (regular expression, searched in the name); loops and partitions by default.",
        "REGEX",
    ),
    Setting(
        "net_exclude",
        "PRODUCER_NET_EXCLUDE",
        "--net-exclude",
        _regex,
        f"`{DEFAULT_NET_EXCLUDE}`",
        "Network interfaces to leave out (regular expression, searched in the name).",
        "REGEX",
    ),
    Setting(
        "buffer_samples",
        "PRODUCER_BUFFER_SAMPLES",
        "--buffer-samples",
        _buffer,
        "`1800`",
        f"Samples held while Kafka is unreachable (at least {MIN_BUFFER}); beyond that the oldest are dropped "
        "and counted. 1800 = 30 min at 1 Hz.",
        "N",
    ),
    Setting(
        "flush_timeout",
        "PRODUCER_FLUSH_TIMEOUT",
        "--flush-timeout",
        _timeout,
        "`10.0`",
        "Seconds to wait on shutdown for buffered samples to be delivered before dropping them.",
        "SECONDS",
    ),
    Setting(
        "log_level",
        "PRODUCER_LOG_LEVEL",
        "--log-level",
        _log_level,
        "`info`",
        f"Log level on stderr: {', '.join(get_args(LogLevel))}.",
        "LEVEL",
    ),
    Setting(
        "env_file",
        ENV_FILE_ENV,
        "--env-file",
        _path,
        "none",
        "File of NAME=VALUE lines read before the settings: the environment and flags override it.",
        "PATH",
    ),
)


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """One flag per setting. Values stay strings here so flags and env share one validation path."""
    for s in SETTINGS:
        parser.add_argument(
            s.flag,
            dest=s.name,
            default=None,
            metavar=s.metavar,
            help=f"{s.help} Env {s.env}; default {s.doc_default.strip('`')}.".replace("%", "%%"),
        )


def load(cli: Mapping[str, Any], environ: Mapping[str, str]) -> Config:
    """Build the Config from parsed flags (name -> str or None), the environment and the env file."""
    environ = _with_env_file(cli, environ)
    values: dict[str, Any] = {}
    for s in SETTINGS:
        raw = cli.get(s.name)
        source = s.flag
        if raw is None:
            raw = environ.get(s.env) or None
            source = s.env
        if raw is None:
            continue  # the dataclass default
        try:
            values[s.name] = s.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}={raw!r}: {exc}") from None
    values["kafka"] = MappingProxyType(kafka_passthrough(environ))
    return Config(**values)


def _with_env_file(cli: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """The environment on top of the env file's variables (when one is given): the environment wins."""
    path, source = cli.get("env_file"), "--env-file"
    if path is None:
        path, source = environ.get(ENV_FILE_ENV) or None, ENV_FILE_ENV
    merged: dict[str, str] = {}
    if path is not None:
        try:
            merged = envfile.read(path)
        except OSError as exc:
            raise ConfigError(f"{source}={path!r}: cannot read: {exc.strerror or exc}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}={path!r}: {exc}") from None
        merged.pop(ENV_FILE_ENV, None)
    merged.update({k: v for k, v in environ.items() if v})
    if path is not None:
        merged[ENV_FILE_ENV] = path
    return merged


def env_name(kafka_key: str) -> str:
    """The variable a librdkafka key comes from: `security.protocol` -> KAFKA_SECURITY_PROTOCOL."""
    return KAFKA_PREFIX + kafka_key.upper().replace(".", "_")


def kafka_passthrough(environ: Mapping[str, str]) -> dict[str, str]:
    """librdkafka settings from `KAFKA_*` variables (empty values count as unset)."""
    out = {}
    for name, value in environ.items():
        if name.startswith(KAFKA_PREFIX) and name not in NOT_CLIENT_SETTINGS and value:
            key = name[len(KAFKA_PREFIX) :].lower().replace("_", ".")
            if key:
                out[key] = value
    return dict(sorted(out.items()))


def is_secret(key: str) -> bool:
    lowered = key.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def mask(settings: Mapping[str, Any]) -> dict[str, Any]:
    """A copy with the values of secret keys replaced by `***`."""
    return {k: (MASK if is_secret(k) else v) for k, v in settings.items()}


def _cell(text: str) -> str:
    return text.replace("|", "\\|")  # GitHub renders `\|` inside a table cell, even in code, as `|`


def markdown_table(settings: Iterable[Setting] = SETTINGS) -> str:
    """The table docs/configuration.md shows under "Producer" (a test checks it is there verbatim)."""
    rows = ["| flag | environment | default | meaning |", "|---|---|---|---|"]
    rows += [f"| `{s.flag}` | `{s.env}` | {_cell(s.doc_default)} | {_cell(s.help)} |" for s in settings]
    return "\n".join(rows)
