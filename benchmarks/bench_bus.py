"""Alert bus speed over loopback: CURVE + Ed25519 signatures vs plain.

For each mode:

1. latency: publish one alert, wait until the subscriber has it (verified and
   decoded), repeat; publish-call-to-receive latency p50/p99;
2. throughput: a producer thread publishes N alert versions as fast as it can;
   messages per second until the subscriber has verified the last one.

Publisher and subscriber run in this one process (publisher thread + the
main thread), so the figures include the GIL contention of both ends.
Run: ``python benchmarks/bench_bus.py [--n-latency 1000] [--n-throughput 20000]``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from eew.bus import (
    BusConfig,
    CurveClient,
    CurveServer,
    Publisher,
    Signer,
    Subscriber,
    SubscriberConfig,
    Verifier,
)
from eew.bus.keys import generate_keys
from eew.formats import native
from eew.model.alert import Alert
from eew.model.clock import WallClock

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "formats" / "alert_new.json"


def make_keys(root: Path) -> dict:
    pub = generate_keys(root / "pub", "KZ-AEWS")
    sub = generate_keys(root / "sub", "siren", signing=False)
    allowed = root / "allowed"
    allowed.mkdir()
    (allowed / "siren.key").write_bytes(sub.curve_public.read_bytes())
    trusted = root / "trusted"
    trusted.mkdir()
    (trusted / pub.sign_public.name).write_bytes(pub.sign_public.read_bytes())
    return {
        "signer": Signer.from_file(pub.sign_secret),
        "curve_server": CurveServer.from_files(pub.curve_secret, allowed),
        "curve_client": CurveClient.from_files(sub.curve_secret, pub.curve_public),
        "verifier": Verifier.from_dir(trusted),
    }


def run_mode(secure: bool, keys: dict, n_lat: int, n_tp: int) -> dict:
    clock = WallClock()
    config = BusConfig(
        endpoint="tcp://127.0.0.1:*",
        sndhwm_messages=n_tp + 100,
        alert_queue_size=n_tp + 100,
        heartbeat_interval_s=1.0,
    )
    pub = Publisher(
        config,
        agency="KZ-AEWS",
        clock=clock,
        signer=keys["signer"] if secure else None,
        curve=keys["curve_server"] if secure else None,
    )
    [base] = native.loads(SAMPLE.read_bytes())
    out: dict = {}
    with pub:
        sub = Subscriber(
            pub.endpoint,
            verifier=keys["verifier"] if secure else None,
            clock=clock,
            config=SubscriberConfig(rcvhwm_messages=n_tp + 100),
            curve=keys["curve_client"] if secure else None,
        )
        with sub:
            deadline = time.monotonic() + 10
            while pub.statistics().subscriptions < 3 and time.monotonic() < deadline:
                sub.receive(0.01)
            version = 0
            lat = []
            for _ in range(n_lat):
                alert = base.with_(event_id="bench", version=version, message_type="update")
                version += 1
                t0 = time.perf_counter()
                pub.publish_alert(alert)
                while True:
                    msg = sub.receive(5.0)
                    if msg is None:
                        raise RuntimeError("alert lost in the latency run")
                    if isinstance(msg.body, Alert) and msg.body.version == alert.version:
                        break
                lat.append(time.perf_counter() - t0)
            out["p50_ms"] = float(np.percentile(lat, 50) * 1e3)
            out["p99_ms"] = float(np.percentile(lat, 99) * 1e3)
            alerts = [
                base.with_(event_id="bench", version=version + i, message_type="update")
                for i in range(n_tp)
            ]
            last = alerts[-1].version

            def produce() -> None:
                for a in alerts:
                    pub.publish_alert(a)

            t0 = time.perf_counter()
            producer = threading.Thread(target=produce)
            producer.start()
            n = 0
            while True:
                msg = sub.receive(10.0)
                if msg is None:
                    raise RuntimeError("throughput run stalled")
                if isinstance(msg.body, Alert):
                    n += 1
                    if msg.body.version == last:
                        break
            out["rate"] = n / (time.perf_counter() - t0)
            out["received"] = n
            producer.join()
            out["missed"] = sub.statistics().messages.missed
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-latency", type=int, default=1000)
    parser.add_argument("--n-throughput", type=int, default=20000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        keys = make_keys(Path(tmp))
        print(f"{'mode':<22} {'p50 ms':>8} {'p99 ms':>8} {'alerts/s':>10} {'received':>9}")
        for secure in (False, True):
            r = run_mode(secure, keys, args.n_latency, args.n_throughput)
            name = "CURVE + Ed25519" if secure else "plain (no CURVE/sig)"
            print(
                f"{name:<22} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['rate']:>10.0f}"
                f" {r['received']:>9}"
            )
    print("(one alert payload is about 1.6 kB of JSON; latency includes JSON encode/decode)")


if __name__ == "__main__":
    main()
