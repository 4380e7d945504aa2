"""TLS and SASL (PLAIN, SCRAM-SHA-256/512) between Kafka and both processes, against a real local broker
with SASL_SSL and SSL listeners and a generated CA (broker.launcher.SecurityConfig)."""

from __future__ import annotations

import json
import os
import secrets
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient
from websockets.sync.client import connect

from broker import cli
from broker.launcher import BrokerError, KafkaBroker, SecurityConfig, fetch_libs, security_properties
from tests.support import ROOT, Process, free_port, wait_for

pytestmark = pytest.mark.integration

TOPIC = "secure-metrics"
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
PASSWORDS = {"alice": secrets.token_urlsafe(16), "bob": secrets.token_urlsafe(16)}


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    fetch_libs()
    broker = KafkaBroker(data_dir=tmp_path_factory.mktemp("kafka-sasl"), security=SecurityConfig(users=PASSWORDS))
    broker.start()
    try:
        broker.create_topic(TOPIC, partitions=3)
        yield broker
    finally:
        broker.stop()


def child_env(env: dict[str, str]) -> dict[str, str]:
    """The KAFKA_* settings, without any KAFKA_* the test run itself has (e.g. an external cluster)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("KAFKA_")}
    return {**base, **env}


def read_topic(conf: dict[str, str], want: int, timeout: float = 30) -> list[dict[str, Any]]:
    consumer = Consumer({**conf, "group.id": "verify", "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(3)])
        docs: list[dict[str, Any]] = []

        def enough() -> bool:
            docs.extend(orjson.loads(m.value()) for m in consumer.consume(100, 0.2) if m.error() is None)
            return len(docs) >= want

        wait_for(enough, timeout, f"{want} messages over {conf['security.protocol']}")
        return docs
    finally:
        consumer.close()


def first_error(conf: dict[str, str], timeout: float = 20) -> KafkaError:
    """Connect with `conf` (librdkafka does so on creation) and return the first client-level error."""
    errors: list[KafkaError] = []
    admin = AdminClient({**conf, "error_cb": errors.append})

    def failed() -> KafkaError | None:
        admin.poll(0.1)  # serves error_cb
        return errors[0] if errors else None

    return wait_for(failed, timeout, "a client error")


# --- no JVM: the generated settings ----------------------------------------------------------------


def test_listeners_and_jaas_settings():
    props = security_properties(SecurityConfig(users={"alice": "pw-alice-1"}), host="127.0.0.1", port=1,
                                controller_port=2, sasl_ssl_port=3, ssl_port=4, keystore=Path("/k.pem"))
    assert props["listeners"] == ("PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2,SASL_SSL://127.0.0.1:3,"
                                  "SSL://127.0.0.1:4")
    assert "CONTROLLER" not in props["advertised.listeners"]
    assert props["listener.security.protocol.map"].split(",") == [
        "CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT", "SASL_SSL:SASL_SSL", "SSL:SSL"]
    assert props["listener.name.sasl_ssl.plain.sasl.jaas.config"].endswith('user_alice="pw-alice-1";')
    assert props["ssl.keystore.type"] == "PEM"
    assert props["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"


@pytest.mark.parametrize(
    ("users", "mechanisms", "message"),
    [
        ({"al ice": "password1"}, ("PLAIN",), "user name 'al ice' must be"),
        ({"alice": 'pw"; admin=true'}, ("PLAIN",), "password '\\*\\*\\*\\*' must be"),
        ({}, ("PLAIN",), "at least one SASL user"),
        ({"alice": "password1"}, ("GSSAPI",), "choose from"),
    ],
)
def test_credentials_that_would_need_escaping_are_refused(users, mechanisms, message):
    with pytest.raises(BrokerError, match=message):
        SecurityConfig(users=users, mechanisms=mechanisms)


def test_broker_cli_refuses_clashing_ports_in_one_line(capsys: pytest.CaptureFixture[str]):
    assert cli.main(["run", "--sasl-ssl", "--port", "9092", "--sasl-ssl-port", "9092"]) == 2
    assert capsys.readouterr().err.strip() == "python -m broker: --sasl-ssl-port='9092': same as another port"
    assert cli.main(["run", "--sasl-ssl", "--ssl-port", "tls"]) == 2
    assert "--ssl-port='tls': not a port number" in capsys.readouterr().err


# --- the real broker -------------------------------------------------------------------------------


def test_the_broker_certificate_chain_and_client_env_file(secure_broker: KafkaBroker):
    tls = secure_broker.ca_file.parent
    assert stat.S_IMODE(tls.stat().st_mode) == 0o700
    assert stat.S_IMODE((tls / "ca.key").stat().st_mode) == 0o600
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(secure_broker.ca_file), str(tls / "broker.pem")],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    env_file = cli.write_client_env(secure_broker)
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it holds the password
    lines = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert lines["KAFKA_BOOTSTRAP_SERVERS"] == secure_broker.sasl_ssl_bootstrap_servers
    assert lines["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512" and lines["KAFKA_SASL_PASSWORD"] in PASSWORDS.values()


def test_producer_delivers_over_every_mechanism_and_plain_tls(secure_broker: KafkaBroker, tmp_path: Path):
    runs = {}
    for mechanism in [*MECHANISMS, None]:
        host = f"sec-{(mechanism or 'tls').lower()}"
        env = child_env(secure_broker.client_env(mechanism, "alice"))
        runs[host] = (env, subprocess.Popen(
            [sys.executable, "-m", "producer", "--once", "--interval", "0.1", "--topic", TOPIC, "--host-id", host],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for host, (_, proc) in runs.items():
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{host}: {out}"
        assert PASSWORDS["alice"] not in out
    docs = read_topic(secure_broker.client_config("SCRAM-SHA-512", "bob"), want=len(runs))
    assert set(runs) <= {d["host"] for d in docs}


def test_print_config_of_both_processes_masks_the_sasl_password(secure_broker: KafkaBroker):
    env = child_env(secure_broker.client_env("SCRAM-SHA-256", "alice"))
    for module in ("producer", "dash_app"):
        out = subprocess.run([sys.executable, "-m", module, "--print-config"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        assert PASSWORDS["alice"] not in out.stdout + out.stderr
        kafka = json.loads(out.stdout)["kafka"]
        assert kafka["sasl.username"] == "alice" and kafka["sasl.mechanism"] == "SCRAM-SHA-256"
        assert set(kafka["sasl.password"]) == {"*"}


def start_dashboard_with(env: dict[str, str], tmp_path: Path, name: str) -> tuple[Process, str]:
    port = free_port()
    proc = Process(["-m", "dash_app", "--port", str(port), "--topic", TOPIC], tmp_path / f"{name}.log",
                   env=child_env(env))
    return proc, f"http://127.0.0.1:{port}/"


def healthz(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url + "healthz", timeout=5) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_producer_to_dashboard_over_sasl_ssl_end_to_end(secure_broker: KafkaBroker, tmp_path: Path):
    producer = Process(["-m", "producer", "--interval", "0.2", "--topic", TOPIC, "--host-id", "sasl-e2e"],
                       tmp_path / "producer.log", env=child_env(secure_broker.client_env("SCRAM-SHA-256", "alice")))
    dash, url = start_dashboard_with(secure_broker.client_env("SCRAM-SHA-512", "bob"), tmp_path, "dash")
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "connected", 60, "the dashboard to connect over SASL_SSL")
        with connect(url.replace("http", "ws") + "ws", proxy=None) as ws:
            ws.send('{"type":"ready"}')

            def has_host() -> bool:
                frame = orjson.loads(ws.recv(timeout=5))
                return any(s["host"] == "sasl-e2e" for s in frame.get("series", []))

            wait_for(has_host, 60, "samples of sasl-e2e on the WebSocket")
    finally:
        assert producer.stop() == 0, producer.log()
        dash.stop()
    for log in (producer.log(), dash.log()):
        assert PASSWORDS["alice"] not in log and PASSWORDS["bob"] not in log


def test_a_wrong_password_is_an_authentication_error_and_stays_out_of_the_logs(
    secure_broker: KafkaBroker, tmp_path: Path
):
    wrong = "not-the-password-" + secrets.token_hex(4)
    for mechanism in MECHANISMS:
        conf = {**secure_broker.client_config(mechanism, "alice"), "sasl.password": wrong}
        err = first_error(conf)
        assert err.code() == KafkaError._AUTHENTICATION, (mechanism, err)
    env = {**secure_broker.client_env("SCRAM-SHA-512", "alice"), "KAFKA_SASL_PASSWORD": wrong}
    dash, url = start_dashboard_with(env, tmp_path, "dash-wrong")
    try:
        wait_for(lambda: healthz(url)["kafka"]["state"] == "disconnected", 60, "the dashboard to give up connecting")
    finally:
        dash.stop()
    # librdkafka's own log lines reach the dashboard's log when its queue is served (at the latest on stop)
    assert "SASL authentication error: Authentication failed" in dash.log()
    assert wrong not in dash.log()


def test_tls_without_the_ca_is_refused(secure_broker: KafkaBroker):
    conf = secure_broker.client_config(None)
    del conf["ssl.ca.location"]  # trust only the system CAs: our self-signed CA is not among them
    err = first_error(conf)
    assert err.code() in (KafkaError._SSL, KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN), err
    assert "certificate verify failed" in err.str() or "SSL handshake failed" in err.str()


def test_a_data_dir_formatted_without_users_gets_them_on_a_secure_restart(tmp_path: Path):
    plain = KafkaBroker(data_dir=tmp_path)
    plain.start()
    plain.stop()
    secure = KafkaBroker(data_dir=tmp_path, security=SecurityConfig(users={"carol": "carol-pw-123"}))
    secure.start()
    try:
        for mechanism in MECHANISMS:  # SCRAM users were upserted through the admin API
            md = AdminClient(secure.client_config(mechanism, "carol")).list_topics(timeout=20)
            assert list(md.brokers) == [1], mechanism
    finally:
        secure.stop()

