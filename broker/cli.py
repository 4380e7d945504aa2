"""`python -m broker fetch | run`: get the Kafka jars, or run a local broker until Ctrl-C / SIGTERM.

`run --sasl-ssl` adds SASL_SSL (PLAIN, SCRAM-SHA-256/512) and SSL listeners with a generated CA; the
client settings (KAFKA_* lines, password included) go to a 0600 file in the data dir, never to the
terminal.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from broker.launcher import RUN_DIR, BrokerError, KafkaBroker, SecurityConfig, fetch_libs

PROG = "python -m broker"
DEFAULT_TOPIC = "system-metrics"
SASL_USER = "metrics"
CLIENT_ENV_FILE = "client-sasl-ssl.env"


class UsageError(ValueError):
    """A bad setting; the message is one line naming the key and the value."""


def parse_port(key: str, raw: str) -> int:
    """A TCP port 0-65535 (0 = pick a free one); `key` names the flag or env var in the error."""
    try:
        port = int(raw)
    except ValueError:
        raise UsageError(f"{key}={raw!r}: not a port number (0-65535)") from None
    if not 0 <= port <= 65535:
        raise UsageError(f"{key}={raw!r}: not a port number (0-65535)")
    return port


def parse_positive(key: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise UsageError(f"{key}={raw!r}: not a whole number") from None
    if value < 1:
        raise UsageError(f"{key}={raw!r}: must be at least 1")
    return value


def parse_topic(key: str, raw: str) -> str:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if not raw or len(raw) > 249 or not set(raw) <= allowed or raw in (".", ".."):
        raise UsageError(f"{key}={raw!r}: not a Kafka topic name (1-249 of [a-zA-Z0-9._-])")
    return raw


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fetch = commands.add_parser("fetch", help="copy the broker jars from Maven into broker/libs")
    fetch.add_argument("--force", action="store_true", help="fetch even if broker/libs is complete")
    run = commands.add_parser("run", help="start a broker, create the topic, run until Ctrl-C")
    run.add_argument("--port", default="9092", help="broker port on 127.0.0.1 (0 = any free port)")
    run.add_argument("--controller-port", default="9093", help="KRaft controller port (0 = any free)")
    run.add_argument("--data-dir", default=str(RUN_DIR / "kafka"), help="kept across runs (history)")
    run.add_argument("--topic", default=DEFAULT_TOPIC, help="topic to create ('' for none)")
    run.add_argument("--partitions", default="3", help="partitions of that topic")
    run.add_argument("--retention-hours", default="24", help="how long the broker keeps messages")
    run.add_argument("--timeout", default="90", help="seconds to wait for the broker to be ready")
    run.add_argument("--sasl-ssl", action="store_true",
                     help=f"also listen with SASL_SSL and SSL (user {SASL_USER!r}, fresh random password; "
                     f"client settings in <data dir>/{CLIENT_ENV_FILE})")
    run.add_argument("--sasl-ssl-port", default="9094", help="SASL_SSL port with --sasl-ssl (0 = any free)")
    run.add_argument("--ssl-port", default="9095", help="SSL (TLS only) port with --sasl-ssl (0 = any free)")
    return parser


class _Stop(Exception):
    """Raised from the SIGTERM handler (SIGINT raises KeyboardInterrupt)."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _run(args: argparse.Namespace) -> int:
    port = parse_port("--port", args.port)
    controller_port = parse_port("--controller-port", args.controller_port)
    partitions = parse_positive("--partitions", args.partitions)
    retention_hours = parse_positive("--retention-hours", args.retention_hours)
    timeout = parse_positive("--timeout", args.timeout)
    topic = parse_topic("--topic", args.topic) if args.topic else ""
    if port and port == controller_port:
        raise UsageError(f"--controller-port={args.controller_port!r}: same as --port")
    security = None
    if args.sasl_ssl:
        sasl_ssl_port = parse_port("--sasl-ssl-port", args.sasl_ssl_port)
        ssl_port = parse_port("--ssl-port", args.ssl_port)
        taken = {port, controller_port} - {0}
        for key, raw, value in (("--sasl-ssl-port", args.sasl_ssl_port, sasl_ssl_port),
                                ("--ssl-port", args.ssl_port, ssl_port)):
            if value and value in taken:
                raise UsageError(f"{key}={raw!r}: same as another port")
            taken.add(value)
        security = SecurityConfig(sasl_ssl_port=sasl_ssl_port, ssl_port=ssl_port)  # random password
    fetch_libs()
    broker = KafkaBroker(
        port, controller_port, Path(args.data_dir), partitions=partitions, retention_hours=retention_hours,
        security=security,
    )
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        broker.start(timeout=timeout)
        if topic:
            broker.create_topic(topic, partitions)
        print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}", flush=True)
        if security is not None:
            env_file = write_client_env(broker)
            print(f"SASL_SSL on {broker.sasl_ssl_bootstrap_servers}, SSL on {broker.ssl_bootstrap_servers}; "
                  f"client settings (secret): {env_file}", file=sys.stderr, flush=True)
        print(
            f"Kafka ready in {broker.startup_seconds:.1f}s (topic {topic or '-'}, data {broker.data_dir}); "
            "Ctrl-C to stop",
            file=sys.stderr,
            flush=True,
        )
        idle = threading.Event()
        while broker.poll() is None:
            idle.wait(0.5)  # signal handlers run in between
        print(f"{PROG}: Kafka exited with status {broker.poll()}:\n{broker.log_tail()}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Stop):
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        status = broker.stop()
        if status is not None:
            print(f"Kafka stopped (status {status})", file=sys.stderr)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def write_client_env(broker: KafkaBroker) -> Path:
    """KAFKA_* lines for SCRAM-SHA-512 over SASL_SSL, in a file only the owner can read."""
    path = Path(broker.data_dir or ".") / CLIENT_ENV_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        env = broker.client_env("SCRAM-SHA-512")
        env["KAFKA_BOOTSTRAP_SERVERS"] = env.pop("KAFKA_BOOTSTRAP_SERVERS")
        out.writelines(f"{key}={value}\n" for key, value in env.items())
    path.chmod(0o600)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `metrics-broker`. Exit 0 ok, 1 broker failure, 2 bad arguments."""
    try:
        args = _parser().parse_args(argv)
        if args.command == "fetch":
            print(fetch_libs(force=args.force))
            return 0
        return _run(args)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except BrokerError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
