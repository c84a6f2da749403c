"""Fixtures of the bridge tests (imported by test_bridge_*.py): real brokers, a bus, alerts.

The brokers are the Debian packages, started here on random loopback ports with
generated configuration files and stopped at the end:

* Mosquitto (``/usr/sbin/mosquitto``): one per test, plain and TLS listeners;
* ActiveMQ (``/usr/share/activemq``): one per session (it needs 4-15 s to start),
  a STOMP and a STOMP+SSL transport connector, no persistence, data in a temporary
  directory.

A missing broker skips its tests with the command that installs it; nothing passes
without the real broker.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eew.bridge.core import BridgeStatistics, Sink, run_bridge
from eew.bus import BusConfig, Publisher, Subscriber, SubscriberConfig
from eew.formats import native
from eew.model.alert import Alert
from eew.model.clock import WallClock

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "waveforms_samples" / "local_m4.5"
SAMPLES = ROOT / "tests" / "data" / "formats"
MOSQUITTO = Path("/usr/sbin/mosquitto")
ACTIVEMQ_JAR = Path("/usr/share/activemq/bin/activemq.jar")
INSTALL = "apt-get install -y --no-install-recommends {}  (as root; .ci/run does it)"
AGENCY = "KZ-AEWS"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"broker exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout_s} s")


def wait_for(pred: Callable[[], bool], timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll ``pred`` until it is true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


# ---- certificates -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Certs:
    """A self-signed certificate for 127.0.0.1/localhost (it is its own CA)."""

    cert: Path
    key: Path
    pkcs12: Path
    password: str = "changeit"


def make_certs(d: Path) -> Certs:
    """Write a self-signed certificate, its key and a PKCS#12 keystore into ``d``."""
    cert, key, p12 = d / "cert.pem", d / "key.pem", d / "broker.p12"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *("openssl", "pkcs12", "-export", "-in", str(cert), "-inkey", str(key)),
            *("-out", str(p12), "-passout", "pass:changeit"),
        ],
        check=True,
        capture_output=True,
    )
    return Certs(cert, key, p12)


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed: " + INSTALL.format("openssl"))
    return make_certs(tmp_path_factory.mktemp("certs"))


