"""Command line: `metrics-producer` / `python -m producer`.

Exit codes: 0 done (including stop by SIGTERM/SIGINT), 1 runtime failure (`--once` sample not
delivered, fatal Kafka client error), 2 bad configuration, 130 a second SIGINT/SIGTERM cut the final
flush short.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType

from producer import config, samplers
from producer.errors import ConfigError, SinkError
from producer.sdnotify import Notifier
from producer.service import Service
from producer.sink import KafkaSink, PrintSink, Sink, client_config

# `--once`: how long the single sample may take to reach the broker before we report failure.
ONCE_TIMEOUT = 30.0
PROG = "metrics-producer"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORCED_EXIT = 130  # 128 + SIGINT, as a shell reports a process killed by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Sample system metrics with psutil and publish them to Kafka (docs/protocol.md, v1).",
        epilog="Every other KAFKA_<NAME> environment variable is passed to librdkafka as <name> "
        "(KAFKA_SECURITY_PROTOCOL -> security.protocol).",
    )
    mode = parser.add_argument_group("run mode")
    mode.add_argument(
        "--once",
        action="store_true",
        help=f"take one sample (one interval after start), deliver it, exit; exit 1 if not delivered "
        f"within {ONCE_TIMEOUT:g} s",
    )
    mode.add_argument("--dry-run", action="store_true", help="print each message as a JSON line, no Kafka")
    mode.add_argument(
        "--print-config", action="store_true", help="print the effective settings (secrets masked) and exit"
    )
    config.add_arguments(parser.add_argument_group("settings (flag > environment > default)"))
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = config.load(vars(args), os.environ if environ is None else environ)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    overrides = {"message_timeout_ms": int(ONCE_TIMEOUT * 1000)} if args.once else {}
    if args.print_config:
        shown = cfg.masked()
        shown["kafka"] = config.mask(client_config(cfg, **overrides))
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return 0

    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr, format=LOG_FORMAT)
    sink: Sink = (
        PrintSink()
        if args.dry_run
        else KafkaSink(client_config(cfg, **overrides), cfg.topic, capacity=cfg.buffer_samples)
    )
    service = Service(
        samplers.create(cfg.metrics, cfg.sampler_options()),
        sink,
        host_id=cfg.host_id,
        interval=cfg.interval,
        flush_timeout=max(cfg.flush_timeout, ONCE_TIMEOUT + 5) if args.once else cfg.flush_timeout,
        notifier=Notifier(),
    )
    try:
        sink.start()  # librdkafka checks the KAFKA_* settings here: a bad one is a config error
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.getLogger(__name__).info(
        "sampling %s every %g s as %r -> %s",
        ",".join(cfg.metrics),
        cfg.interval,
        cfg.host_id,
        "stdout" if args.dry_run else f"{cfg.bootstrap_servers} topic {cfg.topic!r}",
    )
    try:
        with _stop_on_signals(service):
            service.run(once=args.once)
    except SinkError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # --dry-run piped into e.g. `head`: the reader is gone, that is the end
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0

    if args.once and isinstance(sink, KafkaSink) and sink.stats.sent < 1 and not service.stopping:
        reason = _failure_reason(sink)
        print(
            f"{PROG}: sample not delivered to {cfg.bootstrap_servers} (topic {cfg.topic!r}) "
            f"within {ONCE_TIMEOUT:g} s: {reason}",
            file=sys.stderr,
        )
        return 1
    return 0


def _failure_reason(sink: KafkaSink) -> str:
    delivery, latest = sink.last_delivery_error, sink.last_error
    if delivery is None:
        return latest.str() if latest is not None else "no acknowledgement"
    if latest is None or latest is delivery:
        return delivery.str()
    return f"{delivery.str()} (last client error: {latest.str()})"


@contextmanager
def _stop_on_signals(service: Service) -> Iterator[None]:
    """SIGTERM and SIGINT ask the service to stop (it then flushes, bounded by --flush-timeout); a second
    one exits at once, dropping whatever is still held. The previous handlers come back afterwards."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if service.stopping:
            # os.write, not logging: a signal handler may interrupt a logging call holding its lock
            os.write(2, f"{PROG}: {signal.Signals(signum).name} again: exiting without flushing\n".encode())
            os._exit(FORCED_EXIT)
        service.stop()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
