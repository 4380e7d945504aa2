"""Fetch, format, start and stop a single-node Apache Kafka (KRaft) broker from Maven Central jars.

    fetch_libs()                          # once: mvn copy-dependencies -> broker/libs
    with KafkaBroker(port=0) as broker:   # format (first time), start, wait until really ready
        broker.create_topic("system-metrics", partitions=3)
        print(broker.bootstrap_servers)   # "127.0.0.1:<port>"

Set KAFKA_BOOTSTRAP_SERVERS to use an existing cluster instead (see `external_bootstrap`).

With `security=SecurityConfig()` the broker also listens with SASL_SSL (PLAIN, SCRAM-SHA-256/512) and
SSL (TLS only), with certificates from a CA generated into `<data dir>/tls` by the `openssl` CLI:

    with KafkaBroker(security=SecurityConfig(users={"alice": "s3cret-pw"})) as broker:
        conf = broker.client_config("SCRAM-SHA-512", "alice")  # librdkafka settings for SASL_SSL
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AdminClient,
    NewTopic,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
RUN_DIR = PROJECT_DIR / ".run"
LIBS_DIR = PACKAGE_DIR / "libs"
POM = PACKAGE_DIR / "pom.xml"
PROPERTIES_TEMPLATE = PACKAGE_DIR / "server.properties"
LOG4J2_CONFIG = PACKAGE_DIR / "log4j2.yaml"
COMPLETE_MARKER = ".complete"

HOST = "127.0.0.1"
JVM_OPTS = ("-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true")
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"


class BrokerError(RuntimeError):
    """Anything that keeps the local broker from being fetched, started or used."""


def external_bootstrap(env: Mapping[str, str] = os.environ) -> str | None:
    """The KAFKA_BOOTSTRAP_SERVERS value when set (use that cluster, start none), else None."""
    value = env.get(BOOTSTRAP_ENV, "").strip()
    return value or None


# --- jars -------------------------------------------------------------------------------------------


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def libs_complete(libs_dir: Path = LIBS_DIR, pom: Path = POM) -> bool:
    """True when `libs_dir` holds a finished copy of the jars for this exact pom.xml."""
    marker = libs_dir / COMPLETE_MARKER
    try:
        return marker.read_text().strip() == _pom_digest(pom)
    except FileNotFoundError:
        return False


def fetch_libs(libs_dir: Path = LIBS_DIR, pom: Path = POM, *, force: bool = False) -> Path:
    """Copy the broker's runtime jars from Maven into `libs_dir`; skipped when already complete.

    The `.complete` marker holds the pom's sha256, so editing pom.xml triggers a fresh copy. The jars
    land in a temporary sibling dir first and replace `libs_dir` only once Maven succeeded.
    """
    marker = libs_dir / COMPLETE_MARKER
    if not force and libs_complete(libs_dir, pom):
        marker.touch()  # newer than pom.xml, so make's broker/libs/.complete target is satisfied
        return libs_dir
    for tool in ("mvn", "java"):
        if shutil.which(tool) is None:
            raise BrokerError(
                f"'{tool}' not found on PATH: the local Kafka broker needs Java 17+ and Maven "
                "(Debian: apt-get install -y openjdk-17-jre-headless maven)"
            )
    libs_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".libs-", dir=libs_dir.parent))
    try:
        cmd = [
            "mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(pom),
            "dependency:copy-dependencies", "-DincludeScope=runtime", f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False)
        jars = sorted(p.name for p in staging.glob("*.jar"))
        if done.returncode != 0 or not any(name.startswith("kafka_2.13-") for name in jars):
            output = (done.stdout + done.stderr).strip().splitlines()[-30:]
            raise BrokerError(
                f"Maven could not fetch the Kafka jars (exit {done.returncode}, {len(jars)} jars): "
                + " ".join(cmd) + "\n" + "\n".join(output)
            )
        (staging / COMPLETE_MARKER).write_text(_pom_digest(pom) + "\n")
        if libs_dir.exists():
            shutil.rmtree(libs_dir)
        staging.rename(libs_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return libs_dir


# --- small pieces, unit-tested on their own ----------------------------------------------------------


def new_cluster_id() -> str:
    """A KRaft cluster id: URL-safe base64 of 16 random bytes, 22 chars, never starting with '-'."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):  # would read as a command-line option
            return cluster_id