# ---- Mosquitto ----------------------------------------------------------------------------------
@dataclass
class Mosquitto:
    """A mosquitto process with a plain and a TLS listener on loopback."""

    workdir: Path
    certs: Certs
    port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            # as root, mosquitto would switch to the "mosquitto" user, which cannot read tmp_path
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            f"per_listener_settings false\nallow_anonymous true\npersistence false\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\nlog_type all\n"
            f"listener {self.port} 127.0.0.1\n"
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {self.certs.cert}\ncertfile {self.certs.cert}\nkeyfile {self.certs.key}\n",
            encoding="utf-8",
        )
        self.proc = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_port(self.port, 10, self.proc)
        wait_port(self.tls_port, 10, self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()
        self.proc = None


def package_version(name: str) -> str:
    """The installed version of Debian package ``name`` (``unknown`` without dpkg)."""
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    return out.stdout.strip() or "unknown"


@pytest.fixture
def mosquitto(tmp_path: Path, certs: Certs) -> Iterator[Mosquitto]:
    if not MOSQUITTO.exists():
        pytest.skip("mosquitto not installed: " + INSTALL.format("mosquitto"))
    broker = Mosquitto(tmp_path, certs)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# ---- ActiveMQ -----------------------------------------------------------------------------------
ACTIVEMQ_XML = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
    http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
    http://activemq.apache.org/schema/core http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" brokerName="eewtest" useJmx="false"
          persistent="false" advisorySupport="false" dataDirectory="{data}">
    <sslContext>
      <sslContext keyStore="file:{p12}" keyStorePassword="{password}" keyStoreType="pkcs12"/>
    </sslContext>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://127.0.0.1:{port}"/>
      <transportConnector name="stomp_ssl" uri="stomp+ssl://127.0.0.1:{ssl_port}"/>
    </transportConnectors>
  </broker>
</beans>
"""


@dataclass(frozen=True)
class ActiveMQ:
    """A running ActiveMQ broker (STOMP on ``port``, STOMP over TLS on ``ssl_port``)."""

    port: int
    ssl_port: int
    version: str
    startup_s: float


def start_activemq(base: Path, certs: Certs) -> tuple[ActiveMQ, subprocess.Popen[bytes]]:
    """Start ActiveMQ with its data and configuration in ``base``; wait until it listens."""
    java = shutil.which("java") or "java"
    port, ssl_port = free_port(), free_port()
    xml = base / "activemq.xml"
    xml.write_text(
        ACTIVEMQ_XML.format(
            data=base / "data",
            p12=certs.pkcs12,
            password=certs.password,
            port=port,
            ssl_port=ssl_port,
        ),
        encoding="utf-8",
    )
    t0 = time.monotonic()
    with open(base / "activemq.log", "wb") as log:
        proc = subprocess.Popen(
            [
                *(java, "-Xms64m", "-Xmx256m", "-Dactivemq.home=/usr/share/activemq"),
                *(f"-Dactivemq.base={base}", f"-Dactivemq.conf={base}"),
                f"-Dactivemq.data={base}/data",
                *("-jar", str(ACTIVEMQ_JAR), "start", f"xbean:file:{xml}"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_port(port, 90, proc)
        wait_port(ssl_port, 30, proc)
    except BaseException:
        stop_process(proc)
        raise
    version = package_version("activemq")
    return ActiveMQ(port, ssl_port, version, time.monotonic() - t0), proc


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """Terminate ``proc``; kill it if it does not end in ``timeout_s``."""
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="session")
def activemq(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[ActiveMQ]:
    if not ACTIVEMQ_JAR.exists() or shutil.which("java") is None:
        pytest.skip("ActiveMQ not installed: " + INSTALL.format("activemq"))
    broker, proc = start_activemq(tmp_path_factory.mktemp("activemq"), certs)
    try:
        yield broker
    finally:
        stop_process(proc)


# ---- the bus and a bridge thread ----------------------------------------------------------------
@pytest.fixture
def bus() -> Iterator[Publisher]:
    """A plain (unsigned, no CURVE) bus publisher on a random loopback port."""
    pub = Publisher(
        BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=0.5),
        agency=AGENCY,
        clock=WallClock(),
        signer=None,
        curve=None,
    )
    with pub:
        yield pub


#: bridge threads still running; the autouse fixture below stops them after each test
_RUNNING: list[BridgeThread] = []


@pytest.fixture(autouse=True)
def _stop_leftover_bridges() -> Iterator[None]:
    """A test that fails (or xfails) half-way must not leave its bridge thread running."""
    yield
    while _RUNNING:
        _RUNNING[-1].stop(check=False)


class BridgeThread:
    """:func:`run_bridge` in a thread, subscribed to ``pub``; ``stop()`` returns its statistics."""

    def __init__(self, pub: Publisher, sink: Sink, heartbeat_interval_s: float = 0.3) -> None:
        _RUNNING.append(self)
        self.sink = sink
        self._stop = threading.Event()
        self.result: BridgeStatistics | None = None
        self.error: BaseException | None = None
        endpoint = pub.endpoint
        before = pub.statistics().subscriptions

        def open_subscriber() -> Subscriber:
            return Subscriber(
                endpoint,
                verifier=None,
                clock=WallClock(),
                config=SubscriberConfig(max_clock_skew_s=float("inf")),
                kinds=("alert",),
            )

        def main() -> None:
            try:
                self.result = run_bridge(
                    open_subscriber,
                    sink,
                    WallClock(),
                    heartbeat_interval_s=heartbeat_interval_s,
                    stop=self._stop,
                    tick_s=0.02,
                )
            except BaseException as exc:  # noqa: BLE001 (raised in the test thread by stop())
                self.error = exc

        self._thread = threading.Thread(target=main, name="bridge", daemon=True)
        self._thread.start()
        # alert + heartbeat subscriptions: from now on every version reaches the bridge
        wait_for(lambda: pub.statistics().subscriptions >= before + 2, what="bridge subscribed")

    def stop(self, check: bool = True) -> BridgeStatistics:
        self._stop.set()
        self._thread.join(20)
        if self in _RUNNING:
            _RUNNING.remove(self)
        if not check:
            return self.result  # type: ignore[return-value]
        if self.error is not None:
            raise self.error
        assert self.result is not None, "bridge thread did not end"
        return self.result


# ---- alerts -------------------------------------------------------------------------------------
def sample_chain() -> list[Alert]:
    """new (v0), update (v2), delete (v3) of one event, from tests/data/formats."""
    return [
        native.loads((SAMPLES / f"alert_{name}.json").read_bytes())[0]
        for name in ("new", "update", "delete")
    ]


def replay_alerts(path: Path) -> list[Alert]:
    """The alerts among the picks, events and alerts that ``eew replay`` wrote to ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    chosen = [line for line in lines if json.loads(line).get("type") == "alert"]
    return [m for m in native.loads("\n".join(chosen).encode()) if isinstance(m, Alert)]


@pytest.fixture(scope="session")
def scenario_alerts(tmp_path_factory: pytest.TempPathFactory) -> list[Alert]:
    """The alerts of ``eew replay waveforms_samples/local_m4.5`` (run once per session)."""
    from eew.cli import main

    out = tmp_path_factory.mktemp("replay") / "local.jsonl"
    assert main(["replay", str(SCENARIO), "--out", str(out), "--no-progress"]) == 0
    alerts = replay_alerts(out)
    assert len(alerts) >= 3, "the scenario should give several alert versions"
    return alerts


def with_status(alert: Alert, status: str) -> Alert:
    """``alert`` with the drill flag (``status``) set (needs eew.alert/1 ``status``)."""
    return alert.with_(status=status)


#: the drill-flag tests pass once ``eew.alert/1`` has ``status`` (the formats branch)
HAS_STATUS = "status" in getattr(Alert, "__dataclass_fields__", {})
needs_status = pytest.mark.xfail(
    not HAS_STATUS, strict=True, reason="needs the formats branch (eew.alert/1 status)"
)


def publish_all(pub: Publisher, alerts: list[Alert], gap_s: float = 0.0) -> None:
    for alert in alerts:
        pub.publish_alert(alert)
        if gap_s:
            time.sleep(gap_s)
