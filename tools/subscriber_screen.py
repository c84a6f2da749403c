"""Capture the screen of ``eew subscribe`` during a replayed alert, for docs/subscriber.md.

1. ``eew replay`` turns a bundled scenario into its alert messages (status ``test``);
2. a signed, CURVE-encrypted publisher on a random loopback port sends them at the pace
   they were sent, with every time in them shifted to "now" (so the S waves are due on
   the wall clock); a version that came more than ``--max-gap-s`` after the previous one
   (the ``final``, sent when the data end) is published early, its times unchanged;
3. two ``eew subscribe`` processes receive them: one on a pseudo-terminal (the live
   screen, its countdown redrawn) and one with ``--no-live`` (plain lines);
4. the live screen is rebuilt from what was written to the terminal (a two-sequence
   terminal: ``ESC [ N F`` and ``ESC [ J``, the only ones the subscriber writes) and
   snapshots are taken: when the first alert arrives, ``--later-s`` after it, at the end.

Usage: ``python tools/subscriber_screen.py [--scenario verny_m7.0] [--lang en]
[--target NAME ...] [--write]``; ``--write`` replaces the capture of that scenario in
docs/subscriber.md (between its ``<!-- capture SCENARIO -->`` markers), else it prints it.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from pathlib import Path

from live_demo import make_keys

from eew.bus import CurveServer, Publisher, Signer
from eew.bus.config import BusConfig
from eew.formats import native
from eew.model.alert import Alert
from eew.model.clock import WallClock

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "subscriber.md"
S = 1_000_000_000
COLUMNS, ROWS = 96, 40


def replay_alerts(scenario: str, tmp: Path) -> list[Alert]:
    """The alert messages of ``eew replay`` on a bundled scenario."""
    out = tmp / "replay.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "eew",
            "replay",
            str(ROOT / "waveforms_samples" / scenario),
            "--no-progress",
            "--out",
            str(out),
        ],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    lines = [ln for ln in out.read_text().splitlines() if '"type":"alert"' in ln]
    return [a for ln in lines for a in native.loads(ln.encode()) if isinstance(a, Alert)]


def shifted(alert: Alert, by_ns: int) -> Alert:
    """Every time in ``alert`` moved by ``by_ns``."""
    return alert.with_(
        sent_time_ns=alert.sent_time_ns + by_ns,
        origin_time_ns=alert.origin_time_ns + by_ns,
        previous_sent_ns=tuple(t + by_ns for t in alert.previous_sent_ns),
        targets=tuple(
            dataclasses.replace(t, s_arrival_time_ns=t.s_arrival_time_ns + by_ns)
            for t in alert.targets
        ),
    )


def schedule(alerts: list[Alert], start_ns: int, max_gap_s: float) -> list[tuple[int, Alert]]:
    """(when to publish, alert): all times moved to start at ``start_ns``, pauses cut short.

    A version whose pause after the previous one is longer than ``max_gap_s`` (the
    ``final``, sent when the data end) is published early, its times unchanged.
    """
    by = start_ns - alerts[0].sent_time_ns
    out: list[tuple[int, Alert]] = []
    when = start_ns
    for a in alerts:
        moved = shifted(a, by)
        when = min(moved.sent_time_ns, when + int(max_gap_s * S))
        out.append((when, moved))
    return out


class Terminal:
    """Just enough of a terminal for the subscriber's output: lines, ``ESC[nF`` + ``ESC[J``."""

    _SEQ = re.compile(r"\x1b\[(\d+)F\x1b\[J")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._partial = ""

    def feed(self, text: str) -> None:
        """Take what the program wrote."""
        pos = 0
        text = text.replace("\r", "")
        for m in self._SEQ.finditer(text):
            self._text(text[pos : m.start()])
            del self.lines[len(self.lines) - int(m.group(1)) :]
            pos = m.end()
        self._text(text[pos:])

    def _text(self, text: str) -> None:
        *done, self._partial = (self._partial + text).split("\n")
        self.lines.extend(done)

    def screen(self) -> list[str]:
        """The lines on the screen now (the last ROWS)."""
        return self.lines[-ROWS:]


def _read(fd: int, chunks: list[tuple[float, bytes]]) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        chunks.append((time.monotonic(), data))


def capture(args: argparse.Namespace) -> str:
    """Run the capture; return its markdown."""
    with tempfile.TemporaryDirectory(prefix="eew-screen-") as tmp_name:
        tmp = Path(tmp_name)
        alerts = replay_alerts(args.scenario, tmp)
        keys = tmp / "keys"
        make_keys(keys)
        pub = Publisher(
            BusConfig(endpoint="tcp://127.0.0.1:*", heartbeat_interval_s=1.0),
            agency="KZ-AEWS",
            clock=WallClock(),
            signer=Signer.from_file(keys / "KZ-AEWS.ed25519_secret"),
            curve=CurveServer.from_files(keys / "publisher.key_secret", keys / "allowed"),
        )
        pub.start()
        try:
            return _run(args, alerts, pub, keys)
        finally:
            pub.close()


