"""Run the agent's hardened unit under a real systemd and check what docs/deployment.md promises.

    sudo .venv/bin/python -m producer.systemd.check      # or: sudo make systemd-check

Most hosts this product is built on have no systemd as PID 1 (containers, CI sandboxes), so the unit
cannot be exercised by `make test`. This script makes one: a Debian bookworm root filesystem
(debootstrap, cached in --rootfs), booted with its own systemd as PID 1 in new PID/mount/UTS/IPC
namespaces (the host network is shared, so the agent reaches a broker on the host's loopback). In it,
`producer/systemd/install.sh install` installs the agent exactly as on a real host, then:

1. the unit comes up active through Type=notify (READY=1) under DynamicUser and all the hardening;
2. samples arrive on Kafka keyed by host with every family (cpu, memory, disk, fs, network, system);
3. a loop that stops pinging (SIGSTOP) is killed by WatchdogSec and restarted (NRestarts grows);
4. Kafka stopped for 20 s and restarted: every sample taken meanwhile arrives, in order, once;
5. `systemctl stop` delivers what is held and the unit ends with status 0;
6. `install.sh uninstall` removes unit and venv.

It prints `systemd-analyze security` for the unit and exits 0 only if every check passed. Needs root,
debootstrap and network access to a Debian mirror and PyPI (first run ~4 min, then ~2 min). Never run
systemd like this without the separate root: its boot-time tmpfiles would clean the host's /tmp.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from confluent_kafka import Consumer, TopicPartition

from broker.launcher import KafkaBroker, pick_free_ports

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
UNIT = "metrics-producer"
HOST_ID = "systemd-check"
FAMILIES = ("cpu.percent", "mem.used_percent", "disk.read_bytes_per_s", "fs.max_used_percent",
            "net.rx_bytes_per_s", "system.processes", "agent.samples_sent")


class CheckFailed(RuntimeError):
    pass


def say(msg: str) -> None:
    print(f"systemd-check: {msg}", flush=True)


def wait_for(what: str, predicate: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise CheckFailed(f"timed out after {timeout:.0f} s waiting for {what}")


class Machine:
    """A root filesystem with systemd as PID 1 in its own namespaces; commands run inside via nsenter."""

    def __init__(self, rootfs: Path) -> None:
        self.rootfs = rootfs
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid1 = 0

    def build(self) -> None:
        if (self.rootfs / ".complete").exists():
            return
        say(f"debootstrap bookworm into {self.rootfs} (once; a few minutes)")
        shutil.rmtree(self.rootfs, ignore_errors=True)
        self.rootfs.mkdir(parents=True)
        subprocess.run(["debootstrap", "--variant=minbase", "--include=systemd,systemd-sysv,dbus,python3,"
                        "python3-venv,procps", "bookworm", str(self.rootfs), "http://deb.debian.org/debian"],
                       check=True, stdout=subprocess.DEVNULL)
        (self.rootfs / "etc/hostname").write_text("systemd-check\n")
        (self.rootfs / ".complete").touch()

    def boot(self) -> None:
        # the host's resolver and CA bundle (a TLS-intercepting proxy may sit between us and PyPI)
        shutil.copy("/etc/resolv.conf", self.rootfs / "etc/resolv.conf")
        ca = Path("/etc/ssl/certs/ca-certificates.crt")
        if ca.exists():
            (self.rootfs / "etc/ssl/certs").mkdir(parents=True, exist_ok=True)
            shutil.copy(ca, self.rootfs / "etc/ssl/certs/ca-certificates.crt")
        inner = (f"mount --bind {self.rootfs} {self.rootfs} && exec env -i container=systemd-check "
                 f"/usr/sbin/chroot {self.rootfs} /lib/systemd/systemd --system --log-target=journal")
        self.proc = proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--propagation", "private",
             "sh", "-c", inner], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

        def pid1() -> int | None:
            out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
            return int(out.split()[0]) if out.split() else None

        self.pid1 = wait_for("systemd to start", pid1, 30)
        def booted() -> str | None:
            state = self.run("systemctl", "is-system-running", check=False).strip()
            return state if state in ("running", "degraded") else None

        state = wait_for("the system to finish booting", booted, 90)
        say(f"systemd {self.run('systemctl', '--version').split()[1]} is PID 1 in the namespace: {state}")

    def run(self, *cmd: str, check: bool = True, env: dict[str, str] | None = None) -> str:
        full = ["nsenter", "-t", str(self.pid1), "-m", "-p", "-u", "-i", "-r", "-w", "env", "-i",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"]
        full += [f"{k}={v}" for k, v in (env or {}).items()] + list(cmd)
        res = subprocess.run(full, capture_output=True, text=True)
        if check and res.returncode != 0:
            raise CheckFailed(f"{' '.join(cmd)} exited {res.returncode}: {res.stderr.strip()[-500:]}")
        return res.stdout

    def show(self, *props: str) -> dict[str, str]:
        out = self.run("systemctl", "show", UNIT, *(f"-p{p}" for p in props))
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def host_pid(self, inner_pid: str) -> int:
        """The host's PID of a process known inside the namespace by `inner_pid`."""
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("NSpid:") and line.split()[1:] and line.split()[-1] == inner_pid \
                            and len(line.split()) > 2:
                        return int(entry.name)
        raise CheckFailed(f"no host process for PID {inner_pid} in the namespace")

    def shutdown(self) -> None:
        if self.proc is not None:
            if self.pid1:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid1, signal.SIGKILL)  # PID 1 of the namespace: takes all of it along
            self.proc.wait(timeout=30)


