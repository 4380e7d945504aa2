"""Broker gone: the dashboard shows it, keeps its page connected, and recovers without a restart."""

from __future__ import annotations

import time

import orjson
import pytest
from websockets.sync.client import connect

from broker.launcher import KafkaBroker, fetch_libs
from tests.support import Process, free_port, healthz, start_dashboard

pytestmark = pytest.mark.integration


def test_broker_outage_is_visible_and_recovers_without_restart(tmp_path):
    fetch_libs()
    broker = KafkaBroker(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "kafka")
    broker.start()
    broker.create_topic("outage", partitions=1)
    dash, url = start_dashboard(tmp_path, broker.bootstrap_servers, "outage")
    producer = Process(["-m", "producer", "--bootstrap-servers", broker.bootstrap_servers, "--topic", "outage",
                        "--host-id", "outage-host", "--interval", "0.2"], tmp_path / "producer.log")
    try:
        # max_queue=None: keep reading (and answering pings) while broker.start() blocks the test for
        # up to a minute; with the default 16-frame queue the client stopped reading after 16 s of
        # heartbeats and its keepalive closed the socket (1011) before the broker was back.
        with connect(url.replace("http", "ws") + "ws", max_queue=None) as ws:
            ws.send('{"type":"ready"}')
            statuses: list[str] = []
            newest = {"ts": 0}

            def pump(until, what: str) -> None:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    # a status heartbeat comes every second, but a loaded machine restarting a JVM can
                    # stall the dashboard for longer: only the 60 s deadline bounds the wait
                    try:
                        frame = orjson.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                    except TimeoutError:
                        break
                    if "status" in frame:
                        statuses.append(frame["status"]["kafka"])
                    for s in frame.get("series", []):
                        newest["ts"] = max(newest["ts"], *s["ts"])
                    if until():
                        return
                raise AssertionError(f"no {what} in 60 s; {len(statuses)} statuses, last: {statuses[-10:]}, "
                                     f"health: {healthz(url)}")

            pump(lambda: newest["ts"] > 0, "first sample")
            broker.stop()
            pump(lambda: statuses and statuses[-1] == "disconnected", "disconnected state")
            assert healthz(url)["kafka"]["state"] == "disconnected"
            down_at = int(time.time() * 1000)

            broker.start()
            pump(lambda: statuses[-1] == "connected" and newest["ts"] > down_at, "recovery with new samples")
            assert healthz(url)["kafka"]["state"] == "connected"
    finally:
        producer.stop()
        dash.stop()
        broker.stop()