def _run(args: argparse.Namespace, alerts: list[Alert], pub: Publisher, keys: Path) -> str:
    opts = ["--lang", args.lang, "--trusted-keys", str(keys / "trusted")]
    opts += ["--curve-key", str(keys / "demo.key_secret")]
    opts += ["--curve-server-key", str(keys / "publisher.key")]
    for name in args.target or ():
        opts += ["--target", name]
    start_ns = time.time_ns() + 4 * S
    plan = schedule(alerts, start_ns, args.max_gap_s)
    first = plan[0][1]
    last_s = max((t.s_arrival_time_ns for t in first.targets), default=start_ns)
    duration = (max(plan[-1][0], last_s) - time.time_ns()) / S + 2
    cmd = [sys.executable, "-m", "eew", "subscribe", pub.endpoint, *opts]
    cmd += ["--duration-s", f"{duration:.1f}"]
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    live = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    plain = subprocess.Popen(
        [*cmd, "--no-live"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    chunks: list[tuple[float, bytes]] = []
    reader = threading.Thread(target=_read, args=(master, chunks), daemon=True)
    reader.start()
    t_end = time.monotonic() + 30
    while pub.statistics().subscriptions < 6 and time.monotonic() < t_end:
        time.sleep(0.05)
    for when, a in plan:
        time.sleep(max(0.0, (when - time.time_ns()) / S))
        pub.publish_alert(a)
    plain_out, _ = plain.communicate(timeout=duration + 30)
    live.wait(timeout=30)
    reader.join(5)
    os.close(master)
    return _markdown(args, plan, chunks, plain_out, cmd)


def _markdown(
    args: argparse.Namespace,
    plan: list[tuple[int, Alert]],
    chunks: list[tuple[float, bytes]],
    plain_out: str,
    cmd: list[str],
) -> str:
    term = Terminal()
    shots: list[tuple[str, list[str]]] = []
    t_first = next((t for t, data in chunks if b"[v0 " in data), None)
    moments = []
    if t_first is not None:
        moments = [("0.5 s", t_first + 0.5), (f"{args.later_s:g} s", t_first + args.later_s)]
    for t, data in chunks:
        while moments and t > moments[0][1]:
            label, _ = moments.pop(0)
            shots.append((f"{label} after the first alert arrived", term.screen()))
        term.feed(data.decode("utf-8", "replace"))
    for label, _ in moments:
        shots.append((f"{label} after the first alert arrived", term.screen()))
    shots.append(("at the end (the last version; the S waves have arrived)", term.screen()))
    first_plain = plain_out.strip("\n").split("\n\n")[0]
    shown = " ".join(["eew subscribe tcp://127.0.0.1:PORT", *_short(cmd)])
    parts = [
        f"<!-- capture {args.scenario} -->",
        f"Scenario `{args.scenario}`: {len(plan)} alert messages, replayed by "
        f"`python tools/subscriber_screen.py --scenario {args.scenario}`; the subscriber ran as",
        "",
        f"    {shown}",
        "",
    ]
    for label, lines in shots:
        body = "\n".join(ln.rstrip() for ln in _trim(lines))
        parts += [f"Live screen, {label}:", "", "```text", body, "```", ""]
    parts += [
        "The same first alert with `--no-live` (plain lines, as in a log file; one block per "
        "message):",
        "",
        "```text",
        first_plain.strip("\n"),
        "```",
        f"<!-- end capture {args.scenario} -->",
    ]
    return "\n".join(parts)


def _short(cmd: list[str]) -> list[str]:
    """The subscriber's options as a reader would type them (key paths shortened)."""
    words = cmd[cmd.index("subscribe") + 2 :]
    out: list[str] = []
    for i, w in enumerate(words):
        if w == "--duration-s" or (i and words[i - 1] == "--duration-s"):
            continue
        out.append("keys/" + Path(w).name if os.sep in w else w)
    return out


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    return lines


def main(argv: list[str] | None = None) -> int:
    """Capture; print or write the markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="verny_m7.0", help="folder in waveforms_samples/")
    ap.add_argument("--lang", default="en", choices=("kk", "ru", "en", "ky"))
    ap.add_argument("--target", action="append", help="passed on to eew subscribe")
    ap.add_argument("--later-s", type=float, default=3.0, help="second snapshot [s]")
    ap.add_argument("--max-gap-s", type=float, default=3.0, help="longest pause kept [s]")
    ap.add_argument("--write", action="store_true", help="update docs/subscriber.md")
    args = ap.parse_args(argv)
    text = capture(args)
    if not args.write:
        print(text)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    begin, end = f"<!-- capture {args.scenario} -->", f"<!-- end capture {args.scenario} -->"
    if begin not in doc:
        raise SystemExit(f"{DOC}: no {begin} marker")
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    DOC.write_text(head + text + tail, encoding="utf-8")
    print(f"updated {DOC} ({args.scenario})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
