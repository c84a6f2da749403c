"""``eew replay``: archived miniSEED through the live processing chain (:mod:`eew.assembly`)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from time import process_time  # not through `time`: the tests replace that module
from typing import IO, TYPE_CHECKING

from eew import __version__
from eew.acquisition.windowed import scan_archive
from eew.assembly import Stages
from eew.cli.jsonl import JsonlWriter
from eew.cli.replay_report import print_alerts, print_log_note, quiet_channel_log
from eew.configfile import SEARCH_HELP
from eew.daemon.config import Settings, load_settings
from eew.detect.router import PipelineStatistics
from eew.errors import CLIError
from eew.event.core import EventStatistics
from eew.inventory import Inventory, load_inventory
from eew.model.alert import Alert
from eew.model.clock import DataClock
from eew.model.packet import Packet
from eew.model.pick import Pick
from eew.model.timeutil import ns_to_iso
from eew.parallel import WorkerPool, replay_archive
from eew.parallel.chunks import WARMUP_S

if TYPE_CHECKING:
    from eew.console.server import ConsoleServer


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew replay``."""
    parser.add_argument("paths", nargs="+", metavar="PATH", help="miniSEED files or folders")
    parser.add_argument("--config", metavar="FILE", help=SEARCH_HELP)
    parser.add_argument(
        "--inventory",
        nargs="+",
        default=[],
        metavar="STATIONXML",
        help="extra StationXML files added to the configured inventory",
    )
    parser.add_argument("--out", metavar="FILE", help="JSON Lines output (default: stdout)")
    parser.add_argument(
        "--speed",
        default=None,
        help="'max' (as fast as possible; the default) or N times real time "
        "(default with --console: 1)",
    )
    parser.add_argument(
        "--with-rejections",
        action="store_true",
        help="also write rejected triggers (type 'rejected_trigger')",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="processes (default 1); the output is the same as with one (see eew.parallel)",
    )
    parser.add_argument(
        "--split",
        choices=("auto", "time", "channels"),
        default="auto",
        help="how --jobs shares the archive out: time chunks with a warm-up, or channels; "
        "auto: time chunks when each would hold at least two warm-ups (default: %(default)s)",
    )
    parser.add_argument(
        "--chunk-warmup",
        type=float,
        default=WARMUP_S,
        metavar="S",
        help="seconds replayed before each time chunk and discarded (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--picks-only",
        action="store_true",
        help="run the per-channel stage only (no association, events or alerts)",
    )
    console = parser.add_argument_group(
        "console", "watch the replay in the web console (a drill: its alerts are marked so)"
    )
    console.add_argument(
        "--console",
        action="store_true",
        help="serve the web console ([console] host, port and token of the configuration)",
    )
    console.add_argument("--console-port", type=int, metavar="PORT", help="override the port")
    console.add_argument(
        "--console-wait",
        type=float,
        default=0.0,
        metavar="S",
        help="wait up to S seconds for a browser before the replay starts",
    )
    console.add_argument(
        "--console-linger",
        type=float,
        default=None,
        metavar="S",
        help="keep serving S seconds after the replay (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--status",
        choices=("test", "exercise", "actual"),
        default="test",
        help="status stamped on the alerts: a replay is a test unless said otherwise "
        "(default: %(default)s; the [alert] status of the configuration is not used)",
    )
    parser.add_argument(
        "--table",
        action="store_true",
        help="also print a readable table of the picks (first and final message of each)",
    )


def _parse_speed(text: str | None, console: bool = False) -> float | None:
    if text is None:
        return 1.0 if console else None
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError as exc:
        raise CLIError(f"--speed must be 'max' or a positive number, not {text!r}") from exc
    if not math.isfinite(speed) or speed <= 0:
        raise CLIError(f"--speed must be positive, not {text!r}")
    return speed


