"""Helpers for tests of the simulator: synthetic channel sets and a small StationXML writer."""

from __future__ import annotations

import math
from pathlib import Path

from eew.simulate.stations import SimChannel

HH_SENS = 6.291456e8  # counts/(m/s)
HN_SENS = 4.277e5  # counts/(m/s^2)


def ring_channels(
    center_lat: float,
    center_lon: float,
    radii_km: list[float],
    n_az: int,
    codes: tuple[str, ...] = ("HHZ", "HNN", "HNE"),
    net: str = "XS",
) -> list[SimChannel]:
    """Stations on rings around a point, with the given channel codes."""
    out = []
    k = 0
    for r in radii_km:
        for j in range(n_az):
            az = math.radians(360.0 * j / n_az + 17.0 * k)
            lat = center_lat + r * math.cos(az) / 111.19
            lon = center_lon + r * math.sin(az) / (111.19 * math.cos(math.radians(center_lat)))
            sta = f"S{k:03d}"
            for code in codes:
                acc = code[1] == "N"
                out.append(
                    SimChannel(
                        f"{net}.{sta}..{code}",
                        f"{net}.{sta}",
                        lat,
                        lon,
                        1000.0,
                        100.0,
                        HN_SENS if acc else HH_SENS,
                        "acceleration" if acc else "velocity",
                        code[-1],
                    )
                )
            k += 1
    return out


def write_stationxml(path: Path, stations: list[tuple[str, float, float]]) -> Path:
    """Write a StationXML with HH? (velocity) and HN? (acceleration) channels per station."""
    from obspy import UTCDateTime
    from obspy.core.inventory import (
        Channel,
        InstrumentSensitivity,
        Inventory,
        Network,
        Response,
        Station,
    )

    sts = []
    for code, lat, lon in stations:
        chans = []
        for band, unit, sens in (("HH", "M/S", HH_SENS), ("HN", "M/S**2", HN_SENS)):
            for comp, az, dip in (("Z", 0.0, -90.0), ("N", 0.0, 0.0), ("E", 90.0, 0.0)):
                resp = Response(
                    instrument_sensitivity=InstrumentSensitivity(
                        value=sens, frequency=1.0, input_units=unit, output_units="COUNTS"
                    )
                )
                chans.append(
                    Channel(
                        band + comp,
                        "",
                        lat,
                        lon,
                        800.0,
                        0.0,
                        azimuth=az,
                        dip=dip,
                        sample_rate=100.0,
                        response=resp,
                        start_date=UTCDateTime(2020, 1, 1),
                    )
                )
        sts.append(
            Station(code, lat, lon, 800.0, channels=chans, start_date=UTCDateTime(2020, 1, 1))
        )
    inv = Inventory(
        networks=[Network("XT", stations=sts, start_date=UTCDateTime(2020, 1, 1))], source="test"
    )
    inv.write(str(path), format="STATIONXML")
    return path
