"""producer.config: precedence, validation (one line naming key and value, exit 2), passthrough, masking."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from producer import cli, config
from producer.config import Config, load
from producer.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def test_defaults() -> None:
    cfg = load({}, {})
    assert cfg == Config(
        bootstrap_servers="127.0.0.1:9092",
        topic="system-metrics",
        interval=1.0,
        host_id=socket.gethostname(),
        metrics=("cpu", "memory"),
        flush_timeout=10.0,
        log_level="info",
    )
    assert dict(cfg.kafka) == {}


def test_table_matches_dataclass_and_documented_defaults() -> None:
    names = [s.name for s in config.SETTINGS]
    assert names == [f.name for f in dataclasses.fields(Config) if f.name != "kafka"]
    defaults = Config()
    for s in config.SETTINGS:
        value = getattr(defaults, s.name)
        if s.name == "host_id":
            assert "hostname" in s.doc_default
            continue
        shown = ",".join(value) if isinstance(value, tuple) else str(value)
        assert s.doc_default == f"`{shown}`", s.name


def test_flag_beats_env_beats_default() -> None:
    environ = {"PRODUCER_INTERVAL": "2.5", "PRODUCER_TOPIC": "from-env"}
    cfg = load({"interval": "0.5"}, environ)
    assert cfg.interval == 0.5  # flag
    assert cfg.topic == "from-env"  # env
    assert cfg.bootstrap_servers == "127.0.0.1:9092"  # default


def test_values_are_parsed_and_normalised() -> None:
    cfg = load(
        {},
        {
            "KAFKA_BOOTSTRAP_SERVERS": "a:9092, b:9093",
            "PRODUCER_HOST_ID": "web-1",
            "PRODUCER_METRICS": " Memory ,cpu,memory",
            "PRODUCER_LOG_LEVEL": "DEBUG",
            "PRODUCER_FLUSH_TIMEOUT": "0",
        },
    )
    assert cfg.bootstrap_servers == "a:9092,b:9093"
    assert cfg.host_id == "web-1"
    assert cfg.metrics == ("memory", "cpu")
    assert cfg.log_level == "debug"
    assert cfg.flush_timeout == 0.0


def test_empty_env_counts_as_unset() -> None:
    assert load({}, {"PRODUCER_TOPIC": "", "PRODUCER_HOST_ID": ""}) == load({}, {})


def test_config_is_frozen() -> None:
    cfg = load({}, {})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.interval = 5.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.kafka["acks"] = "1"  # type: ignore[index]


@pytest.mark.parametrize(
    ("env", "value", "reason"),
    [
        ("PRODUCER_INTERVAL", "abc", "not a number"),
        ("PRODUCER_INTERVAL", "nan", "not a finite number"),
        ("PRODUCER_INTERVAL", "0.05", "must be at least 0.1 seconds"),
        ("PRODUCER_FLUSH_TIMEOUT", "-1", "must not be negative"),
        ("PRODUCER_TOPIC", "bad topic", "a Kafka topic name is"),
        ("PRODUCER_TOPIC", "..", "a Kafka topic name is"),
        ("PRODUCER_HOST_ID", "x" * 256, "must be 1–255 characters"),
        ("PRODUCER_HOST_ID", "tab\there", "control characters"),
        ("PRODUCER_METRICS", "cpu,disk", "unknown metric family 'disk' (known: cpu, memory)"),
        ("PRODUCER_METRICS", ",", "no metric family given"),
        ("PRODUCER_LOG_LEVEL", "loud", "expected one of debug, info, warning, error"),
        ("KAFKA_BOOTSTRAP_SERVERS", "a:1,,b:2", "expected host:port"),
    ],
)
def test_bad_env_value_names_key_and_value(env: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load({}, {env: value})
    message = str(info.value)
    assert message.startswith(f"{env}={value!r}: ")
    assert reason in message
    assert "\n" not in message


def test_bad_flag_value_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"^--interval='abc': not a number$"):
        load({"interval": "abc"}, {"PRODUCER_INTERVAL": "3"})


def test_main_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([], environ={"PRODUCER_INTERVAL": "abc"}) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "PRODUCER_INTERVAL='abc': not a number\n"


def test_bad_value_from_a_real_process_exits_2() -> None:
    env = {**os.environ, "PRODUCER_INTERVAL": "abc"}
    proc = subprocess.run(
        [sys.executable, "-m", "producer", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr == "PRODUCER_INTERVAL='abc': not a number\n"
    assert proc.stdout == ""


def test_kafka_passthrough() -> None:
    environ = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "PLAIN",
        "KAFKA_BOOTSTRAP_SERVERS": "k:9092",  # a setting of its own
        "KAFKA_HOME": "/opt/kafka",  # Kafka's scripts, not librdkafka
        "KAFKA_HEAP_OPTS": "-Xmx1G",
        "KAFKA_LINGER_MS": "",  # empty = unset
        "PRODUCER_TOPIC": "t",
    }
    cfg = load({}, environ)
    assert dict(cfg.kafka) == {"sasl.mechanism": "PLAIN", "security.protocol": "SASL_SSL"}
    assert config.env_name("security.protocol") == "KAFKA_SECURITY_PROTOCOL"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("sasl.password", True),
        ("ssl.keystore.password", True),
        ("sasl.oauthbearer.client.secret", True),
        ("sasl.oauthbearer.config", True),
        ("ssl.key.pem", True),
        ("sasl.username", False),
        ("security.protocol", False),
    ],
)
def test_is_secret(key: str, secret: bool) -> None:
    assert config.is_secret(key) is secret


def test_print_config_masks_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    environ = {"KAFKA_SASL_PASSWORD": "hunter2", "KAFKA_SASL_USERNAME": "agent", "PRODUCER_HOST_ID": "h1"}
    assert cli.main(["--print-config", "--interval", "0.5"], environ=environ) == 0
    out, err = capsys.readouterr()
    assert "hunter2" not in out + err
    shown = json.loads(out)
    assert shown["interval"] == 0.5
    assert shown["host_id"] == "h1"
    assert shown["metrics"] == "cpu,memory"
    assert shown["kafka"]["sasl.password"] == "***"
    assert shown["kafka"]["sasl.username"] == "agent"
    assert shown["kafka"]["acks"] == "all"  # the effective client settings, defaults included


def test_markdown_table_has_a_row_per_setting() -> None:
    table = config.markdown_table()
    for s in config.SETTINGS:
        assert f"| `{s.flag}` | `{s.env}` |" in table
