"""producer/systemd: the unit (checked by systemd's own parser), the sample settings file, install.sh.

systemd does not run as PID 1 here, so the service itself cannot be started; `systemd-analyze verify`
and `systemd-analyze security --offline` read the unit file the way systemd would.
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from producer import config, envfile
from tests.support import ROOT

SYSTEMD_DIR = ROOT / "producer" / "systemd"
UNIT = SYSTEMD_DIR / "metrics-producer.service"
ENV_SAMPLE = SYSTEMD_DIR / "metrics-producer.env"
INSTALL = SYSTEMD_DIR / "install.sh"


def _unit() -> dict[str, list[str]]:
    """Service section as key -> values (a key may repeat)."""
    values: dict[str, list[str]] = {}
    section = None
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        key, _, value = line.partition("=")
        values.setdefault(f"{section}{key}", []).append(value)
    return values


def test_unit_is_a_notify_service_restarted_on_failure() -> None:
    unit = _unit()
    service = {k.removeprefix("[Service]"): v for k, v in unit.items() if k.startswith("[Service]")}
    assert service["Type"] == ["notify"]
    assert service["Restart"] == ["on-failure"]
    assert service["RestartPreventExitStatus"] == ["2"]  # a bad setting: no restart loop
    assert service["EnvironmentFile"] == ["-/etc/default/metrics-producer"]
    assert service["ExecStart"] == ["/opt/metrics-producer/bin/python -m producer"]
    assert int(service["WatchdogSec"][0]) >= 10
    assert int(service["TimeoutStopSec"][0]) > config.Config().flush_timeout  # the flush fits
    assert unit["[Install]WantedBy"] == ["multi-user.target"]


def test_unit_is_hardened_but_lets_psutil_read_proc_and_sys() -> None:
    service = {k.removeprefix("[Service]"): v[-1] for k, v in _unit().items() if k.startswith("[Service]")}
    expected = {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "read-only",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectControlGroups": "yes",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert service.get(key) == value, key
    # These would blind the agent: /proc/stat, /proc/meminfo, … (ProcSubset=pid), other users'
    # processes (ProtectProc=invisible), /home's usage (ProtectHome=yes), /proc and /sys (InaccessiblePaths).
    assert service.get("ProcSubset", "all") == "all"
    assert service.get("ProtectProc", "default") == "default"
    assert not any(k in service for k in ("InaccessiblePaths", "TemporaryFileSystem"))


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    """install.sh into a staging directory (DESTDIR), without pip: the files a host would get."""
    env = {**os.environ, "DESTDIR": str(tmp_path / "root"), "INSTALL_DEPS": "no", "PYTHON": sys.executable}
    done = subprocess.run(["sh", str(INSTALL), "install"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not starting anything" in done.stdout
    return tmp_path / "root"


def _site_packages(root: Path) -> Path:
    (site,) = (root / "opt" / "metrics-producer" / "lib").glob("python3*/site-packages")
    return site


def test_install_stages_venv_package_unit_and_private_settings(staged: Path) -> None:
    unit = staged / "etc" / "systemd" / "system" / "metrics-producer.service"
    assert unit.read_text() == UNIT.read_text()  # default PREFIX/CONF: installed as written
    conf = staged / "etc" / "default" / "metrics-producer"
    assert conf.read_text() == ENV_SAMPLE.read_text()
    assert stat.S_IMODE(conf.stat().st_mode) == 0o600  # it may hold a SASL password
    assert (staged / "opt" / "metrics-producer" / "bin" / "python").exists()
    package = _site_packages(staged) / "producer"
    # everything but the unit's own directory: systemd/check.py needs the repo (broker launcher)
    shipped = {p.relative_to(ROOT / "producer") for p in (ROOT / "producer").rglob("*.py")
               if "__pycache__" not in p.parts and "systemd" not in p.parts}  # fmt: skip
    assert Path("systemd/check.py") not in {p.relative_to(package) for p in package.rglob("*.py")}
    assert {p.relative_to(package) for p in package.rglob("*.py")} == shipped
    assert list(package.rglob("*.pyc")), "compiled at install time (the service cannot write them)"


def test_installed_package_runs_with_the_installed_settings(staged: Path, tmp_path: Path) -> None:
    # The project's interpreter has the dependencies; the code and settings come from the staging dir.
    conf = staged / "etc" / "default" / "metrics-producer"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "PRODUCER_"))}
    env["PYTHONPATH"] = str(_site_packages(staged))
    done = subprocess.run(
        [sys.executable, "-m", "producer", "--env-file", str(conf), "--dry-run", "--once", "--interval", "0.1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "cpu.percent" in orjson.loads(done.stdout)["metrics"]
    where = subprocess.run([sys.executable, "-c", "import producer; print(producer.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert Path(where.stdout.strip()).is_relative_to(_site_packages(staged)), "the staged copy ran"


def test_reinstall_keeps_the_settings_and_uninstall_removes_the_rest(staged: Path) -> None:
    env = {**os.environ, "DESTDIR": str(staged), "INSTALL_DEPS": "no", "PYTHON": sys.executable}
    conf = staged / "etc" / "default" / "metrics-producer"
    conf.write_text("PRODUCER_INTERVAL=5\n")
    again = subprocess.run(["sh", str(INSTALL), "install"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert conf.read_text() == "PRODUCER_INTERVAL=5\n"  # an upgrade keeps your settings
    assert (staged / "etc" / "default" / "metrics-producer.dist").read_text() == ENV_SAMPLE.read_text()

    gone = subprocess.run(["sh", str(INSTALL), "uninstall"], env=env, capture_output=True, text=True, timeout=60)
    assert gone.returncode == 0, gone.stderr
    assert not (staged / "opt" / "metrics-producer").exists()
    assert not (staged / "etc" / "systemd" / "system" / "metrics-producer.service").exists()
    assert conf.exists()
    purge = subprocess.run(["sh", str(INSTALL), "purge"], env=env, capture_output=True, text=True, timeout=60)
    assert purge.returncode == 0 and not conf.exists()


def test_install_script_usage_error_exits_2() -> None:
    done = subprocess.run(["sh", str(INSTALL), "frobnicate"], capture_output=True, text=True, timeout=10)
    assert done.returncode == 2
    assert "usage:" in done.stderr


def _analyze() -> str:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    return tool


def test_systemd_accepts_the_unit(staged: Path) -> None:
    analyze = _analyze()
    unit = staged / "etc" / "systemd" / "system" / "metrics-producer.service"
    # verify also checks that ExecStart exists: point it at the staged interpreter
    python = staged / "opt" / "metrics-producer" / "bin" / "python"
    unit.write_text(unit.read_text().replace("/opt/metrics-producer/bin/python", str(python)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # parse warnings ("Failed to parse ... ignoring") count


def test_systemd_rates_the_sandbox_ok(staged: Path) -> None:
    analyze = _analyze()
    unit = staged / "etc" / "systemd" / "system" / "metrics-producer.service"
    done = subprocess.run([analyze, "security", "--offline=yes", str(unit)], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= 2.0  # 0 = fully sandboxed, 10 = unprotected; "OK" is below 4


def test_unit_parses_as_ini_without_duplicate_sections() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]


# --- the sample settings file -----------------------------------------------------------------------


def test_sample_env_file_lists_every_setting_commented_out() -> None:
    text = ENV_SAMPLE.read_text()
    for s in config.SETTINGS:
        if s.name == "env_file":
            continue  # systemd reads this file itself
        assert re.search(rf"^#{s.env}=", text, re.M), s.env
    assert not [line for line in text.splitlines() if line and not line.startswith("#")], "nothing set"


def test_sample_env_file_uncommented_gives_the_defaults() -> None:
    lines = [line[1:] for line in ENV_SAMPLE.read_text().splitlines() if re.match(r"#[A-Z_]+=", line)]
    variables = envfile.parse("\n".join(lines))
    settings = {k: v for k, v in variables.items() if not k.startswith("KAFKA_") or k == "KAFKA_BOOTSTRAP_SERVERS"}
    assert config.load({}, settings) == config.load({}, {})  # the documented values are the defaults
    kafka = config.load({}, variables).kafka  # and the Kafka lines are valid passthrough settings
    assert kafka["acks"] == "all" and kafka["message.timeout.ms"] == "0"


def test_systemd_check_counts_runs_and_catches_lost_or_duplicated_samples() -> None:
    from producer.systemd.check import CheckFailed, check_contiguous

    def rows(*seqs: int) -> list[dict[str, int]]:
        return [{"seq": s, "ts": 1000 * i} for i, s in enumerate(seqs)]

    assert check_contiguous(rows(0, 1, 2, 0, 1)) == (2, 5)  # a restart numbers from 0 again
    with pytest.raises(CheckFailed, match=r"missing \[2\]"):
        check_contiguous(rows(0, 1, 3, 4))
    with pytest.raises(CheckFailed, match="lost or duplicated"):
        check_contiguous(rows(0, 1, 1, 2))
