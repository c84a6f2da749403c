"""ns <-> ISO 8601 conversions."""

from __future__ import annotations

import datetime as dt

import numpy as np
import obspy
import pytest

from eew.model.timeutil import NS_PER_S, iso_to_ns, ns_to_iso

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("iso", "t_ns"),
    [
        ("1970-01-01T00:00:00.000Z", 0),
        ("2009-08-24T00:20:07.750Z", obspy.UTCDateTime("2009-08-24T00:20:07.75").ns),
        ("2000-02-29T23:59:59.999Z", obspy.UTCDateTime("2000-02-29T23:59:59.999").ns),
        ("2024-02-29T12:00:00.001Z", obspy.UTCDateTime("2024-02-29T12:00:00.001").ns),
        ("2100-03-01T00:00:00.000Z", obspy.UTCDateTime("2100-03-01T00:00:00").ns),
        ("1969-12-31T23:59:59.500Z", -500_000_000),
    ],
)
def test_known_values(iso: str, t_ns: int) -> None:
    assert ns_to_iso(t_ns) == iso
    assert iso_to_ns(iso) == t_ns


@pytest.mark.parametrize("year", [1996, 2000, 2023, 2024, 2100])
def test_round_trip_through_every_day_boundary_of_february(year: int) -> None:
    start = dt.datetime(year, 2, 27, tzinfo=dt.UTC)
    for day in range(4):
        d = start + dt.timedelta(days=day, milliseconds=-1)
        t_ns = (d - EPOCH) // dt.timedelta(microseconds=1) * 1000
        iso = ns_to_iso(t_ns)
        assert iso == d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"
        assert iso_to_ns(iso) == t_ns
    is_leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    feb29 = f"{year}-02-29T00:00:00.000Z"
    if is_leap:
        assert ns_to_iso(iso_to_ns(feb29)) == feb29
    else:
        with pytest.raises(ValueError):
            iso_to_ns(feb29)


def test_random_round_trips_at_ms_resolution() -> None:
    rng = np.random.default_rng(0)
    for t_ms in rng.integers(-(10**12), 4 * 10**12, 500):
        t_ns = int(t_ms) * 1_000_000
        assert iso_to_ns(ns_to_iso(t_ns)) == t_ns


def test_rounding_to_the_nearest_ms_carries_into_the_seconds() -> None:
    t0 = iso_to_ns("2023-12-31T23:59:59Z")
    assert ns_to_iso(t0 + 999_600_000) == "2024-01-01T00:00:00.000Z"
    assert ns_to_iso(t0 + 999_400_000) == "2023-12-31T23:59:59.999Z"
    assert ns_to_iso(t0 + 1_234) == "2023-12-31T23:59:59.000Z"


def test_other_precisions() -> None:
    t_ns = iso_to_ns("2020-01-01T00:00:00.123456789Z")
    assert t_ns % NS_PER_S == 123_456_789
    assert ns_to_iso(t_ns, digits=9) == "2020-01-01T00:00:00.123456789Z"
    assert ns_to_iso(t_ns, digits=6) == "2020-01-01T00:00:00.123457Z"
    assert ns_to_iso(t_ns, digits=0) == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "text",
    [
        "2020-06-01T10:00:00.250Z",
        "2020-06-01T10:00:00.250",
        "2020-06-01T10:00:00.250+00:00",
        "2020-06-01T16:00:00.250+06:00",
        " 2020-06-01T10:00:00.25Z ",
    ],
)
def test_parsing_offsets_and_naive_times(text: str) -> None:
    assert iso_to_ns(text) == obspy.UTCDateTime("2020-06-01T10:00:00.25").ns


def test_agrees_with_obspy_utcdatetime() -> None:
    rng = np.random.default_rng(1)
    for t_ns in rng.integers(0, 4 * 10**18, 200):
        t = obspy.UTCDateTime(ns=int(t_ns))
        # obspy rounds to the nearest microsecond
        assert iso_to_ns(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == (int(t_ns) + 500) // 1000 * 1000
        t_ms = obspy.UTCDateTime(ns=(int(t_ns) + 500_000) // 1_000_000 * 1_000_000)
        assert ns_to_iso(int(t_ns)) == t_ms.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
