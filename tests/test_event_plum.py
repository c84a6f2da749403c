"""The shaking forecast's PLUM term and instrumental intensity (issue 11).

The stations' running peak acceleration and velocity (:class:`eew.detect.peaks.PeakStore`),
the median forwarding of the observed intensity to the targets, the instrumental source
forecast (Akkar & Bommer 2010 PGA and PGV, Worden et al. 2012, Wald et al. 1999) and the
public-alert decision's second opinion (the Bindi et al. 2011 regional IPE).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from eew.config import AlertConfig
from eew.detect.peaks import PeakSample, PeakStore
from eew.event import groundmotion as gm
from eew.event.forecast import forecast_targets, ipe_max_intensity, plum_intensity
from eew.event.lifecycle import AlertLifecycle, EventRecord
from eew.event.locate import Location
from eew.event.magnitude import EventMagnitude
from eew.event.targets import Target
from eew.model.alert import Alert, TargetForecast

NS = 1_000_000_000
ALMATY = Target("Almaty-Almaly", 43.255, 76.925, 450.0)
TALGAR = Target("Talgar", 43.300, 77.240, 450.0)


def test_peak_store_keeps_acceleration_and_velocity_apart():
    st = PeakStore(keep_s=10)
    st.add("A.B", 1 * NS, 5.0, 0.2)
    st.add("A.B", 1 * NS + NS // 2, 3.0, 0.9)  # same second: the larger of each
    st.add("A.B", 2 * NS, math.nan, math.nan)  # clipped: ignored
    st.add_sample(PeakSample("A.B", 3 * NS, 2.0))  # no velocity
    st.add("A.B", 4 * NS, math.nan, 1.5)  # an unclipped velocity alone
    assert st.peak("A.B", 0, 5 * NS) == 5.0
    assert st.peak_velocity("A.B", 0, 5 * NS) == 1.5
    assert st.peak_velocity("A.B", 0, 3 * NS) == 0.9
    assert st.peak("A.B", 4 * NS, 5 * NS) is None  # only a velocity in that bin
    assert st.peak_velocity("A.B", 3 * NS, 3 * NS) is None
    assert st.peak("X.Y", 0, 5 * NS) is None
    st.add("A.B", 1 * NS + 1, 9.0, 4.0)  # a late packet of an earlier second
    assert st.peak("A.B", 0, NS) == 9.0 and st.peak_velocity("A.B", 0, NS) == 4.0


def test_plum_forwards_the_median_or_the_largest_nearby_intensity():
    lat, lon = np.array([43.255, 45.0]), np.array([76.925, 80.0])
    obs = [(43.26, 76.93, 3.0), (43.25, 76.90, 5.0), (43.30, 76.95, 9.0), (44.5, 78.0, 10.0)]
    med = plum_intensity(lat, lon, obs, 30.0, "median")
    top = plum_intensity(lat, lon, obs, 30.0, "max")
    assert med[0] == 5.0 and top[0] == 9.0
    assert med[1] == -np.inf and top[1] == -np.inf  # nobody within 30 km
    assert np.all(plum_intensity(lat, lon, [], 30.0, "median") == -np.inf)
    with pytest.raises(ValueError, match="statistic"):
        plum_intensity(lat, lon, obs, 30.0, "mean")


def _forecast(m: float, plum=()) -> tuple[TargetForecast, ...]:
    return forecast_targets(
        [ALMATY, TALGAR], 43.0, 77.5, 10.0, m, 0.2, 0, 0, np.array([10.0, 8.0]), plum, 30.0
    )


def test_source_forecast_is_the_instrumental_intensity_of_the_gmpe():
    for m in (4.5, 6.0, 7.5):
        for f in _forecast(m):
            rjb = gm.joyner_boore_km(m, f.distance_km)
            pga = gm.pga_akkar_bommer2010(m, rjb, 450.0)
            pgv = gm.pgv_akkar_bommer2010(m, rjb, 450.0)
            assert f.intensity_msk == pytest.approx(float(gm.mmi_from_motion(pga, pgv)))
            assert f.intensity_mmi == pytest.approx(f.intensity_msk)
            assert f.pga_cm_s2 == pytest.approx(float(pga))
            assert 0.65 < f.intensity_sigma < 2.0


def test_forecast_uncertainty_grows_with_the_magnitude_uncertainty():
    args = ([ALMATY], 43.0, 77.5, 10.0, 6.5)
    rest = (0, 0, np.array([10.0]))
    (sharp,) = forecast_targets(*args, 0.1, *rest)
    (vague,) = forecast_targets(*args, 0.6, *rest)
    assert vague.intensity_sigma > sharp.intensity_sigma


def test_plum_raises_the_forecast_and_never_lowers_it():
    quiet = _forecast(6.0)
    # the city's stations feel VIII (median), Talgar's surroundings nothing
    city = [(43.25 + 0.01 * k, 76.80, 7.0 + 0.5 * k) for k in range(5)]
    raised = _forecast(6.0, city)
    assert raised[0].intensity_msk == pytest.approx(8.0)
    assert raised[1].intensity_msk == pytest.approx(quiet[1].intensity_msk)
    low = _forecast(6.0, [(43.25, 76.92, 1.0)])
    assert low[0].intensity_msk == pytest.approx(quiet[0].intensity_msk)


def _record(msk: float, ipe: float) -> EventRecord:
    loc = Location(43.0, 78.6, 13.0, 0.0, 2.0, 5.0, 0.3, 1.0, 1.0, np.zeros(0))
    fc = TargetForecast("Almaty-Almaly", 43.255, 76.925, 6.0, 0.28, msk, msk, 0.9, 120.0, 0, 30.0)
    m = EventMagnitude(7.0, 0.2, 8, False)
    stations = tuple(f"AW.S{i}" for i in range(8))
    return EventRecord(1, loc, 0, m, 0.9, stations, (fc,), ipe_max_intensity=ipe)


@pytest.mark.parametrize(
    ("msk", "ipe", "public"),
    [(4.2, 0.0, True), (3.8, 4.4, True), (4.4, 3.8, True), (3.8, 3.9, False)],
)
def test_public_alert_when_either_the_forecast_or_the_regional_ipe_reaches_iv(msk, ipe, public):
    life = AlertLifecycle(AlertConfig(), "hash", "0")
    out = list(life.update(_record(msk, ipe), 10))
    assert bool([o for o in out if isinstance(o, Alert)]) is public
    if not public:
        assert "forecast MSK 3.9 < 4" in out[0].to_dict()["withheld"]


def test_regional_ipe_of_the_targets():
    fcs = _forecast(7.0)
    d = np.array([f.distance_km for f in fcs])
    assert ipe_max_intensity(fcs, 7.0) == pytest.approx(
        float(gm.intensity_msk_bindi2011(7.0, d).max())
    )
    assert ipe_max_intensity((), 7.0) == 0.0
    # the unfelt regional M4.5 (the October 2025 false alert) stays below IV on both
    (f,) = forecast_targets([ALMATY], 42.30, 75.70, 10.0, 4.8, 0.2, 0, 0, np.array([40.0]))
    assert f.intensity_msk < 4.0 and ipe_max_intensity((f,), 4.8) < 4.0
