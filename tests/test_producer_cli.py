"""producer.cli: the flags, `--dry-run --once` in a real process, signals, and the `--once` failure path."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from producer import cli, config, samplers
from producer.service import Service
from producer.sink import PrintSink
from tests.support import free_port

ROOT = Path(__file__).resolve().parent.parent


def _run_producer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "producer", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_dry_run_once_prints_one_v1_json_line() -> None:
    before_ms = time.time() * 1000
    proc = _run_producer("--dry-run", "--once", "--interval", "0.2", "--host-id", "dry-host")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1
    value = orjson.loads(lines[0])
    assert value["v"] == 1
    assert value["host"] == "dry-host"
    assert value["seq"] == 0
    assert before_ms <= value["ts"] <= time.time() * 1000
    assert 0.0 <= value["metrics"]["cpu.percent"] <= 100.0
    assert 0.0 < value["metrics"]["mem.used_percent"] < 100.0


def test_metrics_flag_selects_families() -> None:
    proc = _run_producer("--dry-run", "--once", "--interval", "0.1", "--metrics", "memory")
    assert proc.returncode == 0, proc.stderr
    names = set(orjson.loads(proc.stdout)["metrics"])
    memory = {spec.name for spec in samplers.create(["memory"])[0].metrics}
    agent = {spec.name for spec in samplers.AgentSampler.metrics}
    assert {"mem.used_percent", "mem.total_bytes", "mem.available_bytes", "mem.used_bytes"} <= names
    assert {"agent.samples_sent", "agent.buffer_depth", "agent.rss_bytes"} <= names  # always there
    assert names <= memory | agent


def test_sigterm_stops_a_continuous_run_with_exit_0() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer", "--dry-run", "--interval", "0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # blocks until the first sample: the loop is running
        assert orjson.loads(first)["seq"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_signals_ask_the_service_to_stop_and_handlers_are_restored() -> None:
    service = Service([], PrintSink(), host_id="h", interval=1.0, flush_timeout=1.0)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with cli._stop_on_signals(service):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not service.stopping and time.monotonic() < deadline:
            time.sleep(0.001)  # the handler runs between bytecodes of the main thread
        assert service.stopping
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_once_fails_clearly_when_the_sample_is_not_delivered(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(cli, "ONCE_TIMEOUT", 1.0)
    started = time.monotonic()
    code = cli.main(["--once", "--interval", "0.1", "--bootstrap-servers", f"127.0.0.1:{port}"], environ={})
    assert code == 1
    assert time.monotonic() - started < 15
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(
        f"metrics-producer: sample not delivered to 127.0.0.1:{port} (topic 'system-metrics')"
    )
    assert "within 1 s" in err


def test_bad_kafka_passthrough_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["--once", "--interval", "0.1"], environ={"KAFKA_NO_SUCH_SETTING": "1"})
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == "KAFKA_NO_SUCH_SETTING='1': No such configuration property: \"no.such.setting\""


def test_help_lists_every_setting_and_mode() -> None:
    text = cli.build_parser().format_help()
    for s in config.SETTINGS:
        assert s.flag in text
        assert s.env in text
    for flag in ("--once", "--dry-run", "--print-config"):
        assert flag in text


def test_second_signal_forces_exit_during_the_flush() -> None:
    from tests.test_producer_sdnotify import Systemd

    systemd = Systemd()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_"))}
    env.update(NOTIFY_SOCKET=systemd.address, WATCHDOG_USEC="300000")
    proc = subprocess.Popen(
        [sys.executable, "-m", "producer", "--interval", "0.1", "--flush-timeout", "120",
         "--bootstrap-servers", f"127.0.0.1:{free_port()}"],  # nobody there: the flush would take 120 s
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        systemd.wait_for("READY=1", timeout=30)
        systemd.wait_for("WATCHDOG=1", timeout=5)
        proc.send_signal(signal.SIGINT)
        systemd.wait_for("STOPPING=1", timeout=10)  # first Ctrl-C: stopped sampling, now flushing
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=10)
        assert time.monotonic() - started < 5
        assert proc.returncode == cli.FORCED_EXIT == 130
        assert stderr.strip().splitlines()[-1] == "metrics-producer: SIGINT again: exiting without flushing"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        systemd.close()
