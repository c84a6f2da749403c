"""Soak: simulated data at 20x through ``eew serve`` -> two ``eew run`` -> bus -> subscribers.

Two full daemons exchange as the Kazakh (KZ-AEWS, network AW) and Kyrgyz (KG-MES, network
KN) centres (``docs/cross_border.md``): each reads its own stations from one ``eew serve``,
publishes on its own bus, exports its picks and alerts to the other and imports the
other's. Signatures everywhere (no CURVE: loopback). Faults, on the data clock:

* ``eew serve`` stopped with SIGTERM at 35 % of the data and with SIGKILL at 70 %, each
  time restarted at once on a fresh ring (``--begin`` 60 s of data before where it was:
  records the daemons already have come again, under new sequence numbers);
* the Kyrgyz daemon restarted (SIGTERM, then started again on its state) at its first
  alert of the event at 25 %, the Kazakh daemon at its first alert of the event at 50 %;
* one stalled subscriber: a subscriber of the Kazakh bus (alerts and picks, receive
  queue of 50 messages) stops reading from 40 % to 60 % of the data, then resumes.

Application subscribers (one per bus, plus the stalled one) record every alert delivered.
Figures and checks:

* records: every daemon processes each record of its stations exactly once over all its
  runs (sum of ``packets`` in its ``daemon stopped`` lines = records in the archive);
* alerts: every alert a daemon logged as published reaches every subscriber of its bus,
  itself or superseded by a newer version of its event that reached it (the bus's
  policy, ``docs/alert_bus.md``: updates coalesce, an older version is never delivered
  after a newer one; counted apart), and nothing is delivered twice (same agency, event
  id and version);
* the bus and partner links' losses: ``LOST`` lines of the gates (should be none), and
  how many gaps and restarts were recovered.

Run: ``python benchmarks/bench_soak.py [--minutes 60] [--speed 20] [--workdir DIR]``; the
simulated archive is kept in the work folder and reused. Exit status 1 if a check fails.
``--list-missing`` taps every daemon run (each record processed, each record the SeedLink
client dropped as already received, in ``DIR/AGENCY.tap``) and names the records of the
archive that no run processed or that were processed twice (the counts alone let a loss
and a duplicate cancel out), each with the runs that processed it and what the client did
with it as received already (dropped, or trimmed to its part not received yet).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START = "2024-05-01T00:00:00Z"
START_S = 1_714_521_600  # START as POSIX seconds
#: (fraction of the data, latitude, longitude, depth km, magnitude, who restarts at it)
EVENTS = (
    (0.12, 43.22, 76.88, 10.0, 4.8, ""),
    (0.25, 42.87, 74.60, 12.0, 5.8, "KG"),  # by Bishkek: both networks
    (0.50, 43.25, 76.95, 10.0, 5.2, "KZ"),  # Almaty
    (0.78, 42.95, 75.40, 15.0, 5.5, ""),  # between the two
)
SERVE_FAULTS = ((0.35, signal.SIGTERM), (0.70, signal.SIGKILL))
STALL = (0.40, 0.60)
REWIND_S = 60.0
#: the last record of a station starts at most this before the end of the data [s]
END_MARGIN_S = 10.0
NEW_RE = re.compile(r"daemon\.outputs: alert new .*? origin_time=(\S+)")
ALERT_RE = re.compile(r"daemon\.outputs: alert (\w+) event_id=(\S+) version=(\d+)")
FIELD_RE = re.compile(r"(\w+)=(\S+)")
BEAT_RE = re.compile(r"daemon: heartbeat .*?packets=(\d+)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _eew(*args: str) -> list[str]:
    return [sys.executable, "-m", "eew", *args]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))


#: ``eew run`` writing to ``$EEW_SOAK_TAP`` every record it processed (P) and every record
#: its SeedLink client received (R), dropped as received already (D) or cut to its part
#: not received yet (T): the ``--list-missing`` diagnosis
_TAP_RUN = """
import os, sys
from eew.acquisition.seedlink import session
from eew.daemon import runner
fh = open(os.environ["EEW_SOAK_TAP"], "a", buffering=1)
run = os.environ["EEW_SOAK_RUN"]
process, new_part = runner.Daemon._process, session.Session._new_part
def _process(self, packet):
    fh.write(f"P {run} {packet.channel_id} {packet.starttime_ns} {packet.endtime_ns}\\n")
    process(self, packet)
