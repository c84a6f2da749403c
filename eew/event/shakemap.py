"""The forecast's ground-motion model as a function of distance, for map products.

:func:`shaking_model` returns the callable that :mod:`eew.formats.shakealert` uses to
draw the ``gmmap_pred`` grid and the ``gmcontour_pred`` MMI contours of an alert (the
formats speak only the model, so the model is handed to them): the same relations as
the target forecasts of :mod:`eew.event.forecast` (Akkar & Bommer 2010 PGA and PGV at
the approximate Joyner-Boore distance, instrumental MMI from both: Worden et al. 2012,
weighted as Wald et al. 1999) on one reference site class.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from eew.event import groundmotion as gm

#: (magnitude, epicentral distances [km]) -> (median PGA [cm/s²], MMI)
ShakingFn = Callable[[float, np.ndarray], tuple[np.ndarray, np.ndarray]]


def shaking_model(vs30_m_s: float = 450.0) -> ShakingFn:
    """Median PGA and MMI versus epicentral distance on a site of ``vs30_m_s`` [m/s]."""

    def shaking(magnitude: float, epicentral_km: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rjb = gm.joyner_boore_km(magnitude, epicentral_km)
        pga = gm.pga_akkar_bommer2010(magnitude, rjb, vs30_m_s)
        pgv = gm.pgv_akkar_bommer2010(magnitude, rjb, vs30_m_s)
        return pga, gm.mmi_from_motion(pga, pgv)

    return shaking
