"""``eew subscribe`` end to end: JSON Lines, readable lines, hooks, and attacks on the feed."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
from pathlib import Path

import pytest
import zmq
from test_bus_support import Bus, Keys, sample_alert, wait_subscribed

from eew.bus import Signer
from eew.bus.signing import unsigned_block
from eew.bus.wire import encode_payload, make_topic
from eew.cli import main
from eew.formats import native
from eew.model.clock import WallClock

TOPIC = make_topic("alert", "KZ-AEWS")
replace = dataclasses.replace

pytest_plugins = ["test_bus_support"]


class CliRun:
    """``eew.cli.main(argv)`` in a thread, with a join timeout."""

    def __init__(self, argv: list[str]) -> None:
        self.rc: int | None = None
        self.thread = threading.Thread(target=self._run, args=(argv,), daemon=True)
        self.thread.start()

    def _run(self, argv: list[str]) -> None:
        self.rc = main(argv)

    def join(self, timeout_s: float = 20.0) -> int:
        self.thread.join(timeout_s)
        assert not self.thread.is_alive(), "eew subscribe did not finish"
        assert self.rc is not None
        return self.rc


def secure_args(keys: Keys) -> list[str]:
    return [
        "--curve-key",
        str(keys.siren_secret),
        "--curve-server-key",
        str(keys.publisher_public),
        "--trusted-keys",
        str(keys.trusted_dir),
    ]


def hook_args(out: Path) -> list[str]:
    script = f"import sys; open({str(out)!r}, 'ab').write(sys.stdin.buffer.read())"
    return ["--exec", f"{sys.executable} -c {json.dumps(script)}"]


def test_subscribe_json_lines(bus: Bus, capsys: pytest.CaptureFixture[str]) -> None:
    pub = bus.publisher(clock=WallClock())
    run = CliRun(
        [
            "subscribe",
            pub.endpoint,
            "--json",
            "--max-alerts",
            "1",
            "--duration-s",
            "20",
            *secure_args(bus.keys),
        ]
    )
    wait_subscribed(pub, 3)
    alert = sample_alert()
    pub.publish_alert(alert)
    assert run.join() == 0
    [line] = capsys.readouterr().out.splitlines()
    assert native.loads(line) == [alert]


def test_subscribe_readable_filter_and_exec(
    bus: Bus, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "hook.jsonl"
    pub = bus.publisher(clock=WallClock())
    argv = ["subscribe", pub.endpoint, "--min-intensity", "5", "--target", "Almaty-Almaly"]
    run = CliRun(
        [*argv, "--max-alerts", "2", "--duration-s", "20", *secure_args(bus.keys), *hook_args(out)]
    )
    wait_subscribed(pub, 3)
    now_ns = time.time_ns()
    weak = sample_alert(event_id="weak", magnitude=3.0)
    weak = weak.with_(targets=tuple(replace(t, intensity_msk=3.0) for t in weak.targets))
    strong = sample_alert(event_id="strong")
    s_ns = now_ns + 12_000_000_000
    strong = strong.with_(targets=tuple(replace(t, s_arrival_time_ns=s_ns) for t in strong.targets))
    pub.publish_alert(weak)
    pub.publish_alert(strong)
    pub.publish_alert(
        strong.with_(version=1, message_type="delete", targets=())
    )  # passes: same event
    assert run.join() == 0
    text = capsys.readouterr().out
    heads = [line for line in text.splitlines() if "[v" in line]
    assert heads == [
        "EARTHQUAKE WARNING  M≥5.6 Mpd  [v0 new, KZ-AEWS strong]",
        "EARTHQUAKE WARNING CANCELLED  [v1 delete, KZ-AEWS strong]",
    ]
    rows = [line for line in text.splitlines() if "(MSK-64)" in line]
    assert len(rows) == 1 and "Almaty, Almaly district" in rows[0]  # --target: that one only
    assert " VII " in rows[0] and rows[0].endswith(("in 12 s", "in 11 s"))
    hooked = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(h["event_id"], h["version"]) for h in hooked] == [("strong", 0), ("strong", 1)]


def test_attacks_never_reach_the_hook(
    bus: Bus, zmq_tracker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fake publisher sends forged, unsigned, malformed, stale and replayed alerts."""
    out = tmp_path / "hook.jsonl"
    ctx = zmq_tracker.context()
    evil = zmq_tracker.socket(ctx, zmq.XPUB)
    port = evil.bind_to_random_port("tcp://127.0.0.1")
    argv = ["subscribe", f"tcp://127.0.0.1:{port}", "--json", "--max-alerts", "2"]
    argv += ["--duration-s", "20", "--trusted-keys", str(bus.keys.trusted_dir)]
    run = CliRun(argv + hook_args(out))
    for _ in range(3):  # alert., heartbeat., status.
        assert evil.poll(10_000), "subscriber did not subscribe"
        evil.recv()
    good = Signer.from_file(bus.keys.signing_secret)
    forger = Signer.from_file(bus.keys.forger_secret)
    seq = iter(range(100))

    def frames(signer, alert, sent_ns=None) -> list[bytes]:
        body = encode_payload(alert)
        sent_ns = time.time_ns() if sent_ns is None else sent_ns
        return [TOPIC, body, signer.sign(TOPIC, body, sent_time_ns=sent_ns, seq=next(seq))]

    m8 = sample_alert(event_id="fake", magnitude=8.0, latitude_deg=43.24, longitude_deg=76.95)
    unsigned_body = encode_payload(m8)
    v0 = sample_alert(event_id="real", version=0)
    v1 = sample_alert(event_id="real", version=1, message_type="update")
    v2 = sample_alert(event_id="real", version=2, message_type="update")
    junk = b'{"type": "alert", "magnitude": 8}'
    signed_junk = [TOPIC, junk, good.sign(TOPIC, junk, sent_time_ns=time.time_ns(), seq=next(seq))]
    attack = [
        frames(forger, m8),  # forged: right agency, wrong key
        [
            TOPIC,
            unsigned_body,
            unsigned_block(
                TOPIC, unsigned_body, sent_time_ns=time.time_ns(), seq=next(seq), agency="KZ-AEWS"
            ),
        ],
        signed_junk,
        frames(good, m8, sent_ns=time.time_ns() - 3600 * 10**9),  # a captured old message
        (legit_v1 := frames(good, v1)),
        legit_v1,  # replayed verbatim
        frames(good, v0),  # an older version, freshly wrapped
        frames(good, v2),
    ]
    for f in attack:
        evil.send_multipart(f)
    assert run.join() == 0
    hooked = [json.loads(x) for x in out.read_text().splitlines()]
    assert [(h["event_id"], h["version"]) for h in hooked] == [("real", 1), ("real", 2)]
    cap = capsys.readouterr()
    assert [json.loads(x)["version"] for x in cap.out.splitlines()] == [1, 2]
    expected = "dropped 6 message(s): 1 forged, 1 unsigned, 2 replayed, 1 stale, 1 malformed"
    assert expected in cap.err