def run(args: argparse.Namespace) -> int:
    """Replay the archive; write results; print a summary on stderr."""
    speed = _parse_speed(args.speed, args.console)
    if args.jobs < 1:
        raise CLIError(f"--jobs must be at least 1, not {args.jobs}")
    if not (math.isfinite(args.chunk_warmup) and args.chunk_warmup >= 0):
        raise CLIError(f"--chunk-warmup must be a number of seconds >= 0, not {args.chunk_warmup}")
    if args.jobs > 1 and speed is not None:
        raise CLIError("--speed and --console pace one process: use them with --jobs 1")
    settings = load_settings(args.config)
    cfg = settings.config
    cfg = replace(cfg, alert=replace(cfg.alert, status=args.status))
    inventory_paths = [*map(str, cfg.stationxml_paths()), *args.inventory]
    inventory = load_inventory(inventory_paths)
    t_wall0 = time.perf_counter()
    cpu0 = process_time()
    pool = None
    if args.jobs > 1 and cfg.replay.max_packet_samples == 0:
        # the workers start (imports, numba, inventory) while the archive is indexed
        pool = WorkerPool(
            args.jobs,
            cfg,
            settings.hash(),
            inventory_paths,
            quiet_channels=not getattr(args, "verbose", 0),
            inventory=inventory,
        )
    try:
        # windows of time: memory flat in its length; the workers share out the first pass
        idx = scan_archive(args.paths, scanner=pool.scan if pool is not None else None)
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    with ExitStack() as stack:
        out: IO[str] = sys.stdout
        if args.out:
            out = stack.enter_context(open(args.out, "w", encoding="utf-8"))
        types = None if args.with_rejections else {"pick", "event", "alert"}
        writer = JsonlWriter(out, types)
        picks: list[Pick] = []
        alerts: list[Alert] = []
        held_back = stack.enter_context(quiet_channel_log(getattr(args, "verbose", 0)))

        console = None
        observe: Callable[[object], None] | None = None
        observe_packet: Callable[[Packet], None] | None = None

        def sink(value: object) -> None:
            writer(value)  # type: ignore[arg-type]
            if args.table and isinstance(value, Pick):
                picks.append(value)
            elif isinstance(value, Alert):
                alerts.append(value)
            if observe is not None:
                observe(value)

        clock = DataClock()
        if args.console:
            console = _start_console(args, settings, inventory, clock.now_ns, speed)
            stack.callback(console.close)
            observe, observe_packet = console.tap.observe, console.tap.observe_packet
        progress = _Progress(len(idx)) if (sys.stderr.isatty() and not args.no_progress) else None
        pace = _pacer(speed)
        done = 0

        def before(pkt: Packet) -> None:
            nonlocal done
            pace(pkt.endtime_ns)
            if observe_packet is not None:
                observe_packet(pkt)
            done += 1
            if progress is not None:
                progress.update(done)

        result = replay_archive(
            idx,
            cfg,
            settings.hash(),
            inventory,
            inventory_paths,
            sink,
            stages=Stages(channels=True, events=not args.picks_only),
            jobs=args.jobs,
            # nothing to do before each packet: no call at all (one per packet saved)
            on_packet=(
                before
                if (speed is not None or observe_packet is not None or progress is not None)
                else None
            ),
            on_progress=progress.update if progress is not None else None,
            pool=pool,
            clock=clock,
            split=args.split,
            warmup_s=args.chunk_warmup,
        )
        if progress is not None:
            progress.close()
        if console is not None:
            console.finish()
            _linger(args.console_linger)
    wall = time.perf_counter() - t_wall0
    # the workers' own figures: one still exiting may be stopped before it is waited for
    cpu = process_time() - cpu0 + sum(result.worker_cpu_s)
    if args.table:
        _print_table(picks, sys.stderr if not args.out else sys.stdout)
    if not args.picks_only:
        print_alerts(alerts, sys.stderr)
    _summary(
        result.statistics,
        result.ingest,
        wall,
        writer.written,
        settings.hash(),
        result.events,
        cpu_s=cpu,
        worker_cpu_s=result.worker_cpu_s,
    )
    print_log_note(held_back, sys.stderr, in_workers=result.jobs > 1)
    return 0


def _start_console(
    args: argparse.Namespace,
    settings: Settings,
    inventory: Inventory,
    now_ns: Callable[[], int],
    speed: float | None,
) -> ConsoleServer:
    """Start the web console for this replay; wait for a browser if asked to."""
    from eew.console.assemble import build_console
    from eew.event.targets import load_targets

    cfg = settings.console
    if args.console_port is not None:
        cfg = dataclasses.replace(cfg, port=args.console_port)
    console = build_console(
        cfg,
        inventory.stations(),
        load_targets(settings.config.targets_path()),
        now_ns,
        mode="replay",
        rate=speed or 1.0,
        health=lambda: {"bus": "none (replay)", "partner_link": "none (replay)"},
        base_dir=settings.base_dir,
    )
    console.start()
    sys.stderr.write(f"eew replay: console at {console.url} (a drill: alerts are marked so)\n")
    if args.console_wait > 0 and not console.wait_for_client(args.console_wait):
        sys.stderr.write("eew replay: no browser connected; replaying anyway\n")
    return console


def _linger(seconds: float | None) -> None:
    """Keep the console up after the replay: ``seconds``, or until Ctrl-C (None)."""
    sys.stderr.write(
        "eew replay: replay done; console still serving "
        + (f"for {seconds:g} s\n" if seconds is not None else "until Ctrl-C\n")
    )
    try:
        if seconds is None:
            while True:
                time.sleep(3600)
        elif seconds > 0:
            time.sleep(seconds)
    except KeyboardInterrupt:
        pass


