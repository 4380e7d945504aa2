"""Unit tests for broker/launcher.py (and the argument checks of broker/cli.py, broker/stack.py).

No JVM starts here: the real broker is exercised in tests/integration/test_broker.py.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from broker import cli, launcher, stack
from broker.launcher import BrokerError, KafkaBroker


def parse_properties(text: str) -> dict[str, str]:
    """Like java.util.Properties for our simple files: `key=value` lines, comments skipped, last wins."""
    props = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")):
            key, _, value = line.partition("=")
            props[key.strip()] = value.strip()
    return props


# --- server.properties --------------------------------------------------------------------------------


def render(**kwargs: object) -> dict[str, str]:
    args: dict[str, object] = {"port": 19092, "controller_port": 19093, "log_dirs": Path("/d/data")}
    args.update(kwargs)
    text = launcher.render_properties(**args)  # type: ignore[arg-type]
    assert "${" not in text
    return parse_properties(text)


def test_properties_listen_on_loopback_only_with_a_static_single_voter_quorum() -> None:
    props = render()
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["log.dirs"] == "/d/data"


def test_properties_carry_the_single_node_settings() -> None:
    props = render()
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
        "offsets.topic.num.partitions",
    ):
        assert props[key] == "1", key
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["log.retention.hours"] == "24"
    assert props["num.partitions"] == "3"
    assert props["auto.create.topics.enable"] == "false"


def test_properties_take_parameters_and_overrides_win() -> None:
    props = render(
        partitions=5,
        retention_hours=2,
        auto_create_topics=True,
        overrides={"log.retention.hours": 1, "num.io.threads": 2},
    )
    assert props["num.partitions"] == "5"
    assert props["auto.create.topics.enable"] == "true"
    assert props["log.retention.hours"] == "1"  # appended after the template value: the last one wins
    assert props["num.io.threads"] == "2"


# --- cluster id, ports --------------------------------------------------------------------------------


def test_cluster_id_is_22_url_safe_base64_chars() -> None:
    ids = {launcher.new_cluster_id() for _ in range(200)}
    assert len(ids) == 200
    for cluster_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id), cluster_id
        assert not cluster_id.startswith("-")


def test_cluster_id_is_redrawn_when_it_would_start_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xf8 = 0b111110.. -> first base64 digit 62, which is '-' in the URL-safe alphabet
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x04" + bytes(15))])
    monkeypatch.setattr(launcher.uuid, "uuid4", lambda: next(draws))
    assert launcher.new_cluster_id() == "BAAAAAAAAAAAAAAAAAAAAA"


def test_picked_ports_are_distinct_and_bindable() -> None:
    ports = launcher.pick_free_ports(2)
    assert len(set(ports)) == 2
    for port in ports:
        assert launcher.port_is_free(port)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_a_listening_port_is_not_free() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        assert not launcher.port_is_free(sock.getsockname()[1])


def test_start_fails_fast_when_a_fixed_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        broker = KafkaBroker(port=port, data_dir=tmp_path / "kafka")
        with pytest.raises(BrokerError, match=f"127.0.0.1:{port} is already in use"):
            broker.start()
    assert not (tmp_path / "kafka").exists()  # failed before touching anything
    assert broker.pid is None


# --- the object without a JVM ------------------------------------------------------------------------


def test_init_does_no_io(tmp_path: Path) -> None:
    broker = KafkaBroker(port=9092, controller_port=9093, data_dir=tmp_path / "kafka")
    assert not (tmp_path / "kafka").exists()
    assert broker.bootstrap_servers == "127.0.0.1:9092"
    assert broker.pid is None and broker.poll() is None
    assert broker.stop() is None  # stopping a broker that never started is harmless


def test_bootstrap_servers_needs_start_when_the_port_is_picked() -> None:
    with pytest.raises(BrokerError, match="start"):
        _ = KafkaBroker().bootstrap_servers


def test_start_names_the_fetch_command_when_jars_are_missing(tmp_path: Path) -> None:
    broker = KafkaBroker(data_dir=tmp_path / "kafka", libs_dir=tmp_path / "no-libs")
    with pytest.raises(BrokerError, match="python -m broker fetch"):
        broker.start()


def test_external_bootstrap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert launcher.external_bootstrap() is None
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "  ")
    assert launcher.external_bootstrap() is None
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    assert launcher.external_bootstrap() == "k1:9092,k2:9092"


# --- stopping by PID ---------------------------------------------------------------------------------


def sleeper() -> subprocess.Popen[bytes]:
    return launcher.spawn(["sleep", "60"])


def stubborn() -> subprocess.Popen[bytes]:
    """A child that ignores SIGTERM; returns once it has said so (so the handler is in place)."""
    code = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ignoring', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = launcher.spawn([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ignoring\n"
    proc.stdout.close()
    return proc


def test_terminate_sends_sigterm_to_that_pid_only() -> None:
    target, bystander = sleeper(), sleeper()
    try:
        assert launcher.terminate(target, timeout=10) == -15
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_terminate_escalates_to_sigkill_after_the_bound() -> None:
    proc = stubborn()
    begin = time.monotonic()
    assert launcher.terminate(proc, timeout=0.5) == -9
    assert time.monotonic() - begin >= 0.5


def test_terminate_of_an_exited_process_returns_its_status() -> None:
    proc = launcher.spawn([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait()
    assert launcher.terminate(proc) == 3


def test_stop_terminates_the_broker_process(tmp_path: Path) -> None:
    broker = KafkaBroker(data_dir=tmp_path)
    broker._proc = sleeper()
    assert broker.poll() is None
    assert broker.stop(timeout=10) == -15
    assert broker.pid is None
    assert broker.stop() is None
    assert tmp_path.exists()  # a data dir given by the caller is kept


def test_stop_kills_a_broker_that_ignores_sigterm(tmp_path: Path) -> None:
    broker = KafkaBroker(data_dir=tmp_path)
    broker._proc = stubborn()
    assert broker.stop(timeout=0.5) == -9


def test_spawned_children_get_their_own_process_group() -> None:
    proc = sleeper()
    try:
        assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
    finally:
        launcher.terminate(proc)


def test_a_data_dir_stays_locked_while_the_process_that_inherited_the_lock_lives(tmp_path: Path) -> None:
    owner, intruder = KafkaBroker(data_dir=tmp_path), KafkaBroker(data_dir=tmp_path)
    owner._lock_data_dir()
    assert owner._lock_fd is not None
    child = launcher.spawn(["sleep", "60"], pass_fds=(owner._lock_fd,))  # as the JVM inherits it
    os.pwrite(owner._lock_fd, f"pid {child.pid}\n".encode(), 0)
    owner._unlock_data_dir()  # the parent's copy is gone; the child's keeps the lock
    with pytest.raises(BrokerError, match=rf"in use by another local broker \(pid {child.pid}\)"):
        intruder._lock_data_dir()
    launcher.terminate(child)
    intruder._lock_data_dir()  # free once the child is gone
    intruder._unlock_data_dir()


# --- fetch_libs ---------------------------------------------------------------------------------------


def fake_maven(calls: list[list[str]]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """A subprocess.run stand-in for `mvn copy-dependencies` that writes one jar."""

    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        out = Path(next(arg for arg in cmd if arg.startswith("-DoutputDirectory=")).partition("=")[2])
        (out / "kafka_2.13-4.4.0.jar").write_bytes(b"jar")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    return run


def test_fetch_libs_copies_once_per_pom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pom, libs = tmp_path / "pom.xml", tmp_path / "libs"
    pom.write_text("<project/>")
    calls: list[list[str]] = []
    monkeypatch.setattr(launcher.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(launcher.subprocess, "run", fake_maven(calls))

    assert launcher.fetch_libs(libs, pom) == libs
    assert (libs / "kafka_2.13-4.4.0.jar").exists() and launcher.libs_complete(libs, pom)
    assert calls[0][:4] == ["mvn", "-q", "-B", "-Dstyle.color=never"]
    assert "-DincludeScope=runtime" in calls[0]

    launcher.fetch_libs(libs, pom)  # complete: no second Maven run
    assert len(calls) == 1
    pom.write_text("<project><!-- changed --></project>")
    assert not launcher.libs_complete(libs, pom)
    launcher.fetch_libs(libs, pom)
    assert len(calls) == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".libs-")] == []  # no staging left


def test_fetch_libs_reports_maven_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    monkeypatch.setattr(launcher.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(
        launcher.subprocess,
        "run",
        lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "[ERROR] Could not resolve kafka_2.13"),
    )
    with pytest.raises(BrokerError, match=r"(?s)exit 1.*Could not resolve kafka_2.13"):
        launcher.fetch_libs(tmp_path / "libs", pom)
    assert not (tmp_path / "libs").exists()


@pytest.mark.parametrize("missing", ["mvn", "java"])
def test_fetch_libs_names_a_missing_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project/>")
    monkeypatch.setattr(launcher.shutil, "which", lambda tool: None if tool == missing else f"/usr/bin/{tool}")
    with pytest.raises(BrokerError, match=f"'{missing}' not found on PATH"):
        launcher.fetch_libs(tmp_path / "libs", pom)


# --- command-line and environment checks (broker/cli.py, broker/stack.py) -----------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--port", "abc"], "--port='abc': not a port number"),
        (["run", "--controller-port", "70000"], "--controller-port='70000': not a port number"),
        (["run", "--partitions", "0"], "--partitions='0': must be at least 1"),
        (["run", "--topic", "a b"], "--topic='a b': not a Kafka topic name"),
        (["run", "--port", "9092", "--controller-port", "9092"], "--controller-port='9092': same as --port"),
        (["serve"], "invalid choice: 'serve'"),
    ],
)
def test_cli_rejects_bad_arguments_in_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert err.count("\n") == 1


def test_stack_rejects_a_bad_port_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.setenv("KAFKA_PORT", "x")
    assert stack.main() == 2
    assert capsys.readouterr().err == "broker.stack: KAFKA_PORT='x': not a port number (0-65535)\n"


def test_stack_children_and_url() -> None:
    commands = stack.child_commands("127.0.0.1:1", "t")
    assert commands["producer"] == [
        sys.executable, "-m", "producer", "--bootstrap-servers", "127.0.0.1:1", "--topic", "t",
    ]  # fmt: skip
    assert commands["dash_app"][1:3] == ["-m", "dash_app"]
    assert stack.dashboard_url({}) == "http://127.0.0.1:8050/"
    assert stack.dashboard_url({"DASH_PORT": "8123"}) == "http://127.0.0.1:8123/"
    assert {"KAFKA_PORT", "KAFKA_CONTROLLER_PORT"} <= stack.BROKER_ONLY_ENV