def _new_part(self, seq, key, packet):
    new = new_part(self, seq, key, packet)
    how = "D" if new is None else "R" if new is packet else "T"
    fh.write(f"{how} {run} {packet.channel_id} {packet.starttime_ns} "
             f"{packet.endtime_ns} {seq}\\n")
    return new
runner.Daemon._process, session.Session._new_part = _process, _new_part
from eew.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Proc:
    """A child process whose stderr (or stdout) lines are logged to a file and kept."""

    def __init__(
        self, name: str, argv: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.lines: list[str] = []
        self._log = log.open("a")
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**_env(), **(env or {})},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            self._log.write(line)
        self._log.flush()

    def wait_line(self, pattern: str | re.Pattern[str], timeout_s: float, start: int = 0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.lines[start:]:
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None and not self._thread.is_alive():
                break
            time.sleep(0.05)
        tail = "".join(self.lines[-15:])
        raise RuntimeError(f"{self.name}: no {pattern!r} within {timeout_s} s\n{tail}")

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 20.0) -> float:
        """Send ``sig``, wait for the exit; return the seconds it took."""
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._thread.join(10)
        self._log.close()
        return time.monotonic() - t0


# ---- set-up ---------------------------------------------------------------------------------
def simulate(work: Path, minutes: float) -> Path:
    """The archive: ``minutes`` of AW and KN HH? channels with the events of EVENTS
    (made once per length in ``work``, then reused)."""
    length_s = round(minutes * 60)
    work.mkdir(parents=True, exist_ok=True)
    out = work / f"archive_{length_s}s"
    if (out / "truth.json").is_file():
        return out
    sources = []
    for frac, lat, lon, depth, mag, _ in EVENTS:
        t = START_S + frac * length_s
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{round(t % 1 * 1000):03d}Z"
        sources.append(
            f'[[source]]\norigin_time = "{iso}"\nlatitude_deg = {lat}\nlongitude_deg = {lon}\n'
            f"depth_km = {depth}\nmagnitude = {mag}\n"
        )
    scenario = work / f"soak_{length_s}s.toml"
    scenario.write_text(
        f'[scenario]\nname = "soak"\nseed = 2026\nstart_time = "{START}"\nlength_s = {length_s}\n'
        f'[stations]\ninventory = ["{ROOT}/stations/almaty_aews.xml", '
        f'"{ROOT}/stations/kyrgyzstan_kn.xml"]\ninclude = ["AW.*", "KN.*"]\n'
        f'channels = ["HH?"]\n' + "\n".join(sources)
    )
    subprocess.run(_eew("simulate", str(scenario), "--out", str(out)), check=True, env=_env())
    return out


