"""Two instances on loopback: the Kazakh centre (KZ-AEWS) and the Kyrgyz side (KG-MES).

KZ-AEWS is a full central daemon (:class:`eew.daemon.runner.Daemon`, its own keys, CURVE
and Ed25519 everywhere) whose ``[partner]`` section points at KG-MES. The Kyrgyz side is
the set of components its daemon would run: its export publisher (KG-MES picks and
alerts, CURVE + its own signing key) and a :class:`PartnerLink` subscribed to the KZ
export. A rogue publisher holding KG's CURVE server certificate but not its signing key
injects forged KG-MES messages. Every socket binds 127.0.0.1 on a random port; every
wait has a timeout; everything is closed at the end (the ZMQ contexts are terminated
with a timeout, which fails if a socket was left open).

Real picks come from replaying ``waveforms_samples/kyrgyz_m5.5`` (AW and KN stations):
AW picks reach the KZ centre through a KZ station publisher (its ``[upstream]``), KN
picks through the KG export (its ``[partner]`` link).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from test_bus_support import sample_alert

from eew.bus import (
    BusConfig,
    CurveClient,
    CurveServer,
    Publisher,
    Signer,
    Subscriber,
    Verifier,
)
from eew.bus.keys import generate_keys
from eew.daemon.config import settings_from_dict
from eew.daemon.runner import Daemon
from eew.evaluate.run import replay_paths
from eew.event.lifecycle import EventState
from eew.model.alert import Alert
from eew.model.clock import WallClock
from eew.model.pick import Pick
from eew.partner.config import PartnerConfig
from eew.partner.link import PartnerLink, partner_verifier

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "waveforms_samples" / "kyrgyz_m5.5"
LOOPBACK = "tcp://127.0.0.1:*"
NS = 1_000_000_000


@pytest.fixture(scope="module")
def scenario_picks() -> list[Pick]:
    """Every pick message of the scenario, in emission order."""
    return replay_paths([SCENARIO]).picks


def make_keys(root: Path) -> dict[str, Path]:
    """KZ and KG: CURVE + Ed25519; a KZ siren (CURVE); a rogue key claiming KG-MES."""
    generate_keys(root / "kz", "KZ-AEWS")
    generate_keys(root / "kg", "KG-MES")
    generate_keys(root / "siren", "siren", signing=False)
    generate_keys(root / "rogue", "KG-MES", curve=False)
    dirs = {name: root / name for name in ("kz_allowed", "kz_export_allowed", "kg_allowed")}
    dirs["trusted_kz"] = root / "trusted_kz"  # the KZ centre trusts its stations' key
    dirs["siren_trusted"] = root / "siren_trusted"
    for d in dirs.values():
        d.mkdir()
    (dirs["kz_allowed"] / "siren.key").write_bytes((root / "siren/siren.key").read_bytes())
    (dirs["kz_export_allowed"] / "KG-MES.key").write_bytes((root / "kg/KG-MES.key").read_bytes())
    (dirs["kg_allowed"] / "KZ-AEWS.key").write_bytes((root / "kz/KZ-AEWS.key").read_bytes())
    for d in ("trusted_kz", "siren_trusted"):
        (dirs[d] / "KZ-AEWS.ed25519").write_bytes((root / "kz/KZ-AEWS.ed25519").read_bytes())
    (dirs["siren_trusted"] / "relays.toml").write_text('KZ-AEWS = ["KG-MES"]\n')
    return dirs


class Tap:
    """A KZ siren: CURVE client of the KZ bus, verifying with the relay permission."""

    def __init__(self, endpoint: str, root: Path, trusted: Path) -> None:
        self.messages: list = []
        self.stats = None
        self._stop = threading.Event()
        self._args = (endpoint, root, trusted)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        endpoint, root, trusted = self._args
        curve = CurveClient.from_files(root / "siren/siren.key_secret", root / "kz/KZ-AEWS.key")
        with Subscriber(
            endpoint, verifier=Verifier.from_dir(trusted), clock=WallClock(), curve=curve
        ) as sub:
            while not self._stop.is_set():
                m = sub.receive(0.05)
                if m is not None and m.kind == "alert":
                    self.messages.append(m)
                self.stats = sub.statistics()

    def alerts(self, agency: str) -> list[Alert]:
        return [m.body for m in list(self.messages) if m.body.agency == agency]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


async def wait_for(cond, timeout_s: float, what: str) -> None:
    t_end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > t_end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def kg_alert(event_id: str, origin_ns: int, lat: float, lon: float, mag: float) -> Alert:
    return sample_alert(
        event_id=event_id,
        agency="KG-MES",
        version=0,
        message_type="new",
        sent_time_ns=time.time_ns(),
        origin_time_ns=origin_ns,
        latitude_deg=lat,
        longitude_deg=lon,
        magnitude=mag,
        stations=("KN.ULHL", "KN.BOOM", "KN.TKM2"),
    )


def test_two_instances_exchange_over_loopback(tmp_path: Path, scenario_picks) -> None:
    dirs = make_keys(tmp_path)
    k = tmp_path
    clock = WallClock()
    aw = [p for p in scenario_picks if p.channel_id.startswith("AW.")]
    kn = [p for p in scenario_picks if p.channel_id.startswith("KN.")]
    assert aw and kn
    origin_ns = 1_714_809_605_000_000_000  # truth.json of the scenario: 42.80N 77.60E
    states: list[object] = []
    bus = BusConfig(endpoint=LOOPBACK, heartbeat_interval_s=0.5)

    async def main():
        kz_station = Publisher(
            bus,
            agency="KZ-AEWS",
            clock=clock,
            signer=Signer.from_file(k / "kz/KZ-AEWS.ed25519_secret"),
            curve=None,
        )
        kg_curve = CurveServer.from_files(k / "kg/KG-MES.key_secret", dirs["kg_allowed"])
        kg_export = Publisher(
            bus,
            agency="KG-MES",
            clock=clock,
            signer=Signer.from_file(k / "kg/KG-MES.ed25519_secret"),
            curve=kg_curve,
        )
        rogue = Publisher(
            bus,
            agency="KG-MES",
            clock=clock,
            signer=Signer.from_file(k / "rogue/KG-MES.ed25519_secret"),
            curve=kg_curve,
        )
        started = []
        kz = task = tap = kg_link = None
        try:
            for pub in (kz_station, kg_export, rogue):
                await asyncio.to_thread(pub.start)
                started.append(pub)
            raw = {
                "daemon": {
                    "role": "central",
                    "processing_clock": "data",
                    "heartbeat_interval_s": 0.2,
                    "event_tick_s": 0.2,
                },
                "upstream": {
                    "endpoints": [kz_station.endpoint],
                    "trusted_keys_dir": str(dirs["trusted_kz"]),
                },
                "bus": {"endpoint": LOOPBACK, "heartbeat_interval_s": 0.5},
                "bus_security": {
                    "curve_secret_key_file": str(k / "kz/KZ-AEWS.key_secret"),
                    "curve_allowed_keys_dir": str(dirs["kz_allowed"]),
                    "signing_key_file": str(k / "kz/KZ-AEWS.ed25519_secret"),
                    "trusted_keys_dir": str(dirs["trusted_kz"]),
                },
            }
            partner = PartnerConfig(
                enabled=True,
                agency="KG-MES",
                endpoints=(kg_export.endpoint, rogue.endpoint),
                trusted_key_file=str(k / "kg/KG-MES.ed25519"),
                curve_key_file=str(k / "kz/KZ-AEWS.key_secret"),
                curve_server_key_file=str(k / "kg/KG-MES.key"),
                inventory_file=str(ROOT / "stations" / "kyrgyzstan_kn.xml"),
                export_endpoint=LOOPBACK,
                export_curve_allowed_keys_dir=str(dirs["kz_export_allowed"]),
            )
            settings = settings_from_dict(raw, "<kz>", tmp_path)
            kz = Daemon(settings, partner=partner, observers=[states.append])
            task = asyncio.create_task(kz.run())
            await wait_for(lambda: kz.publisher is not None and kz.publisher.endpoint, 10, "bus")
            ex = kz.partner
            assert ex is not None and ex.export_publisher is not None
            await wait_for(lambda: ex.export_publisher.endpoint, 10, "export bus")
            tap = Tap(kz.publisher.endpoint, k, dirs["siren_trusted"])
            # the Kyrgyz side's import of the KZ export (what its daemon's link would do)
            kg_cfg = PartnerConfig(
                enabled=True,
                agency="KZ-AEWS",
                endpoints=(ex.export_publisher.endpoint,),
                trusted_key_file=str(k / "kz/KZ-AEWS.ed25519"),
                inventory_file="unused.xml",
            )
            kg_link = PartnerLink(
                kg_cfg,
                partner_verifier(kg_cfg, k / "kz/KZ-AEWS.ed25519"),
                clock,
                CurveClient.from_files(k / "kg/KG-MES.key_secret", k / "kz/KZ-AEWS.key"),
            )
            kg_link.start()
            for pub, n, what in (
                (kz_station, 2, "upstream"),
                (kg_export, 3, "KZ link"),
                (rogue, 3, "KZ link (rogue)"),
                (kz.publisher, 2, "siren"),
                (ex.export_publisher, 3, "KG link"),
            ):
                await wait_for(lambda p=pub, n=n: p.statistics().subscriptions >= n, 10, what)

            # forged KG-MES messages first: signed with the rogue's key
            rogue.publish_alert(kg_alert("KG-MES-FORGED", origin_ns, 43.25, 76.95, 8.0))
            rogue.publish_pick(kn[0])
            # the picks, in emission order: AW through KZ's upstream, KN through the partner
            for p in sorted(aw + kn, key=lambda p: p.sent_time_ns):
                (kz_station if p.channel_id.startswith("AW.") else kg_export).publish_pick(p)
                await asyncio.sleep(0.002)
            await wait_for(lambda: tap.alerts("KZ-AEWS"), 15, "a KZ-AEWS alert")
            await wait_for(lambda: ex.statistics().picks_imported >= 5, 10, "KN")
            # KG-MES alerts: the same event as ours (merged) and one only KG knows (relayed)
            kg_export.publish_alert(kg_alert("KG-MES-SAME", origin_ns + NS, 42.82, 77.55, 5.3))
            # ...and one 45 km north of it, but with a 25 km uncertainty (a solution from the
            # far side of the border): the same earthquake by both uncertainties (merged),
            # where the fixed 30 km made it a second event
            wide = kg_alert("KG-MES-WIDE", origin_ns + NS, 43.20, 77.60, 5.3)
            kg_export.publish_alert(wide.with_(horizontal_sigma_km=25.0))
            kg_export.publish_alert(
                kg_alert("KG-MES-SOUTH", origin_ns + 40 * NS, 41.60, 75.20, 4.6)
            )
            await wait_for(lambda: tap.alerts("KG-MES"), 10, "a relayed KG-MES alert")
            await wait_for(lambda: ex.link.statistics().gate.dropped_forged >= 2, 10, "forgeries")
            await asyncio.sleep(0.5)  # whatever might echo back has time to arrive
            echoed = []
            while (item := kg_link.get_nowait()) is not None:
                echoed.append(item[0])
        finally:
            if kz is not None:
                kz.request_stop()
            code = await task if task is not None else None
            if kg_link is not None:
                await kg_link.close()
            if tap is not None:
                tap.close()
            for pub in started:
                await asyncio.to_thread(pub.close)
        return kz, tap, echoed, code

    kz, tap, echoed, code = asyncio.run(asyncio.wait_for(main(), 90))
    assert code == 0
    stats = kz.partner.statistics()
    # partner picks arrived, verified, and joined our event
    assert stats.picks_imported >= 5
    events = [v for v in states if isinstance(v, EventState)]
    assert any(any(s.startswith("KN.") for s in e.record.stations) for e in events)
    # partner alerts: the unknown event relayed tagged KG-MES, the same event merged into ours
    relayed = tap.alerts("KG-MES")
    assert [a.event_id for a in relayed] == ["KG-MES-SOUTH"]
    assert (
        kz.partner.merger.related(
            "KG-MES-SAME",
        )
        == tap.alerts("KZ-AEWS")[0].event_id
    )
    assert kz.partner.merger.related("KG-MES-WIDE") == tap.alerts("KZ-AEWS")[0].event_id
    # forged KG-MES messages were dropped at the gate, never relayed or used
    assert stats.link is not None and stats.link.gate.dropped_forged >= 2
    assert kz.health.drops["partner_forged"] >= 2  # in the heartbeat line and metrics
    assert all(a.magnitude < 8 for m in tap.messages for a in [m.body])
    # nothing echoes back: the Kyrgyz side only got KZ-AEWS alerts and AW picks
    assert echoed, "the KZ export sent nothing"
    for value in echoed:
        if isinstance(value, Alert):
            assert value.agency == "KZ-AEWS"
        else:
            assert value.channel_id.startswith("AW.")
    assert tap.stats is not None and tap.stats.messages.dropped_forged == 0
