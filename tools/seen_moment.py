"""Print, per scenario event with sub-events, the released and the seen magnitude over time.

For each checkpoint (seconds after origin): the Mw the rupture has released (``truth.json``
``moment_release``), the Mw of the moment whose P waves have reached at least 1 and 4
stations (:func:`eew.evaluate.seen.seen_magnitude`), and the Mw of the sub-events whose
first P has reached 1 and 4 stations, counted whole (:func:`eew.evaluate.seen.begun_magnitude`).
All stations of the truth count (``eew evaluate`` counts those with data).

Usage::

    PYTHONPATH=$PWD python tools/seen_moment.py waveforms_samples/kemin_m8.0 --at 5 10 15
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from eew.evaluate.seen import begun_magnitude, p_travel_times_s, seen_magnitude
from eew.evaluate.truth import load_truth
from eew.event.traveltime import load_stack


def _f(v: float) -> str:
    return "   -" if not math.isfinite(v) else f"{v:.2f}"


def main() -> None:
    """Parse the arguments and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="+", type=Path)
    ap.add_argument("--at", nargs="+", type=float, default=[5.0, 10.0, 15.0, 20.0, 30.0])
    args = ap.parse_args()
    stack = load_stack()
    print("scenario/event  t[s]  released  seen1  seen4  begun1  begun4")
    for path in args.scenarios:
        truth = load_truth(path)
        for ev in truth.events:
            if ev.source is None:
                continue
            tt = p_travel_times_s(ev.source, truth.stations, stack)
            for t in args.at:
                print(
                    f"{truth.scenario}/{ev.id}  {t:4g}  {_f(ev.released_magnitude(t))}  "
                    f"{_f(seen_magnitude(ev.source, tt, t, 1))}  "
                    f"{_f(seen_magnitude(ev.source, tt, t, 4))}  "
                    f"{_f(begun_magnitude(ev.source, tt, t, 1))}  "
                    f"{_f(begun_magnitude(ev.source, tt, t, 4))}"
                )


if __name__ == "__main__":
    main()
