"""Tabulate first-arrival P and S times through ALM-1D-v0 for the real-time locator.

Writes ``eew/data/traveltimes_alm1d_v0.npz``: for each depth slice, P and S times on a
uniform epicentral-distance axis (0.5 km steps to 1000 km), computed with obspy.taup
through the model built by :mod:`eew.simulate.velocity` (the same model the simulator
uses). Each time is the first arrival among the direct and refracted phases (P: p, P,
Pg, Pn; S: s, S, Sg, Sn), so Pn takes over from Pg beyond the crossover distance (about
250 km for a 50 km Moho) and regional sources anywhere in the 1000 km x 600 km location
domain reach every station. The file is small (about 170 kB) and committed, so the
pipeline starts without TauP; a test checks entries against TauP. Re-run after changing
the velocity model::

    python tools/make_traveltimes.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from eew.simulate.velocity import MODEL_NAME, TravelTimes

DEPTHS_KM = (1.0, 3.0, 5.0, 8.0, 11.0, 15.0, 20.0, 25.0, 30.0, 40.0, 60.0)
MAX_DISTANCE_KM = 1000.0
STEP_KM = 0.5
OUT = Path(__file__).resolve().parents[1] / "eew" / "data" / "traveltimes_alm1d_v0.npz"


def main() -> None:
    """Write the table file and print a one-line summary."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        tts = TravelTimes(Path(tmp))
        dist = np.arange(0.0, MAX_DISTANCE_KM + STEP_KM / 2, STEP_KM)
        p = np.empty((len(DEPTHS_KM), dist.size), dtype=np.float32)
        s = np.empty_like(p)
        for i, z in enumerate(DEPTHS_KM):
            tab = tts.table(z, MAX_DISTANCE_KM)
            p[i] = np.interp(dist, tab.distance_km, tab.p_s)
            s[i] = np.interp(dist, tab.distance_km, tab.s_s)
    np.savez_compressed(
        OUT, model=np.array(MODEL_NAME), depth_km=np.array(DEPTHS_KM),
        distance_step_km=np.array(STEP_KM), p_s=p, s_s=s,
    )
    print(f"{OUT}: {len(DEPTHS_KM)} depths x {dist.size} distances "
          f"({OUT.stat().st_size / 1e3:.0f} kB) in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