def _print_table(picks: list[Pick], stream: IO[str]) -> None:
    first = {p.pick_id: p for p in reversed(picks)}
    final = {p.pick_id: p for p in picks}
    rows = sorted(first.values(), key=lambda p: (p.time_ns, p.channel_id))
    stream.write(
        f"{'channel':<18} {'P onset (UTC)':<24} {'sent at +s':>10} {'Pd cm':>10} "
        f"{'Pa cm/s2':>9} {'tau_c s':>7} {'window s':>8}\n"
    )
    for p in rows:
        f = final[p.pick_id]
        stream.write(
            f"{p.channel_id:<18} {ns_to_iso(p.time_ns):<24} "
            f"{(p.sent_time_ns - p.time_ns) / 1e9:>10.2f} {f.pd_cm:>10.2e} {f.pa_cm_s2:>9.3f} "
            f"{f.tau_c_s:>7.2f} {f.window_s:>8.2f}\n"
        )


def _pacer(speed: float | None) -> Callable[[int], None]:
    if speed is None:
        return lambda _t_ns: None
    state: dict[str, float] = {}

    def pace(t_ns: int) -> None:
        now = time.perf_counter()
        if "t0" not in state:
            state["t0"], state["w0"] = t_ns / 1e9, now
            return
        target = state["w0"] + (t_ns / 1e9 - state["t0"]) / speed
        if target > now:
            time.sleep(target - now)

    return pace


class _Progress:
    def __init__(self, total: int) -> None:
        self.total = max(total, 1)
        self._last = 0.0

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if now - self._last < 0.2 and done < self.total:
            return
        self._last = now
        frac = done / self.total
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\rreplay [{bar:<30}] {frac:6.1%} {done}/{self.total} packets")
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def _summary(
    stats: PipelineStatistics,
    ingest: dict[str, int],
    wall_s: float,
    written: int,
    cfg_hash: str,
    events: EventStatistics | None = None,
    stream: IO[str] | None = None,
    cpu_s: float | None = None,
    worker_cpu_s: list[float] | None = None,
) -> None:
    s = stream or sys.stderr
    speed = stats.data_span_s / wall_s if wall_s > 0 else float("inf")
    lines = [
        f"eew {__version__} replay summary (config {cfg_hash})",
        f"  files {ingest.get('files', 0)}, records {ingest.get('records', 0)}, "
        f"channels {stats.channels}, packets {stats.packets}, samples {stats.samples}",
        f"  picks {stats.picks} ({stats.pick_messages} messages), objects written {written}",
        *(
            [
                f"  events {events.events} (teleseismic/distant {events.teleseisms}), "
                f"alerts {events.alerts}, pick messages set aside (station outside the "
                f"location grid or beyond the travel-time tables) {events.picks_set_aside}"
            ]
            if events is not None
            else []
        ),
        "  rejected triggers: "
        + (", ".join(f"{k} {v}" for k, v in stats.rejections.items()) or "none"),
    ]
    problems = {k: v for k, v in ingest.items() if k not in ("files", "records") and v}
    problems.update(stats.data_problems)
    if stats.unknown_channels:
        problems["channels_not_in_inventory"] = stats.unknown_channels
    # the edges of time chunks (eew.parallel.chunks): how the replay ran, not the data
    edges = {k: problems.pop(k) for k in list(problems) if k.startswith("chunk_")}
    lines.append(
        "  data problems: " + (", ".join(f"{k} {v}" for k, v in problems.items()) or "none")
    )
    if edges:
        lines.append("  time chunks: " + ", ".join(f"{k} {v}" for k, v in edges.items()))
    meta = stats.metadata.as_dict()
    lines.append(
        "  metadata against data (channels): "
        + (", ".join(f"{k} {v}" for k, v in meta.items()) or "none")
    )
    lines.extend(f"    set aside {cid}: {why}" for cid, why in stats.set_aside.items())
    issues = stats.inventory.as_dict()
    lines.append(
        "  inventory (channel epochs): "
        + (", ".join(f"{k} {v}" for k, v in issues.items()) or "no problems")
    )
    lines.append(
        f"  data span {stats.data_span_s:.1f} s, wall time {wall_s:.2f} s, "
        f"speed {speed:.0f}x real time"
        + (
            f", CPU {cpu_s:.2f} s ({stats.data_span_s / cpu_s:.0f}x real time per CPU second)"
            if cpu_s
            else ""
        )
        + (
            "; of which workers " + " + ".join(f"{c:.2f}" for c in worker_cpu_s) + " s"
            if worker_cpu_s
            else ""
        )
    )
    s.write("\n".join(lines) + "\n")
