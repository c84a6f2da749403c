"""``eew evaluate``: replay simulated scenarios and score the alerts against their truth."""

from __future__ import annotations

import argparse
import json
import math
import sys

from eew.configfile import SEARCH_HELP
from eew.daemon.config import load_settings
from eew.errors import CLIError


def setup(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of ``eew evaluate``."""
    parser.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO_DIR", help="scenario folders (with truth.json)"
    )
    parser.add_argument(
        "--continuous",
        action="append",
        default=[],
        metavar="DIR",
        help="continuous archive (miniSEED files or folders, may repeat): count triggers per "
        "channel-hour and events and alerts per day instead of scoring scenarios",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="with --continuous: processes for the per-channel stage (default 1)",
    )
    parser.add_argument(
        "--packet-s",
        type=float,
        default=1.0,
        metavar="S",
        help="cut records into packets of at most S seconds, delivered in arrival order, as "
        "live 1-s datalogger packets (default 1.0; 0: whole 512-byte records)",
    )
    parser.add_argument("--config", metavar="FILE", help=SEARCH_HELP)
    parser.add_argument("--out", metavar="DIR", help="write scorecard.json and PNG plots into DIR")
    parser.add_argument(
        "--json", action="store_true", help="print the scorecard as JSON instead of tables"
    )


def run(args: argparse.Namespace) -> int:
    """Evaluate every scenario; print the scorecard; write files if ``--out``."""
    if args.continuous:
        return _run_continuous(args)
    if not args.scenarios:
        raise CLIError("name scenario folders, or a continuous archive with --continuous DIR")
    from eew.evaluate.report import LEGEND, format_scenario, format_totals, totals
    from eew.evaluate.scenario import Evaluator, scorecard, write_outputs

    if not math.isfinite(args.packet_s) or args.packet_s < 0:
        raise CLIError(f"--packet-s must be >= 0, not {args.packet_s}")
    from pathlib import Path

    from eew.evaluate.truth import TRUTH_FILE

    # folders without a truth (e.g. a real record among the samples) are skipped up front,
    # with one line each, so that `eew evaluate waveforms_samples/*/` just works
    paths = []
    for path in args.scenarios:
        if (Path(path) / TRUTH_FILE).is_file():
            paths.append(path)
        else:
            print(
                f"eew evaluate: {path}: no {TRUTH_FILE}, not a scenario; skipped", file=sys.stderr
            )
    if not paths:
        raise CLIError("no scenario folder (with truth.json) among the arguments")
    ev = Evaluator.default(args.packet_s, load_settings(args.config))
    results = []
    for path in paths:
        res = ev.evaluate(path)
        results.append(res)
        if not args.json:
            print(format_scenario(res.score), flush=True)
    if args.json:
        json.dump(scorecard(results), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(format_totals(totals([r.score for r in results])))
        print(LEGEND)
    if args.out:
        files = write_outputs(results, args.out)
        print(f"wrote {len(files)} files to {args.out}", file=sys.stderr)
    return 0


def _run_continuous(args: argparse.Namespace) -> int:
    """``--continuous``: replay the archive, print the counts (or JSON)."""
    from pathlib import Path

    from eew.evaluate.continuous import evaluate_continuous, format_continuous

    if args.scenarios:
        raise CLIError("--continuous takes the archive; scenario folders are evaluated apart")
    if args.jobs < 1:
        raise CLIError(f"--jobs must be at least 1, not {args.jobs}")
    settings = load_settings(args.config)
    report = evaluate_continuous(args.continuous, settings.config, settings.hash(), jobs=args.jobs)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print(format_continuous(report))
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        path = out / "continuous.json"
        path.write_text(json.dumps(report.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)
    return 0
