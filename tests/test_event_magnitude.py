"""Magnitude relations and the weighted network magnitude."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eew.event import magnitude as mag


def test_kuyuk_allen_published_value():
    assert mag.magnitude_from_pd(0.038, 50.0) == pytest.approx(5.99, abs=0.01)


def test_pd_relation_scaling_and_distance_floor():
    m = mag.magnitude_from_pd(0.01, 20.0)
    assert mag.magnitude_from_pd(0.1, 20.0) - m == pytest.approx(1.23)
    assert mag.magnitude_from_pd(0.01, 200.0) - m == pytest.approx(1.38)
    assert mag.magnitude_from_pd(0.01, 0.1) == mag.magnitude_from_pd(0.01, 1.0)


def test_tau_relations():
    assert mag.magnitude_from_tau_c(1.0) == pytest.approx(6.166)
    assert mag.magnitude_from_tau_p(1.0) == pytest.approx(5.2215)
    assert mag.magnitude_from_tau_c(2.0) > mag.magnitude_from_tau_c(1.0)


def test_station_magnitude_uses_tau_only_with_a_second_of_p():
    pd_only = mag.station_magnitude("AW.X", 0.038, 1.0, 1.0, 50.0, 0.5, True)
    assert pd_only is not None
    assert pd_only.magnitude == pytest.approx(mag.magnitude_from_pd(0.038, 50.0))
    assert pd_only.sigma == pytest.approx(mag.PD_SIGMA)
    both = mag.station_magnitude("AW.X", 0.038, 1.0, 1.0, 50.0, 2.0, False)
    assert both is not None and both.sigma < pd_only.sigma
    w = [1 / mag.PD_SIGMA**2, 1 / mag.TAUC_SIGMA**2, 1 / mag.TAUP_SIGMA**2]
    ms = [mag.magnitude_from_pd(0.038, 50.0), 6.166, 5.2215]
    assert both.magnitude == pytest.approx(sum(a * b for a, b in zip(w, ms, strict=True)) / sum(w))
    no_tau = mag.station_magnitude("AW.X", 0.038, 1.0, 1.0, 50.0, 2.0, False, use_tau=False)
    assert no_tau is not None and no_tau.magnitude == pytest.approx(pd_only.magnitude)


def test_station_magnitude_ignores_invalid_values():
    assert mag.station_magnitude("AW.X", math.nan, math.nan, math.nan, 10.0, 2.0, False) is None
    assert mag.station_magnitude("AW.X", 0.0, 20.0, -1.0, 10.0, 2.0, False) is None
    sm = mag.station_magnitude("AW.X", 0.01, 0.01, math.inf, 10.0, 2.0, False)
    assert sm is not None and sm.sigma == pytest.approx(mag.PD_SIGMA)


def _sm(m: float, window: float, sigma: float = 0.3, growing: bool = False):
    return mag.StationMagnitude("AW.X", m, sigma, window, growing)


def test_combine_weights_by_window_and_variance():
    assert mag.combine([]) is None
    one = mag.combine([_sm(5.0, 2.0)])
    assert one is not None and one.magnitude == 5.0 and one.n_stations == 1
    # equal windows and sigmas: the plain mean
    ev = mag.combine([_sm(5.0, 2.0), _sm(6.0, 2.0)])
    assert ev is not None and ev.magnitude == pytest.approx(5.5)
    # the longer window weighs more (it has seen more of the rupture)
    ev = mag.combine([_sm(5.0, 3.0), _sm(6.0, 1.0)])
    assert ev is not None and 5.0 < ev.magnitude < 5.25
    # with equal windows, inverse-variance weights: 1/0.09 against 1/0.36
    ev = mag.combine([_sm(5.0, 1.0, 0.3), _sm(6.0, 1.0, 0.6)])
    assert ev is not None and ev.magnitude == pytest.approx(5.2)
    # a zero window still counts a little
    ev = mag.combine([_sm(5.0, 0.0), _sm(6.0, 1.0)])
    assert ev is not None and 5.9 < ev.magnitude < 6.0


def test_combine_uncertainty_floor_scatter_and_lower_bound():
    same = mag.combine([_sm(5.0, 3.0, 0.3)] * 20)
    assert same is not None and same.sigma == pytest.approx(0.15)
    spread = mag.combine([_sm(4.0, 3.0), _sm(6.0, 3.0)])
    close = mag.combine([_sm(4.9, 3.0), _sm(5.1, 3.0)])
    assert spread is not None and close is not None and spread.sigma > close.sigma
    assert not close.is_lower_bound
    grow = mag.combine([_sm(5.0, 3.0), _sm(5.0, 3.0, growing=True)])
    assert grow is not None and grow.is_lower_bound


# ---- regional events: the Wu & Zhao (2006) relation ----------------------------------------


def test_wu_zhao_inverts_its_forward_model():
    for m, r in ((5.0, 60.0), (7.0, 250.0), (6.2, 380.0)):
        pd = 10 ** (-3.463 + 0.729 * m - 1.374 * math.log10(r))
        assert mag.magnitude_from_pd_regional(pd, r) == pytest.approx(m)
    assert mag.PD_REGIONAL_SIGMA == pytest.approx(0.305 / 0.729)
    assert mag.magnitude_from_pd_regional(0.01, 0.2) == mag.magnitude_from_pd_regional(0.01, 1.0)


def test_kuyuk_allen_reads_low_against_wu_zhao_at_regional_distances():
    """The reason for the regional relation: at 200-300 km the two differ by 0.2-0.3 units
    for the Pd of an M6.5-7 (the steeper distance term of Wu & Zhao), at 50 km they agree."""
    for r in (200.0, 250.0, 300.0):
        pd = 10 ** (-3.463 + 0.729 * 6.8 - 1.374 * math.log10(r))
        gap = mag.magnitude_from_pd_regional(pd, r) - mag.magnitude_from_pd(pd, r)
        assert 0.15 < gap < 0.35
    pd = 10 ** (-3.463 + 0.729 * 6.0 - 1.374 * math.log10(50.0))
    assert abs(mag.magnitude_from_pd_regional(pd, 50.0) - mag.magnitude_from_pd(pd, 50.0)) < 0.05


def test_pd_magnitude_and_regional_flag():
    ka = (mag.magnitude_from_pd(0.01, 250.0), mag.PD_SIGMA)
    assert mag.pd_magnitude(0.01, 250.0, False) == ka
    assert mag.pd_magnitude(0.01, 250.0, True) == (
        mag.magnitude_from_pd_regional(0.01, 250.0),
        mag.PD_REGIONAL_SIGMA,
    )
    far = mag.REGIONAL_NEAREST_KM + 1.0
    assert mag.is_regional(np.array([far, 300.0]))
    assert not mag.is_regional(np.array([far, mag.REGIONAL_NEAREST_KM - 1.0]))
    assert not mag.is_regional(np.array([]))
    only_pd = mag.station_magnitude(
        "AW.X", 0.01, 2.0, 2.0, 250.0, 2.0, False, use_tau=False, regional=True
    )
    assert only_pd is not None
    assert only_pd.magnitude == pytest.approx(mag.magnitude_from_pd_regional(0.01, 250.0))
    assert only_pd.sigma == pytest.approx(mag.PD_REGIONAL_SIGMA)


def _pick_station(sid: str, pd: float, lat: float, lon: float):
    from eew.event.stations import StationPick
    from eew.model.pick import Pick

    t0 = 10**18
    sp = StationPick(sid, t0, lat, lon)
    sp.add(
        Pick(
            f"{sid}..HHZ@x", f"{sid}..HHZ", t0, t0, t0 + 4 * 10**9, 7, True, 4.0, pd,
            0.1, 1.0, 2.0, 2.0, 10.0, "velocity", lat, lon, 0.0,
        )
    )  # fmt: skip
    return sp


def test_event_magnitude_of_a_regional_event_is_mpdr_with_an_honest_sigma():
    picks = [_pick_station(f"AW.S{i}", 0.01, 43.0, 77.0) for i in range(12)]
    far_s = np.full(len(picks), 2e18)
    regional = np.linspace(200.0, 280.0, len(picks))
    ev = mag.event_magnitude(picks, far_s, regional, 13.0)
    assert ev is not None and ev.magnitude_type == "Mpdr" and ev.n_stations == 12
    want = [mag.magnitude_from_pd_regional(0.01, math.hypot(r, 13.0)) for r in regional]
    assert ev.magnitude == pytest.approx(np.mean(want), abs=1e-9)
    # twelve stations agree, but the relation's error at these distances is common to all
    assert ev.sigma == pytest.approx(mag.REGIONAL_SIGMA_FLOOR)
    # the same stations with one of them within REGIONAL_NEAREST_KM: Kuyuk & Allen, "Mpd"
    local = regional.copy()
    local[0] = 120.0
    ev2 = mag.event_magnitude(picks, far_s, local, 13.0)
    assert ev2 is not None and ev2.magnitude_type == "Mpd" and ev2.sigma < ev.sigma
    assert ev2.magnitude == pytest.approx(
        np.mean([mag.magnitude_from_pd(0.01, math.hypot(r, 13.0)) for r in local]), abs=1e-9
    )


def test_pd_growth_of_a_regional_event_uses_the_regional_relation():
    from eew.event.pgrowth import pd_growth

    picks = [_pick_station(f"AW.S{i}", 0.02, 43.0, 77.0) for i in range(3)]
    r = np.array([210.0, 240.0, 270.0])
    far_s = np.full(3, 2e18)
    g = pd_growth(picks, far_s, r, regional=True)
    local = pd_growth(picks, far_s, r)
    assert g is not None and local is not None
    assert g.magnitude == pytest.approx(
        np.mean([mag.magnitude_from_pd_regional(0.02, x) for x in r]), abs=1e-9
    )
    assert g.magnitude > local.magnitude and g.sigma > local.sigma
