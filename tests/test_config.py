import json
import subprocess
import sys

import pytest

from dash_app.config import SETTINGS, DashboardConfig, kafka_passthrough, load
from dash_app.errors import ConfigError
from tests.support import ROOT


def test_defaults():
    cfg, _ = load([], environ={})
    assert cfg == DashboardConfig()
    assert cfg.url_prefix == "/" and cfg.port == 8050 and cfg.frame_interval == 0.05 and cfg.frame_budget == 3000


def test_flags_beat_environment_beat_defaults():
    cfg, _ = load(["--port", "9000"], environ={"DASH_PORT": "9100", "DASH_TOPIC": "t2"})
    assert cfg.port == 9000 and cfg.topic == "t2"


def test_prefix_is_normalised():
    cfg, _ = load(["--url-prefix", "/tools/metrics"], environ={})
    assert cfg.url_prefix == "/tools/metrics/"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--port", "http"], {}, "--port='http': not an integer"),
        ([], {"DASH_PORT": "70000"}, "DASH_PORT='70000': must be between 0 and 65535"),
        ([], {"DASH_FRAME_INTERVAL": "abc"}, "DASH_FRAME_INTERVAL='abc': not a number"),
        ([], {"DASH_FRAME_INTERVAL": "0.001"}, "DASH_FRAME_INTERVAL='0.001': must be between 0.02 and 5"),
        ([], {"DASH_URL_PREFIX": "metrics"}, "DASH_URL_PREFIX='metrics': must start with '/'"),
        ([], {"KAFKA_BOOTSTRAP_SERVERS": " "}, "KAFKA_BOOTSTRAP_SERVERS=' ': must not be empty"),
        ([], {"DASH_LOG_LEVEL": "loud"}, "DASH_LOG_LEVEL='loud': must be one of debug, info, warning, error"),
    ],
)
def test_bad_values_name_key_and_value(argv, env, message):
    with pytest.raises(ConfigError) as info:
        load(argv, environ=env)
    assert str(info.value) == message


def test_cli_bad_config_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "dash_app"], cwd=ROOT, capture_output=True, text=True,
                          env={"DASH_PORT": "eighty", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["dash_app: DASH_PORT='eighty': not an integer"]


def test_kafka_passthrough_and_masking():
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "hunter2",
           "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "u",
           "KAFKA_BOOTSTRAP_SERVERS": "b:9092", "OTHER": "x"}
    assert kafka_passthrough(env) == {"security.protocol": "SASL_SSL", "sasl.password": "hunter2",
                                      "sasl.mechanism": "PLAIN", "sasl.username": "u"}
    cfg, _ = load([], environ=env)
    assert cfg.bootstrap_servers == "b:9092"
    shown = json.dumps(cfg.masked())
    assert "hunter2" not in shown and "SASL_SSL" in shown


def test_print_config_masks_secrets():
    proc = subprocess.run([sys.executable, "-m", "dash_app", "--print-config"], cwd=ROOT, capture_output=True,
                          text=True, env={"KAFKA_SASL_PASSWORD": "hunter2", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert printed["kafka"] == {"sasl.password": "****"}


def test_every_setting_has_a_field_and_an_env_var():
    names = {f for f in DashboardConfig.__dataclass_fields__}
    for s in SETTINGS:
        assert s.name in names
        assert s.env.isupper()


def test_topics_with_forced_formats():
    cfg, _ = load(["--topics", "metrics, telegraf:influx ,seed:seed"], environ={})
    assert cfg.topic == "metrics,telegraf:influx,seed:seed"
    assert cfg.topics == [("metrics", "auto"), ("telegraf", "influx"), ("seed", "seed")]
    assert cfg.format_options().seed_host == "seed"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DASH_TOPIC": "a:xml"},
         "DASH_TOPIC='a:xml': format 'xml' is not one of auto, v1, influx, telegraf_json, seed"),
        ({"DASH_TOPIC": "a,a"}, "DASH_TOPIC='a,a': a topic is listed twice"),
        ({"DASH_TOPIC": "bad topic"}, "DASH_TOPIC='bad topic': 'bad topic' is not a Kafka topic name"),
        ({"DASH_INFLUX_PRECISION": "h"}, "DASH_INFLUX_PRECISION='h': must be one of ns, us, ms, s, auto"),
        ({"DASH_COUNTER_FIELDS": "bytes"}, "DASH_COUNTER_FIELDS='bytes': counter field 'bytes': expected "
                                           "<measurement>.<field>, e.g. net.bytes_recv"),
    ],
)
def test_bad_format_settings_name_key_and_value(env, message):
    with pytest.raises(ConfigError) as info:
        load([], environ=env)
    assert str(info.value) == message


def test_cli_bad_kafka_passthrough_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, "-m", "dash_app"], cwd=ROOT, capture_output=True, text=True,
                          env={"KAFKA_FETCH_WAIT_MAX_MS": "soon", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dash_app: KAFKA_FETCH_WAIT_MAX_MS='soon'"), lines