def records(archive: Path, network: str) -> int:
    """512-byte records of one network's files (the simulator writes nothing else)."""
    return sum(p.stat().st_size // 512 for p in archive.glob(f"{network}.*.mseed"))


@dataclass
class Centre:
    """One daemon's settings and runs."""

    agency: str
    network: str
    own_xml: str
    partner_xml: str
    bus_port: int = field(default_factory=_free_port)
    export_port: int = field(default_factory=_free_port)
    runs: list[Proc] = field(default_factory=list)

    @property
    def bus(self) -> str:
        return f"tcp://127.0.0.1:{self.bus_port}"

    def config(self, work: Path, serve_port: int, partner: Centre) -> Path:
        path = work / f"{self.agency}.toml"
        path.write_text(
            f"""
[inventory]
stationxml = ["{ROOT}/stations/{self.own_xml}"]
[alert]
agency = "{self.agency}"
[daemon]
role = "all"
processing_clock = "data"
heartbeat_interval_s = 1.0
[seedlink]
servers = ["127.0.0.1:{serve_port}"]
streams = "{self.network}_*"
state_file = "{self.agency}.state.json"
state_interval_s = 1.0
future_s = inf
backoff_initial_s = 0.1
backoff_max_s = 0.5
[bus]
endpoint = "{self.bus}"
heartbeat_interval_s = 1.0
[bus_security]
curve_enabled = false
signing_key_file = "keys/{self.agency}.ed25519_secret"
[partner]
enabled = true
agency = "{partner.agency}"
endpoints = ["tcp://127.0.0.1:{partner.export_port}"]
trusted_key_file = "keys/{partner.agency}.ed25519"
inventory_file = "{ROOT}/stations/{self.partner_xml}"
export_endpoint = "tcp://127.0.0.1:{self.export_port}"
"""
        )
        return path

    def start(self, work: Path, cfg: Path, wait: bool = True, tap: bool = False) -> Proc:
        n = len(self.runs)
        argv = _eew("run", "--config", str(cfg))
        env = None
        if tap:
            argv = [sys.executable, "-c", _TAP_RUN, *argv[3:]]
            env = {"EEW_SOAK_TAP": str(work / f"{self.agency}.tap"), "EEW_SOAK_RUN": str(n + 1)}
        proc = Proc(f"{self.agency} run {n + 1}", argv, work / f"{self.agency}.log", work, env)
        self.runs.append(proc)
        if wait:
            proc.wait_line("daemon started", 120)
        return proc

    @property
    def lines(self) -> list[str]:
        return [ln for r in self.runs for ln in r.lines]

    def progress_s(self, work: Path) -> float:
        """Data offset every station of this centre has reached (its state file) [s]."""
        try:
            state = json.loads((work / f"{self.agency}.state.json").read_text())
            times = [t for srv in state["servers"].values() for _, t in srv.values()]
        except (OSError, ValueError, KeyError):
            return 0.0
        return min(times) / 1e9 - START_S if times else 0.0

    @property
    def up(self) -> bool:
        """The current run has started and sent a heartbeat since."""
        lines = self.runs[-1].lines
        started = [i for i, ln in enumerate(lines) if "daemon started" in ln]
        # any heartbeat line after the start (not only the last line: a daemon that logs
        # after every heartbeat, a warning about its partner say, is up all the same)
        return bool(started) and any(" daemon: heartbeat " in ln for ln in lines[started[0] :])


def make_keys(work: Path) -> Path:
    keys = work / "keys"
    for agency in ("KZ-AEWS", "KG-MES"):
        if not (keys / f"{agency}.ed25519_secret").is_file():
            subprocess.run(
                _eew("keys", str(keys), "--name", agency, "--sign-only"), check=True, env=_env()
            )
    trusted = work / "app_trusted"
    trusted.mkdir(exist_ok=True)
    for agency in ("KZ-AEWS", "KG-MES"):
        (trusted / f"{agency}.ed25519").write_bytes((keys / f"{agency}.ed25519").read_bytes())
    (trusted / "relays.toml").write_text('KZ-AEWS = ["KG-MES"]\nKG-MES = ["KZ-AEWS"]\n')
    return trusted


# ---- the application's subscribers ------------------------------------------------------------
class App(threading.Thread):
    """A subscriber thread that records every alert delivered (and optionally stalls)."""

    def __init__(self, name: str, endpoint: str, trusted: Path, stall: threading.Event | None):
        super().__init__(name=name, daemon=True)
        from eew.bus import Subscriber, SubscriberConfig, Verifier
        from eew.model.clock import WallClock

        kinds = ("alert", "pick") if stall is not None else ("alert",)
        config = SubscriberConfig(rcvhwm_messages=50 if stall is not None else 10000)
        self.sub = Subscriber(
            endpoint,
            verifier=Verifier.from_dir(trusted),
            clock=WallClock(),
            config=config,
            kinds=kinds,
        )
        self.delivered: Counter[tuple[str, str, int]] = Counter()
        self.newest_data_ns = 0  # newest packet of the publishing daemon (its heartbeats)
        self.picks: Counter[tuple[str, int]] = Counter()
        self.stall = stall
        self.stop = threading.Event()
        self.stalled_s = 0.0

    def run(self) -> None:
        from eew.bus.wire import Heartbeat
        from eew.model.alert import Alert
        from eew.model.pick import Pick

        try:
            while not self.stop.is_set():
                if self.stall is not None and self.stall.is_set():
                    t0 = time.monotonic()
                    while self.stall.is_set() and not self.stop.is_set():
                        time.sleep(0.05)
                    self.stalled_s += time.monotonic() - t0
                msg = self.sub.receive(0.1)
                if msg is None:
                    continue
                if isinstance(msg.body, Alert):
                    a = msg.body
                    self.delivered[(a.agency, a.event_id, a.version)] += 1
                elif isinstance(msg.body, Pick):
                    self.picks[(msg.body.pick_id, msg.body.update)] += 1
                elif isinstance(msg.body, Heartbeat) and msg.agency == msg.body.agency:
                    last = msg.body.health.last_packet_time_ns
                    self.newest_data_ns = max(self.newest_data_ns, last or 0)
        finally:
            self.sub.close()


# ---- the run ----------------------------------------------------------------------------------
@dataclass
class Serve:
    archive: Path
    work: Path
    speed: float
    length_s: float
    port: int = field(default_factory=_free_port)
    procs: list[Proc] = field(default_factory=list)
    begin_s: float = 0.0  # data offset of the current run's first record [s]
    t0: float = 0.0  # monotonic start of the current run

    def start(self, begin_s: float = 0.0) -> None:
        # the first run plays when both daemons stream: neither has a resume point yet
        # (``DATA`` alone: new packets only), and the second to connect would miss what
        # was played before it did (the first records of its stations)
        extra = ["--wait-clients", "2"]
        if begin_s > 0:
            t = START_S + begin_s
            extra = ["--begin", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))]
        argv = _eew(
            "serve",
            str(self.archive),
            "--listen",
            f"127.0.0.1:{self.port}",
            "--speed",
            str(self.speed),
            *extra,
        )
        proc = Proc(f"serve {len(self.procs) + 1}", argv, self.work / "serve.log", self.work)
        proc.wait_line("listening on", 120)
        self.procs.append(proc)
        self.begin_s, self.t0 = begin_s, time.monotonic()

    def data_s(self) -> float:
        """Data offset being served now (from the pace) [s]."""
        return self.begin_s + (time.monotonic() - self.t0) * self.speed

    def restart(self, sig: int, have_s: float) -> None:
        """Stop with ``sig``; start again on a fresh ring that begins ``REWIND_S`` before
        ``have_s``, the data the daemons have (a server restarted with less than they
        need would lose records by design, not by fault)."""
        self.procs[-1].stop(sig)
        self.start(max(0.0, min(have_s, self.length_s) - REWIND_S))