def pick_free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` distinct ports the OS just reported free on `host` (all bound at once, then released)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int, host: str = HOST) -> bool:
    """Whether a listener could bind host:port now (SO_REUSEADDR, like the JVM, so TIME_WAIT is fine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def render_properties(
    *,
    port: int,
    controller_port: int,
    log_dirs: Path,
    host: str = HOST,
    partitions: int = 3,
    retention_hours: int = 24,
    auto_create_topics: bool = False,
    overrides: Mapping[str, object] | None = None,
    template: Path = PROPERTIES_TEMPLATE,
) -> str:
    """server.properties text: the template filled in, then `overrides` appended (the last key wins)."""
    text = string.Template(template.read_text()).substitute(
        host=host,
        port=port,
        controller_port=controller_port,
        log_dirs=log_dirs,
        partitions=partitions,
        retention_hours=retention_hours,
        auto_create_topics=str(auto_create_topics).lower(),
    )
    if overrides:
        text += "\n# overrides\n" + "".join(f"{key}={value}\n" for key, value in overrides.items())
    return text


# --- TLS and SASL listeners ----------------------------------------------------------------------

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_ITERATIONS = 4096
# Names and passwords go into server.properties (JAAS) and StorageTool's --add-scram syntax, where
# quotes, commas, brackets, '=' and backslashes would need escaping: allow only characters that don't.
_CREDENTIAL_RE = re.compile(r"[A-Za-z0-9._~+-]{1,128}")


@dataclass(frozen=True)
class SecurityConfig:
    """Extra listeners for a local broker: SASL_SSL (SASL over TLS) and SSL (TLS, no SASL).

    `users` maps user name -> password; each user can log in with every mechanism in `mechanisms`
    (PLAIN users live in the broker's JAAS config, SCRAM users in the metadata log, added when the
    data dir is formatted, or upserted at start when it was formatted before). Ports 0 = pick free.
    The listener certificate is valid for 127.0.0.1 and localhost, signed by a CA generated into
    `<data dir>/tls` on first start (kept, so clients' CA file stays valid across restarts).
    """

    users: Mapping[str, str] = field(default_factory=lambda: {"metrics": secrets.token_urlsafe(18)})
    mechanisms: tuple[str, ...] = SASL_MECHANISMS
    sasl_ssl_port: int = 0
    ssl_port: int = 0

    def __post_init__(self) -> None:
        if not self.users:
            raise BrokerError("SecurityConfig.users: at least one SASL user is needed")
        for name, password in self.users.items():
            for what, value in (("user name", name), ("password", password)):
                if not _CREDENTIAL_RE.fullmatch(value):
                    shown = value if what == "user name" else "****"
                    raise BrokerError(
                        f"SecurityConfig.users: {what} {shown!r} must be 1-128 of [A-Za-z0-9._~+-]"
                    )
        unknown = [m for m in self.mechanisms if m not in SASL_MECHANISMS]
        if unknown or not self.mechanisms:
            raise BrokerError(f"SecurityConfig.mechanisms={self.mechanisms!r}: choose from {SASL_MECHANISMS}")

    @property
    def scram_mechanisms(self) -> tuple[str, ...]:
        return tuple(m for m in self.mechanisms if m.startswith("SCRAM-"))


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise BrokerError(f"openssl {args[0]} failed (exit {done.returncode}): {done.stderr.strip()}")


def generate_tls_files(tls_dir: Path, host: str = HOST) -> dict[str, Path]:
    """A self-signed CA and a broker certificate for `host` and localhost, made once in `tls_dir`.

    Returns the paths: `ca` (CA certificate: what clients trust, `ssl.ca.location`) and `keystore`
    (broker key + certificate chain, PEM: Kafka's `ssl.keystore.type=PEM`). Keys never leave `tls_dir`
    (mode 0700); the CA key is kept so the broker certificate can be re-issued for a new host.
    """
    if shutil.which("openssl") is None:
        raise BrokerError("'openssl' not found on PATH: TLS listeners need it (apt-get install -y openssl)")
    files = {"ca": tls_dir / "ca.pem", "keystore": tls_dir / "broker-keystore.pem"}
    if all(path.exists() for path in files.values()):
        return files
    tls_dir.mkdir(parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    days = "3650"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", days,
        "-subj", "/CN=kafka-live-metrics local CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=tls_dir,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "broker.key", "-out", "broker.csr",
        "-subj", f"/CN={host}", cwd=tls_dir,
    )  # fmt: skip
    (tls_dir / "broker.ext").write_text(
        f"subjectAltName=IP:{host},DNS:localhost\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "broker.pem", "-days", days, "-sha256", "-extfile", "broker.ext", cwd=tls_dir,
    )  # fmt: skip
    # Kafka's PEM keystore: the (unencrypted PKCS#8) private key, then the certificate chain.
    keystore = "".join((tls_dir / name).read_text() for name in ("broker.key", "broker.pem", "ca.pem"))
    files["keystore"].write_text(keystore)
    for path in tls_dir.iterdir():
        path.chmod(0o600)
    files["ca"].chmod(0o644)
    return files


def security_properties(
    security: SecurityConfig,
    *,
    host: str,
    port: int,
    controller_port: int,
    sasl_ssl_port: int,
    ssl_port: int,
    keystore: Path,
) -> dict[str, str]:
    """server.properties lines that add the SASL_SSL and SSL listeners (appended as overrides).

    PLAINTEXT stays, on loopback, as the inter-broker listener and the launcher's own admin
    connection (readiness, topics, SCRAM upserts).
    """
    plain_jaas = "org.apache.kafka.common.security.plain.PlainLoginModule required " + " ".join(
        f'user_{name}="{password}"' for name, password in security.users.items()
    ) + ";"
    props = {
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port},"
        f"SASL_SSL://{host}:{sasl_ssl_port},SSL://{host}:{ssl_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},SASL_SSL://{host}:{sasl_ssl_port},SSL://{host}:{ssl_port}",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL",
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(keystore),
        "ssl.client.auth": "none",
        "sasl.enabled.mechanisms": ",".join(security.mechanisms),
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": ",".join(security.mechanisms),
    }
    if "PLAIN" in security.mechanisms:
        props["listener.name.sasl_ssl.plain.sasl.jaas.config"] = plain_jaas
    for mechanism in security.scram_mechanisms:
        props[f"listener.name.sasl_ssl.{mechanism.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
    return props


def spawn(cmd: list[str], **popen_kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own process group, dying with its parent (SIGTERM) where setpriv exists.

    Its own group: a Ctrl-C in the terminal reaches only the supervising Python process, which then
    stops children in order. Parent-death signal: a supervisor killed with SIGKILL leaves no orphan
    JVM holding the ports (it fires when the *thread* that spawned it ends: spawn from the main thread).
    """
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
    return subprocess.Popen(cmd, process_group=0, stdin=subprocess.DEVNULL, **popen_kwargs)


def terminate(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> int:
    """SIGTERM exactly `proc.pid`, wait up to `timeout` s, then SIGKILL; return the exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


# --- topics -----------------------------------------------------------------------------------------


def _admin(bootstrap_servers: str) -> AdminClient:
    return AdminClient({"bootstrap.servers": bootstrap_servers, "socket.connection.setup.timeout.ms": 5000})


def _create_topic(
    admin: AdminClient, name: str, partitions: int, retention_ms: int | None, timeout: float
) -> None:
    config = {} if retention_ms is None else {"retention.ms": str(retention_ms)}
    topic = NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)
    future = admin.create_topics([topic], request_timeout=timeout)[name]
    # exception(), not result(): a raised exception's traceback would tie `admin` into a reference
    # cycle, keeping the client alive (and logging reconnect errors) after the broker stops.
    exc = future.exception(timeout)
    if exc is not None:
        error = exc.args[0] if exc.args else exc
        if not (isinstance(error, KafkaError) and error.code() == KafkaError.TOPIC_ALREADY_EXISTS):
            raise BrokerError(f"could not create topic {name!r}: {error}")
    # The controller has committed the topic; wait until this broker's metadata shows a leader for
    # every partition, so a producer started right after never sees UNKNOWN_TOPIC_OR_PART.
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(KafkaException):
            meta = admin.list_topics(topic=name, timeout=5).topics.get(name)
            if meta is not None and meta.error is None and meta.partitions and all(
                p.leader >= 0 for p in meta.partitions.values()
            ):
                return
        if time.monotonic() > deadline:
            raise BrokerError(f"topic {name!r} was created but has no leaders after {timeout:.0f}s")
        time.sleep(0.05)


def create_topic(
    bootstrap_servers: str,
    name: str,
    partitions: int = 3,
    retention_ms: int | None = None,
    timeout: float = 30.0,
) -> None:
    """Create `name` (replication 1) on any cluster; an existing topic is left as it is."""
    _create_topic(_admin(bootstrap_servers), name, partitions, retention_ms, timeout)


class ExternalKafka:
    """A cluster someone else runs (KAFKA_BOOTSTRAP_SERVERS), with KafkaBroker's topic API."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers

    def create_topic(
        self, name: str, partitions: int = 3, retention_ms: int | None = None, timeout: float = 30.0
    ) -> None:
        create_topic(self.bootstrap_servers, name, partitions, retention_ms, timeout)


# --- the broker -------------------------------------------------------------------------------------


class KafkaBroker:
    """One local KRaft broker+controller JVM on loopback; `start()`/`stop()` or use as a context manager.

    `port`/`controller_port` 0 pick free ports at start. Without `data_dir` a fresh dir under .run/ is
    made at start and deleted at stop; with it the dir (formatted once) keeps topics across restarts:
    `<data_dir>/data` holds the log dirs, `<data_dir>/logs` server.log and the JVM's stdout.log.
    With `security` it also serves SASL_SSL and SSL listeners (see SecurityConfig, `client_config`).
    """

    def __init__(
        self,
        port: int = 0,
        controller_port: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        host: str = HOST,
        partitions: int = 3,
        retention_hours: int = 24,
        auto_create_topics: bool = False,
        overrides: Mapping[str, object] | None = None,
        libs_dir: Path = LIBS_DIR,
        security: SecurityConfig | None = None,
    ) -> None:
        self.port = port
        self.controller_port = controller_port
        self.security = security
        self.sasl_ssl_port = security.sasl_ssl_port if security else 0
        self.ssl_port = security.ssl_port if security else 0
        self._requested_ports: tuple[int, ...] = (port, controller_port)
        if security is not None:
            self._requested_ports += (self.sasl_ssl_port, self.ssl_port)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.host = host
        self.partitions = partitions
        self.retention_hours = retention_hours
        self.auto_create_topics = auto_create_topics
        self.overrides = dict(overrides or {})
        self.libs_dir = libs_dir
        self.startup_seconds: float | None = None  # format (if needed) + start until ready
        self._owns_data_dir = data_dir is None
        self._proc: subprocess.Popen[bytes] | None = None
        self._admin: AdminClient | None = None
        self._lock_fd: int | None = None
        self._formatted_now = False

    # -- info

    @property
    def bootstrap_servers(self) -> str:
        if self.port == 0:
            raise BrokerError("the broker picks its port at start(): call start() first")
        return f"{self.host}:{self.port}"

    @property
    def sasl_ssl_bootstrap_servers(self) -> str:
        """The SASL_SSL listener (needs `security` and start())."""
        self._need_security()
        if self.sasl_ssl_port == 0:
            raise BrokerError("the broker picks its port at start(): call start() first")
        return f"{self.host}:{self.sasl_ssl_port}"

    @property
    def ssl_bootstrap_servers(self) -> str:
        """The SSL listener: TLS without SASL (needs `security` and start())."""
        self._need_security()
        if self.ssl_port == 0:
            raise BrokerError("the broker picks its port at start(): call start() first")
        return f"{self.host}:{self.ssl_port}"

    @property
    def ca_file(self) -> Path:
        """The generated CA certificate clients must trust (`ssl.ca.location`)."""
        self._need_security()
        return self._dir / "tls" / "ca.pem"

    def client_config(self, mechanism: str | None = "SCRAM-SHA-512", user: str | None = None) -> dict[str, str]:
        """librdkafka settings for the SASL_SSL listener with `mechanism`, or for SSL when it is None."""
        security = self._need_security()
        conf = {"ssl.ca.location": str(self.ca_file)}
        if mechanism is None:
            return {"bootstrap.servers": self.ssl_bootstrap_servers, "security.protocol": "SSL", **conf}
        if mechanism not in security.mechanisms:
            raise BrokerError(f"mechanism {mechanism!r} is not enabled (enabled: {security.mechanisms})")
        name = user if user is not None else next(iter(security.users))
        return {
            "bootstrap.servers": self.sasl_ssl_bootstrap_servers, "security.protocol": "SASL_SSL",
            "sasl.mechanism": mechanism, "sasl.username": name, "sasl.password": security.users[name], **conf,
        }  # fmt: skip

    def client_env(self, mechanism: str | None = "SCRAM-SHA-512", user: str | None = None) -> dict[str, str]:
        """`client_config` as the KAFKA_* variables the producer and the dashboard read."""
        conf = self.client_config(mechanism, user)
        return {"KAFKA_" + key.upper().replace(".", "_"): value for key, value in conf.items()}

    def _need_security(self) -> SecurityConfig:
        if self.security is None:
            raise BrokerError("this broker has no TLS/SASL listeners: pass security=SecurityConfig(...)")
        return self.security

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def poll(self) -> int | None:
        """The JVM's exit status if it has exited (None while running or never started)."""
        return None if self._proc is None else self._proc.poll()

    @property
    def stdout_log(self) -> Path:
        return self._dir / "logs" / "stdout.log"

    @property
    def server_log(self) -> Path:
        return self._dir / "logs" / "server.log"

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the JVM's stdout (WARN+ log lines and JVM errors)."""
        return _tail(self.stdout_log, lines)

    @property
    def _dir(self) -> Path:
        if self.data_dir is None:
            raise BrokerError("no data dir yet: call start() first")
        return self.data_dir

    # -- lifecycle

    def start(self, timeout: float = 90.0) -> KafkaBroker:
        """Format the data dir once, start the JVM and return when it serves metadata requests."""
        if self._proc is not None:
            raise BrokerError(f"broker already started (pid {self._proc.pid})")
        begin = time.monotonic()
        fixed = self._requested_ports
        auto_ports = 0 in fixed
        for port in fixed:
            if port and not port_is_free(port, self.host):
                raise BrokerError(
                    f"port {self.host}:{port} is already in use (another Kafka? choose another port)"
                )
        java = shutil.which("java")
        if java is None:
            raise BrokerError("'java' not found on PATH: the local Kafka broker needs Java 17+")
        if not libs_complete(self.libs_dir):
            raise BrokerError(
                f"Kafka jars missing in {self.libs_dir}: run 'python -m broker fetch' (or make broker-libs)"
            )
        if self.data_dir is None:
            RUN_DIR.mkdir(parents=True, exist_ok=True)
            self.data_dir = Path(tempfile.mkdtemp(prefix="kafka-", dir=RUN_DIR))
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        for attempt in range(3):
            if auto_ports:
                free = iter(pick_free_ports(fixed.count(0), self.host))
                picked = [port or next(free) for port in fixed]
                self.port, self.controller_port = picked[0], picked[1]
                if self.security is not None:
                    self.sasl_ssl_port, self.ssl_port = picked[2], picked[3]
            try:
                self._write_properties()
                self._format(java)
                self._spawn(java)
                self._wait_ready(begin + timeout)
                self._ensure_scram_users()
                break
            except BaseException as exc:  # incl. KeyboardInterrupt: never leave a half-started JVM
                self._admin = None
                proc, self._proc = self._proc, None
                if proc is not None:
                    terminate(proc, 5)  # keeps the data dir: the error names its logs
                last_run = self.log_tail(80).rpartition("\n--- ")[2]
                lost_race = isinstance(exc, BrokerError) and "Address already in use" in last_run
                if not (auto_ports and lost_race and attempt < 2):
                    self._unlock_data_dir()
                    raise
        self.startup_seconds = time.monotonic() - begin
        return self

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM the JVM (only its PID), SIGKILL after `timeout` s; return its exit status.

        143 (128 + SIGTERM) is the JVM's normal status after a clean shutdown. A data dir this object
        created itself is deleted. Calling stop() again, or before start(), returns None.
        """
        self._admin = None  # destroy the client first, or it keeps reconnecting and logs errors
        proc, self._proc = self._proc, None
        status = None if proc is None else terminate(proc, timeout)
        self._unlock_data_dir()
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None
        return status

    def __enter__(self) -> KafkaBroker:
        return self if self._proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- topics

    def create_topic(
        self,
        name: str,
        partitions: int | None = None,
        retention_ms: int | None = None,
        timeout: float = 30.0,
    ) -> None:
        """Create `name` (default: the broker's partition count, broker retention); existing is fine."""
        _create_topic(self._admin_client(), name, partitions or self.partitions, retention_ms, timeout)

    def _admin_client(self) -> AdminClient:
        if self._proc is None:
            raise BrokerError("broker not started")
        if self._admin is None:
            self._admin = _admin(self.bootstrap_servers)
        return self._admin

    # -- steps of start()

    def _write_properties(self) -> None:
        overrides: dict[str, object] = {}
        if self.security is not None:
            tls = generate_tls_files(self._dir / "tls", self.host)
            overrides.update(security_properties(
                self.security, host=self.host, port=self.port, controller_port=self.controller_port,
                sasl_ssl_port=self.sasl_ssl_port, ssl_port=self.ssl_port, keystore=tls["keystore"],
            ))  # fmt: skip
        overrides.update(self.overrides)
        text = render_properties(
            port=self.port,
            controller_port=self.controller_port,
            log_dirs=self._dir / "data",
            host=self.host,
            partitions=self.partitions,
            retention_hours=self.retention_hours,
            auto_create_topics=self.auto_create_topics,
            overrides=overrides,
        )
        path = self._dir / "server.properties"
        path.write_text(text)
        if self.security is not None:
            path.chmod(0o600)  # holds the PLAIN users' passwords

    def _java_cmd(self, java: str, main: str, *args: str) -> list[str]:
        return [
            java, *JVM_OPTS, "-cp", str(self.libs_dir / "*"),
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}", f"-Dkafka.logs.dir={self._dir / 'logs'}",
            main, *args,
        ]  # fmt: skip

    def _lock_data_dir(self) -> None:
        """Refuse a data dir another broker uses.

        Kafka's own lock on the log dir is taken only after the KRaft controller has already opened
        (and written to) the metadata log there: a second JVM on a busy dir damages the running one.
        """
        fd = os.open(self._dir / "launcher.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown pid"
            os.close(fd)
            raise BrokerError(
                f"data dir {self._dir} is in use by another local broker ({holder}): "
                "stop that one or choose another data dir"
            ) from None
        self._lock_fd = fd

    def _unlock_data_dir(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the lock goes once no (exited) JVM holds the inherited copy
            self._lock_fd = None

    def _format(self, java: str) -> None:
        self._formatted_now = False
        if (self._dir / "data" / "meta.properties").exists():
            return  # formatting twice fails, and would lose the cluster id
        cmd = self._java_cmd(
            java, "kafka.tools.StorageTool", "format", "-t", new_cluster_id(),
            "-c", str(self._dir / "server.properties"),
        )  # fmt: skip
        if self.security is not None:
            # SCRAM credentials live in the metadata log: in KRaft they are added at format time.
            for mechanism in self.security.scram_mechanisms:
                for name, password in self.security.users.items():
                    cmd += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()
            if self.security is not None:
                for password in self.security.users.values():
                    output = output.replace(password, "****")
            raise BrokerError(f"formatting {self._dir / 'data'} failed (exit {done.returncode}):\n{output}")
        self._formatted_now = True

    def _ensure_scram_users(self) -> None:
        """A data dir formatted earlier (without these users) gets them through the admin API."""
        if self.security is None or self._formatted_now or not self.security.scram_mechanisms:
            return
        admin = self._admin_client()
        for mechanism in self.security.scram_mechanisms:  # one user may appear once per request
            info = ScramCredentialInfo(getattr(ScramMechanism, mechanism.replace("-", "_")), SCRAM_ITERATIONS)
            upserts: list[UserScramCredentialAlteration] = [
                UserScramCredentialUpsertion(name, info, password.encode())
                for name, password in self.security.users.items()
            ]
            for name, future in admin.alter_user_scram_credentials(upserts).items():
                exc = future.exception(30)
                if exc is not None:
                    raise BrokerError(f"could not set the {mechanism} credentials of {name!r}: {exc}")

    def _spawn(self, java: str) -> None:
        cmd = self._java_cmd(java, "kafka.Kafka", str(self._dir / "server.properties"))
        with self.stdout_log.open("ab") as out:
            out.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} start: {' '.join(cmd)}\n".encode())
            out.flush()
            # The JVM inherits the data dir lock, so it stays locked as long as the JVM lives.
            lock = () if self._lock_fd is None else (self._lock_fd,)
            self._proc = spawn(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self._dir, pass_fds=lock)
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            os.pwrite(self._lock_fd, f"pid {self._proc.pid}\n".encode(), 0)

    def _wait_ready(self, deadline: float) -> None:
        """Ready = the broker port accepts TCP *and* answers a metadata request.

        The broker listener only opens once the broker has caught up with the metadata log and is
        unfenced, so both together mean clients will work.
        """
        proc = self._proc
        assert proc is not None
        while True:
            try:
                status = proc.wait(timeout=0.1)  # doubles as the poll interval
            except subprocess.TimeoutExpired:
                pass
            else:
                raise BrokerError(
                    f"Kafka exited during startup with status {status}; last lines of "
                    f"{self.stdout_log} (full log: {self.server_log}):\n{self.log_tail()}"
                )
            if self._answers_metadata():
                return
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"Kafka not ready on {self.bootstrap_servers} in time; last lines of "
                    f"{self.stdout_log} (full log: {self.server_log}):\n{self.log_tail()}"
                )

    def _answers_metadata(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1):
                pass
        except OSError:
            return False
        try:
            self._admin_client().list_topics(timeout=5)
        except KafkaException:
            return False
        return True
