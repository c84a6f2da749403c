"""The travel-time tables the real-time core uses (committed, so no TauP at start-up).

``eew/data/traveltimes_alm1d_v0.npz`` holds first-arrival P and S times through the
ALM-1D-v0 model on a 0.5 km distance axis for a set of depth slices; it is produced by
``tools/make_traveltimes.py`` with obspy.taup from the same model the simulator uses
(:mod:`eew.simulate.velocity`), and a test checks it against TauP.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eew.errors import ConfigError
from eew.event.locate import TravelTimeStack

DEFAULT_TABLE = Path(__file__).resolve().parent.parent / "data" / "traveltimes_alm1d_v0.npz"


def load_stack(path: str | Path = DEFAULT_TABLE) -> TravelTimeStack:
    """Load a travel-time stack written by ``tools/make_traveltimes.py``."""
    path = Path(path)
    try:
        with np.load(path) as f:
            return TravelTimeStack(
                depth_km=np.asarray(f["depth_km"], dtype=float),
                distance_step_km=float(f["distance_step_km"]),
                p_s=np.ascontiguousarray(f["p_s"], dtype=np.float64),
                s_s=np.ascontiguousarray(f["s_s"], dtype=np.float64),
            )
    except (OSError, KeyError) as exc:
        raise ConfigError(f"{path}: cannot read travel-time tables: {exc}") from exc