def run(args: argparse.Namespace) -> int:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.log"):
        old.unlink()
    for old in work.glob("*.state.json"):
        old.unlink()
    for old in work.glob("*.events.json"):
        old.unlink()
    for old in work.glob("*.tap"):
        old.unlink()
    t_sim = time.monotonic()
    archive = simulate(Path(args.archive_dir or work), args.minutes)
    sim_s = time.monotonic() - t_sim
    length_s = round(args.minutes * 60)
    trusted = make_keys(work)
    serve = Serve(archive, work, args.speed, length_s)
    kz = Centre("KZ-AEWS", "AW", "almaty_aews.xml", "kyrgyzstan_kn.xml")
    kg = Centre("KG-MES", "KN", "kyrgyzstan_kn.xml", "almaty_aews.xml")
    cfg = {c.agency: c.config(work, serve.port, p) for c, p in ((kz, kg), (kg, kz))}
    load0 = os.getloadavg()
    t_start = time.monotonic()
    tap = args.list_missing
    kz.start(work, cfg[kz.agency], tap=tap)
    kg.start(work, cfg[kg.agency], tap=tap)
    stall = threading.Event()
    apps = {
        "KZ app": App("KZ app", kz.bus, trusted, None),
        "KG app": App("KG app", kg.bus, trusted, None),
        "KZ stalled": App("KZ stalled", kz.bus, trusted, stall),
    }
    for app in apps.values():
        app.start()
    time.sleep(1.0)
    serve.start()
    faults: list[str] = []
    pending_serve = [] if args.no_serve_faults else list(SERVE_FAULTS)
    restarts = {} if args.no_daemon_restarts else {w: f for f, *_, w in EVENTS if w}
    restart_times: list[float] = []
    stall_t0: float | None = None
    stall_min_s = (STALL[1] - STALL[0]) * length_s / args.speed
    give_up = time.monotonic() + 3 * length_s / args.speed + 600
    try:
        while True:
            have_s = min(kz.progress_s(work), kg.progress_s(work))
            frac = have_s / length_s
            both_up = kz.up and kg.up
            if pending_serve and frac >= pending_serve[0][0] and both_up:
                _, sig = pending_serve.pop(0)
                serve.restart(sig, have_s)
                faults.append(
                    f"serve {signal.Signals(sig).name} at {frac:.0%} ({have_s:.0f} s of data, "
                    f"fresh ring from {serve.begin_s:.0f} s)"
                )
            # once, even when the data jump over the window (a daemon catching up after
            # its restart: the short mode), and for at least the window's wall time
            if frac >= STALL[0] and stall_t0 is None:
                stall.set()
                stall_t0 = time.monotonic()
                faults.append(f"subscriber stalled at {frac:.0%}")
            stalled_s = 0.0 if stall_t0 is None else time.monotonic() - stall_t0
            if stall.is_set() and frac >= STALL[1] and stalled_s >= stall_min_s:
                stall.clear()
            for centre, cfg_path in ((kz, cfg[kz.agency]), (kg, cfg[kg.agency])):
                key = "KZ" if centre is kz else "KG"
                at = restarts.get(key)
                if at is None or not centre.up:
                    continue
                origin_s = at * length_s
                mid_event = any(
                    (m := NEW_RE.search(ln)) and abs(_offset_s(m.group(1)) - origin_s) < 30
                    for ln in centre.runs[-1].lines
                )
                if mid_event or frac > at + 0.1:
                    stop_s = centre.runs[-1].stop(signal.SIGTERM)
                    restart_times.append(stop_s)
                    centre.start(work, cfg_path, wait=False, tap=tap)  # catches up from the ring
                    how = "mid-event" if mid_event else "after the event (no alert seen)"
                    faults.append(
                        f"{centre.agency} restarted {how} at {centre.progress_s(work):.0f} s of "
                        f"data ({stop_s:.2f} s to exit)"
                    )
                    del restarts[key]
            done = not pending_serve and not restarts and both_up and not stall.is_set()
            if serve.data_s() > length_s and done:
                break
            if time.monotonic() > give_up:
                faults.append("TIMED OUT before every fault was made")
                break
            time.sleep(0.1)
        # the rest of the data processed: every station's state near the end of the data
        # (a server restarted late is still replaying its rewind), then packet counts
        # steady over 3 heartbeats
        t_end = time.monotonic() + 120.0
        while time.monotonic() < t_end and min(c.progress_s(work) for c in (kz, kg)) < (
            length_s - END_MARGIN_S
        ):
            time.sleep(0.5)
        last = (-1, -1)
        steady = 0
        while steady < 3:
            time.sleep(1.0)
            now = tuple(_last_beat(c) for c in (kz, kg))
            steady = steady + 1 if now == last else 0
            last = now  # type: ignore[assignment]
        time.sleep(3.0)  # the last alerts through the bus
    finally:
        stall.clear()
        exits = [c.runs[-1].stop(signal.SIGTERM) for c in (kz, kg) if c.runs]
        for app in apps.values():
            app.stop.set()
        for app in apps.values():
            app.join(10)
        if serve.procs:
            serve.procs[-1].stop(signal.SIGTERM)
    wall_s = time.monotonic() - t_start
    return report(args, kz, kg, apps, archive, faults, restart_times + exits, wall_s, sim_s, load0)