class Topic:
    """Everything the agent wrote to the topic, read from the beginning."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "systemd-check",
                                  "enable.auto.commit": False})
        parts = self.consumer.list_topics(topic, timeout=30).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        self.rows: list[dict[str, Any]] = []

    def drain(self) -> list[dict[str, Any]]:
        while batch := self.consumer.consume(1000, 1.0):
            for msg in batch:
                if msg.error() is None:
                    assert msg.key() == HOST_ID.encode(), msg.key()
                    self.rows.append(json.loads(msg.value() or b"null"))
        return self.rows


def check_contiguous(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Every run of the agent numbers its samples from 0: each run's seq must be 0..n-1, ts rising."""
    runs: list[list[dict[str, Any]]] = []
    for row in sorted(rows, key=lambda r: r["ts"]):
        if row["seq"] == 0 or not runs:
            runs.append([])
        runs[-1].append(row)
    for run in runs:
        seqs = [r["seq"] for r in run]
        if seqs != list(range(len(seqs))):
            missing = sorted(set(range(max(seqs) + 1)) - set(seqs))[:10]
            raise CheckFailed(f"samples lost or duplicated in a run: {len(seqs)} seqs, missing {missing}")
    return len(runs), len(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m producer.systemd.check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--rootfs", type=Path, default=Path("/var/tmp/metrics-producer-systemd-check"),
                    help="Debian root filesystem (built once, then reused)")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("systemd-check: needs root (it boots a systemd in namespaces)", file=sys.stderr)
        return 2
    for tool in ("debootstrap", "unshare", "nsenter"):
        if not shutil.which(tool):
            print(f"systemd-check: {tool} is missing (apt-get install debootstrap util-linux)", file=sys.stderr)
            return 2

    machine = Machine(args.rootfs)
    work = Path(tempfile.mkdtemp(prefix="systemd-check-"))
    port, controller_port = pick_free_ports(2)  # fixed: the restarted broker must be where the agent looks
    broker = KafkaBroker(port, controller_port, data_dir=work / "kafka")
    try:
        machine.build()
        broker.start()
        broker.create_topic("system-metrics", partitions=1)
        machine.boot()

        src = args.rootfs / "src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir()
        for part in ("producer", "docs", "requirements.txt"):
            (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, src / part)
        shutil.rmtree(src / "producer/systemd/__pycache__", ignore_errors=True)
        machine.run("sh", "-c", "rm -f /etc/default/metrics-producer")
        settings = f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}\nPRODUCER_HOST_ID={HOST_ID}\n"
        machine.run("sh", "-c", f"mkdir -p /etc/default && printf '{settings}' > /etc/default/metrics-producer")
        say("install.sh install (venv + pip in /opt, unit, enable --now)")
        machine.run("sh", "/src/producer/systemd/install.sh", "install")

        # 1. READY=1 reached systemd: a Type=notify unit is only "active" after it
        def active(*props: str) -> dict[str, str] | None:
            s = machine.show("ActiveState", *props)
            return s if s["ActiveState"] == "active" else None

        state = wait_for("the unit to be active (READY=1)", lambda: active("SubState", "StatusText"), 60)
        say(f"1. active/{state['SubState']} via READY=1; status: {state['StatusText']!r}")

        # 2. samples with every family, keyed by host
        topic = Topic(broker.bootstrap_servers, "system-metrics")
        wait_for("5 samples on the topic", lambda: len(topic.drain()) >= 5, 60)
        rows = list(topic.rows)
        missing = [m for m in FAMILIES if m not in rows[-1]["metrics"]]
        if missing:
            raise CheckFailed(f"families missing under the hardened unit: {missing}")
        fs = sorted(k for k in rows[-1]["metrics"] if k.startswith("fs.") and k.endswith(".used_percent"))
        say(f"2. {len(rows)} samples keyed {HOST_ID!r}, {len(rows[-1]['metrics'])} series incl. {fs}")

        # 3. watchdog: a stalled loop is killed and restarted
        before = machine.show("NRestarts", "MainPID", "WatchdogUSec")
        stalled_at = time.time() * 1000
        os.kill(machine.host_pid(before["MainPID"]), signal.SIGSTOP)
        def restarted() -> dict[str, str] | None:
            s = active("NRestarts", "MainPID")
            return s if s and s["NRestarts"] != before["NRestarts"] else None

        after = wait_for("the watchdog to restart the stalled agent", restarted, 120)
        journal = machine.run("journalctl", "--no-pager", "-o", "cat", "-u", UNIT)
        if "Watchdog timeout" not in journal:
            raise CheckFailed("restarted, but the journal has no 'Watchdog timeout' line")
        say(f"3. SIGSTOP pid {before['MainPID']} -> 'Watchdog timeout' after {before['WatchdogUSec']}, "
            f"restarted as pid {after['MainPID']} (NRestarts={after['NRestarts']})")

        # 4. Kafka down for 20 s: nothing lost, in order, once
        wait_for("the restarted agent to deliver", lambda: any(
            r["seq"] == 3 and r["ts"] > stalled_at for r in topic.drain()), 90)
        broker.stop()
        down_at = time.time() * 1000
        time.sleep(20)
        broker.start()
        wait_for("samples taken during the outage to arrive", lambda: any(
            r["ts"] > down_at + 25_000 for r in topic.drain()), 120)
        runs, total = check_contiguous(topic.drain())
        during = sum(1 for r in topic.rows if down_at <= r["ts"] <= down_at + 20_000)
        say(f"4. broker down 20 s: {during} samples taken meanwhile all arrived; {total} samples in "
            f"{runs} runs, seq contiguous, none duplicated")

        # 5. systemctl stop: flush, exit 0
        machine.run("systemctl", "stop", UNIT)
        end = machine.show("Result", "ExecMainStatus", "ActiveState")
        if end["Result"] != "success" or end["ExecMainStatus"] != "0":
            raise CheckFailed(f"stop did not end cleanly: {end}")
        stopped = [line for line in machine.run("journalctl", "--no-pager", "-o", "cat", "-u", UNIT).splitlines()
                   if "stopped:" in line]
        say(f"5. systemctl stop -> status 0, {stopped[-1].split('producer.service: ')[-1] if stopped else '?'}")

        print(machine.run("systemd-analyze", "security", "--no-pager", UNIT, check=False).splitlines()[-1])

        # 6. uninstall
        machine.run("sh", "/src/producer/systemd/install.sh", "uninstall")
        if machine.run("systemctl", "list-unit-files", UNIT + ".service", check=False).count(UNIT):
            raise CheckFailed("unit still installed after uninstall")
        say("6. uninstall removed the unit and /opt/metrics-producer")
        say("all checks passed")
        return 0
    except (CheckFailed, subprocess.CalledProcessError) as exc:
        say(f"FAILED: {exc}")
        if machine.pid1:
            print(machine.run("journalctl", "--no-pager", "-n", "40", check=False), file=sys.stderr)
        return 1
    finally:
        machine.shutdown()
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
