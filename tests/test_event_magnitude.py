"""Magnitude relations and the weighted network magnitude."""

from __future__ import annotations

import math

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