def _offset_s(iso: str) -> float:
    """Data offset of an ISO 8601 UTC time [s]."""
    from eew.model.timeutil import iso_to_ns

    return iso_to_ns(iso) / 1e9 - START_S


def _last_beat(c: Centre) -> int:
    for ln in reversed(c.runs[-1].lines):
        m = BEAT_RE.search(ln)
        if m:
            return int(m.group(1))
    return -1


def report(
    args: argparse.Namespace,
    kz: Centre,
    kg: Centre,
    apps: dict[str, App],
    archive: Path,
    faults: list[str],
    exits: list[float],
    wall_s: float,
    sim_s: float,
    load0: tuple[float, float, float],
) -> int:
    ok = True
    load1 = os.getloadavg()
    print(f"soak: {args.minutes:g} min of data at {args.speed:g}x, {wall_s:.0f} s wall")
    print(f"load average {load0[0]:.1f} at the start, {load1[0]:.1f} at the end (2 cores)")
    print("faults:", "; ".join(faults))
    print(f"daemon exits after SIGTERM: {', '.join(f'{x:.2f}' for x in exits)} s")
    print()
    print(
        f"{'centre':8} {'records':>8} {'processed':>9} {'alerts':>6} {'LOST':>5} "
        f"{'asked':>5} {'restarts':>8}"
    )
    published: dict[str, set[tuple[str, str, int]]] = {}
    exchange: dict[str, tuple[int, int]] = {}
    for c in (kz, kg):
        lines = c.lines
        expected = records(archive, c.network)
        processed = imported = exported = 0
        for ln in lines:
            if "daemon stopped" in ln:
                # packets counts the imported partner picks too (and the records drained)
                f = dict(FIELD_RE.findall(ln))
                imported += int(f.get("partner_picks_imported", 0))
                exported += int(f.get("partner_exported_picks", 0))
                processed += int(f["packets"])
        processed -= imported
        exchange[c.agency] = (exported, imported)
        pub = {
            (c.agency, m.group(2), int(m.group(3))) for ln in lines if (m := ALERT_RE.search(ln))
        }
        published[c.agency] = pub
        lost = sum("message(s) LOST" in ln for ln in lines)
        asked = sum("asking for them" in ln for ln in lines)
        restarted = sum("publisher restarted" in ln for ln in lines)
        print(
            f"{c.agency:8} {expected:8d} {processed:9d} {len(pub):6d} {lost:5d} {asked:5d} "
            f"{restarted:8d}"
        )
        ok &= processed == expected and lost == 0
    print()
    print(
        f"{'subscriber':11} {'own alerts':>10} {'delivered':>9} {'superseded':>10} {'lost':>4} "
        f"{'dupl.':>5} {'relayed':>7} {'missed':>6} {'recov.':>6} {'LOST':>4} {'resends':>7}"
    )
    for name, app in apps.items():
        agency = "KZ-AEWS" if name.startswith("KZ") else "KG-MES"
        own = {k for k in app.delivered if k[0] == agency}
        relayed = sum(1 for k in app.delivered if k[0] != agency)
        superseded, lost = alert_losses(published[agency], own)
        dupl = sum(n - 1 for n in app.delivered.values()) + sum(n - 1 for n in app.picks.values())
        st = app.sub.statistics()
        m = st.messages
        print(
            f"{name:11} {len(published[agency]):10d} {len(own):9d} {len(superseded):10d} "
            f"{len(lost):4d} {dupl:5d} {relayed:7d} {m.missed:6d} {m.recovered:6d} {m.lost:4d} "
            f"{st.resend_requests:7d}"
        )
        if superseded:
            print(
                "   superseded (a newer version of the event delivered):", sorted(superseded)[:10]
            )
        if lost:
            print("   not delivered:", sorted(lost)[:10])
        ok &= not lost and dupl == 0
    ok &= not any("TIMED OUT" in f for f in faults)
    for a, b in (("KG-MES", "KZ-AEWS"), ("KZ-AEWS", "KG-MES")):
        print(
            f"partner picks {a} -> {b}: {exchange[a][0]} exported, {exchange[b][1]} imported "
            "(picks exported while the importer was restarting are not asked for: a new "
            "process has no sequence state)"
        )
    stalled = apps["KZ stalled"]
    print(
        f"\nstalled subscriber: {stalled.stalled_s:.1f} s without reading, "
        f"{len(stalled.picks)} picks and {sum(stalled.delivered.values())} alerts delivered"
    )
    if args.list_missing:
        for c in (kz, kg):
            ok &= list_missing(Path(args.workdir) / f"{c.agency}.tap", archive, c)
    print(f"simulation {sim_s:.0f} s (0 when the archive was reused); logs in {args.workdir}")
    print("RESULT", "OK" if ok else "FAILED")
    return 0 if ok else 1


