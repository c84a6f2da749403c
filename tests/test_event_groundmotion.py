"""Ground-motion and intensity relations against published test values."""

from __future__ import annotations

import numpy as np
import pytest

from eew.event import groundmotion as gm

G_CM_S2 = 981.0


@pytest.mark.parametrize(
    ("magnitude", "rjb_km", "pga_g"),
    [
        (5.0, 10.0, 0.103),
        (6.0, 20.0, 0.110),
        (7.3, 20.0, 0.210),
        (7.0, 140.0, 0.031),
        (7.0, 260.0, 0.017),
    ],
)
def test_akkar_bommer_2010_published_pga(magnitude, rjb_km, pga_g):
    """Vs30 400 m/s (stiff soil), reverse faulting."""
    pga = float(gm.pga_akkar_bommer2010(magnitude, rjb_km, 400.0, "reverse")) / G_CM_S2
    assert round(pga, 3) == pga_g


@pytest.mark.parametrize(
    ("magnitude", "repi_km", "msk"),
    [(5.0, 10.0, 5.6), (6.0, 20.0, 6.2), (7.3, 20.0, 7.3), (7.0, 140.0, 5.3), (7.0, 260.0, 4.4)],
)
def test_bindi_2011_free_depth_form_at_15_km(magnitude, repi_km, msk):
    assert round(float(gm.intensity_msk_bindi2011(magnitude, repi_km, 15.0)), 1) == msk


def test_bindi_2011_decreases_with_distance_and_grows_with_magnitude():
    r = np.linspace(0.0, 500.0, 200)
    i5 = gm.intensity_msk_bindi2011(5.0, r, 10.0)
    assert np.all(np.diff(i5) < 0)
    assert np.all(gm.intensity_msk_bindi2011(6.0, r, 10.0) > i5)
    assert np.all(gm.intensity_msk_bindi2011(6.0, r) > gm.intensity_msk_bindi2011(5.0, r))


def test_bindi_2011_depth_is_floored_at_5_km():
    assert float(gm.intensity_msk_bindi2011(5.0, 10.0, 1.0)) == float(
        gm.intensity_msk_bindi2011(5.0, 10.0, 5.0)
    )


def test_akkar_bommer_site_classes_and_mechanisms():
    soft, stiff, rock = gm.pga_akkar_bommer2010(6.0, 20.0, np.array([300.0, 500.0, 800.0]))
    assert soft > stiff > rock
    rev = float(gm.pga_akkar_bommer2010(6.0, 20.0, 400.0, "reverse"))
    ss = float(gm.pga_akkar_bommer2010(6.0, 20.0, 400.0, "strike-slip"))
    normal = float(gm.pga_akkar_bommer2010(6.0, 20.0, 400.0, "normal"))
    assert rev > ss > normal


def test_worden_2012_is_monotonic_continuous_and_clipped():
    pga = np.logspace(-4, 5, 2000)
    mmi = gm.mmi_from_pga_worden2012(pga)
    assert np.all(np.diff(mmi) >= 0)
    assert mmi.min() == 1.0 and mmi.max() == 10.0
    t1 = 10 ** gm.WORDEN2012_PGA[4]
    below, above = gm.mmi_from_pga_worden2012([t1 * 0.9999, t1 * 1.0001])
    assert abs(above - below) < 0.02
    assert float(gm.mmi_from_pga_worden2012(0.0)) == 1.0


def test_joyner_boore_distance_of_long_ruptures():
    assert float(gm.joyner_boore_km(5.0, 30.0)) == pytest.approx(30.0, abs=2.0)
    assert float(gm.joyner_boore_km(7.7, 30.0)) == 0.0
    assert float(gm.rupture_length_km(7.0)) == pytest.approx(10 ** (-2.44 + 0.59 * 7.0))


@pytest.mark.parametrize(
    ("magnitude", "rjb_km", "pgv_cm_s"),
    [(5.0, 10.0, 3.6), (6.0, 20.0, 6.8), (7.3, 20.0, 24.6), (7.0, 140.0, 3.5), (7.0, 260.0, 2.0)],
)
def test_akkar_bommer_2010_published_pgv(magnitude, rjb_km, pgv_cm_s):
    """The science reference's check values (Vs30 400 m/s, reverse faulting)."""
    pgv = float(gm.pgv_akkar_bommer2010(magnitude, rjb_km, 400.0, "reverse"))
    assert round(pgv, 1) == pgv_cm_s


def test_worden_2012_pgv_is_monotonic_continuous_and_clipped():
    pgv = np.logspace(-5, 4, 2000)
    mmi = gm.mmi_from_pgv_worden2012(pgv)
    assert np.all(np.diff(mmi) >= 0)
    assert mmi.min() == 1.0 and mmi.max() == 10.0
    t1 = 10 ** gm.WORDEN2012_PGV[4]
    below, above = gm.mmi_from_pgv_worden2012([t1 * 0.9999, t1 * 1.0001])
    assert abs(above - below) < 0.02
    # Worden et al. (2012): 10 cm/s is MMI 2.89 + 3.16 = 6.05
    assert float(gm.mmi_from_pgv_worden2012(10.0)) == pytest.approx(6.05)


def test_wald_1999_weights_pga_below_v_and_pgv_above_vii():
    ia = np.array([3.0, 5.0, 6.0, 7.0, 9.0])
    iv = ia + 1.0
    assert gm.mmi_wald1999(ia, iv) == pytest.approx([3.0, 5.0, 6.5, 8.0, 10.0])
    # the instrumental intensity of a motion is that of its two parts
    pga, pgv = 200.0, 30.0
    expected = gm.mmi_wald1999(gm.mmi_from_pga_worden2012(pga), gm.mmi_from_pgv_worden2012(pgv))
    assert float(gm.mmi_from_motion(pga, pgv)) == pytest.approx(float(expected))


def test_the_simulator_observes_the_same_instrumental_intensity():
    """The truth's ``msk`` (eew.simulate.relations) and the forecast's are one definition."""
    from eew.simulate.relations import mmi_worden2012

    for pga, pgv in ((0.5, 0.02), (30.0, 2.0), (120.0, 9.0), (400.0, 60.0)):
        ia, iv, mmi = mmi_worden2012(pga, pgv)
        assert float(gm.mmi_from_pga_worden2012(pga)) == pytest.approx(ia)
        assert float(gm.mmi_from_pgv_worden2012(pgv)) == pytest.approx(iv)
        assert float(gm.mmi_from_motion(pga, pgv)) == pytest.approx(mmi)
