"""`make run`: the local broker, the topic, the producer and the dashboard, stopped together.

    python -m broker.stack

Environment: KAFKA_BOOTSTRAP_SERVERS (use that cluster, start no broker), KAFKA_PORT (9092),
KAFKA_CONTROLLER_PORT (9093), METRICS_TOPIC (system-metrics), DASH_PORT (8050, for the printed URL;
dash_app reads it itself). The broker keeps its data in .run/kafka, so a restart keeps the history.
Ctrl-C or SIGTERM stops the producer and dashboard (SIGTERM, SIGKILL after 10 s), then the broker.
If any of the three dies, the rest are stopped and the exit status is 1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from types import FrameType

from broker.cli import DEFAULT_TOPIC, UsageError, parse_port, parse_topic
from broker.launcher import (
    RUN_DIR,
    BrokerError,
    ExternalKafka,
    KafkaBroker,
    external_bootstrap,
    fetch_libs,
    spawn,
)

PROG = "broker.stack"
# Settings of this script only. The children are not given them: they pass KAFKA_* variables through
# to librdkafka as client settings, which rejects "port" and "controller.port".
BROKER_ONLY_ENV = frozenset({"KAFKA_PORT", "KAFKA_CONTROLLER_PORT"})
PARTITIONS = 3
CHILD_STOP_TIMEOUT = 10.0


class _Stop(Exception):
    """Raised from the SIGTERM handler (SIGINT raises KeyboardInterrupt)."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def child_commands(bootstrap: str, topic: str) -> dict[str, list[str]]:
    """The two child processes, by name, run with this interpreter."""
    common = ["--bootstrap-servers", bootstrap, "--topic", topic]
    return {
        "producer": [sys.executable, "-m", "producer", *common],
        "dash_app": [sys.executable, "-m", "dash_app", *common],
    }


def dashboard_url(env: Mapping[str, str]) -> str:
    return f"http://127.0.0.1:{env.get('DASH_PORT') or 8050}/"


def run(
    env: Mapping[str, str] = os.environ,
    commands: Callable[[str, str], dict[str, list[str]]] = child_commands,
) -> int:
    """Start everything, supervise until a signal (status 0) or until something dies (status 1)."""
    external = external_bootstrap(env)
    port = parse_port("KAFKA_PORT", env.get("KAFKA_PORT") or "9092")
    controller_port = parse_port("KAFKA_CONTROLLER_PORT", env.get("KAFKA_CONTROLLER_PORT") or "9093")
    topic = parse_topic("METRICS_TOPIC", env.get("METRICS_TOPIC") or DEFAULT_TOPIC)
    broker: KafkaBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = {}
    status = 0
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        if external:
            _say(f"KAFKA_BOOTSTRAP_SERVERS is set: using {external}, starting no broker")
            cluster: KafkaBroker | ExternalKafka = ExternalKafka(external)
        else:
            fetch_libs()
            broker = KafkaBroker(port, controller_port, RUN_DIR / "kafka", partitions=PARTITIONS)
            _say(f"starting Kafka on 127.0.0.1:{port or 'any free port'} (data in {broker.data_dir}) ...")
            cluster = broker.start()
            _say(f"Kafka ready at {broker.bootstrap_servers} in {broker.startup_seconds:.1f}s")
        try:
            cluster.create_topic(topic, PARTITIONS)
        except BrokerError as exc:
            if broker is not None:
                raise
            _say(f"{exc}; going on (it may exist already or be created on first use)")
        child_env = {k: v for k, v in env.items() if k not in BROKER_ONLY_ENV}
        for name, cmd in commands(cluster.bootstrap_servers, topic).items():
            children[name] = spawn(cmd, env=child_env)
        _say(f"producer and dashboard started on topic {topic!r}; Ctrl-C stops everything")
        print(f"Dashboard: {dashboard_url(env)}", flush=True)
        idle = threading.Event()
        while status == 0:
            idle.wait(0.2)  # signal handlers run in between
            for name, child in children.items():
                if child.poll() is not None:
                    _say(f"{name} exited with status {child.returncode}; stopping everything")
                    status = 1
            if broker is not None and broker.poll() is not None:
                _say(f"Kafka exited with status {broker.poll()}; stopping everything\n{broker.log_tail()}")
                status = 1
    except (KeyboardInterrupt, _Stop):
        _say("stopping ...")
    except BrokerError as exc:
        _say(str(exc))
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # finish the shutdown, bounded by the timeouts
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_children(children)
        if broker is not None:
            _say(f"Kafka stopped (status {broker.stop()})")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM all at once (one signal each), wait with one shared bound, then SIGKILL stragglers."""
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT
    for name, child in children.items():
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            _say(f"{name} ignored SIGTERM for {CHILD_STOP_TIMEOUT:.0f}s: killed")
        _say(f"{name} stopped (status {child.wait()})")


def main() -> int:
    try:
        return run()
    except UsageError as exc:
        _say(str(exc))
        return 2


if __name__ == "__main__":
    sys.exit(main())