def alert_losses(
    published: set[tuple[str, str, int]], delivered: set[tuple[str, str, int]]
) -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]]]:
    """Published (agency, event id, version)s not delivered: (superseded, lost).

    The bus's stated policy (docs/alert_bus.md, "updates coalesce"; issue 12 item 6) is
    that every event reaches the application with its newest version, and that an
    update may give way to a newer version of the same event (the gate refuses an older
    version once a newer one was delivered: a siren must not step back). A version not
    delivered is *superseded* when a newer version of its event was delivered, and
    *lost* otherwise (the event's newest published version, or the whole event, never
    arrived).
    """
    newest: dict[tuple[str, str], int] = {}
    for agency, event_id, version in delivered:
        key = (agency, event_id)
        newest[key] = max(newest.get(key, -1), version)
    superseded, lost = set(), set()
    for k in published - delivered:
        (superseded if newest.get((k[0], k[1]), -1) > k[2] else lost).add(k)
    return superseded, lost


def archive_records(archive: Path, network: str) -> set[tuple[str, int]]:
    """(channel id, start time [ns]) of every record of one network's files."""
    from eew.acquisition.mseed import parse_header

    out = set()
    for path in archive.glob(f"{network}.*.mseed"):
        buf = path.read_bytes()
        for offset in range(0, len(buf), 512):
            hdr = parse_header(buf, offset)
            out.add((hdr.channel_id, hdr.starttime_ns))
    return out


def list_missing(tap: Path, archive: Path, c: Centre) -> bool:
    """Print the records of ``c``'s network that no run processed, or processed twice
    (``--list-missing``: the tap of every run); True if there are none."""
    processed: Counter[tuple[str, int]] = Counter()
    runs: dict[tuple[str, int], list[str]] = {}
    dropped: dict[tuple[str, int], list[str]] = {}
    for line in tap.read_text().splitlines():
        kind, run, cid, start, _end, *seq = line.split()
        key = (cid, int(start))
        if kind == "P":
            processed[key] += 1
            runs.setdefault(key, []).append(run)
        elif kind in "DT":
            how = "dropped" if kind == "D" else "trimmed"
            dropped.setdefault(key, []).append(f"{how} in run {run} (seq {seq[0]})")
    expected = archive_records(archive, c.network)
    missing = sorted(expected - set(processed))
    twice = sorted(k for k, n in processed.items() if n > 1)
    print(f"\n{c.agency}: {len(missing)} record(s) never processed, {len(twice)} more than once")
    for label, keys in (("missing", missing), ("twice", twice)):
        for key in keys[:200]:
            why = "; as received already: " + ", ".join(dropped[key]) if key in dropped else ""
            where = f" runs {','.join(runs[key])}" if key in runs else ""
            print(f"  {label} {key[0]} {key[1] / 1e9 - START_S:9.3f} s{where}{why}")
    return not missing and not twice


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="data length [min]")
    parser.add_argument("--speed", type=float, default=20.0, help="times real time")
    parser.add_argument("--workdir", default="/tmp/eew_soak", help="archive, keys, logs")
    parser.add_argument("--archive-dir", help="where the simulated archive is kept (workdir)")
    parser.add_argument(
        "--no-serve-faults", action="store_true", help="no server restarts (diagnosis)"
    )
    parser.add_argument(
        "--no-daemon-restarts", action="store_true", help="no daemon restarts (diagnosis)"
    )
    parser.add_argument(
        "--list-missing",
        action="store_true",
        help="tap every daemon run: list the records never processed or processed twice",
    )
    args = parser.parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
