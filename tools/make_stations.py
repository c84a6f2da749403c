"""Write the StationXML files in ``eew/data/stations/``: the AW placeholder network and KNET (KN).

They are package data (installed with the wheel); ``stations/*.xml`` in the repository are
symbolic links to them. Run from the repository root (re-runnable, the output is
byte-for-byte deterministic)::

    python tools/make_stations.py [--out-dir eew/data/stations]

Two files are written:

``almaty_aews.xml``
    Network ``AW``: 28 **synthetic placeholder** sites standing in for the 28 stations of
    the Almaty earthquake early-warning system (AEWS / ASRO). The real AEWS coordinates are
    not public; the sites below are plausible positions in the city districts and along the
    Ile-Alatau mountain front, chosen by hand, and must not be taken for the real ones. Each
    site has a broadband velocity sensor (``HH?``, STS-2-like) and an accelerometer
    (``HN?``, EpiSensor-like), both at 100 Hz, location code ``""``.
``kyrgyzstan_kn.xml``
    Network ``KN`` (KNET, Kyrgyzstan): the sites listed in
    ``/work/shared/reference/stations.md``. Seven have coordinates read from IRIS DMC SACPZ
    headers (confidence V); BOOM, KZA and AML are unverified (confidence U) and are flagged
    as such. Channels ``HH?`` at 100 Hz, nominal STS-2 + REF TEK 72A-08 sensitivity; the
    epochs are nominal, not the DMC epochs.

Responses are two stages, sensor (poles and zeros, normalised at 1 Hz) and digitiser
(gain only), whose gain product equals the overall ``InstrumentSensitivity`` at 1 Hz:

* broadband: 1500 V/(m/s) x 2**23 / 20 V = 6.291456e8 counts/(m/s);
* accelerometer: 20 V / (2 g) x 2**23 / 20 V = 2**23 / (2 g) = 4.277e5 counts/(m/s**2),
  i.e. full scale (2**23 counts) at 2 g, with g = 9.80665 m/s**2.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from obspy import UTCDateTime
from obspy.core.inventory import (
    Channel,
    CoefficientsTypeResponseStage,
    Comment,
    Equipment,
    InstrumentSensitivity,
    Inventory,
    Network,
    PolesZerosResponseStage,
    Response,
    Site,
    Station,
)

#: Fixed creation time written into both files, so that the output is deterministic.
CREATED = UTCDateTime(2023, 1, 1)
MODULE = "almaty-eew tools/make_stations.py"
SENDER = "almaty-eew project (synthetic metadata)"

SAMPLING_RATE_HZ = 100.0
SENSITIVITY_FREQUENCY_HZ = 1.0
STANDARD_GRAVITY_M_S2 = 9.80665

#: Digitiser gain: 24-bit, +-20 V full scale [counts/V].
DIGITIZER_GAIN_COUNTS_PER_V = 2.0**23 / 20.0
#: STS-2 generator constant [V/(m/s)].
STS2_GAIN_V_PER_M_S = 1500.0
#: Accelerometer gain: 20 V at 2 g [V/(m/s**2)].
ACCEL_GAIN_V_PER_M_S2 = 20.0 / (2.0 * STANDARD_GRAVITY_M_S2)

#: Nominal STS-2 (120 s) poles and zeros [rad/s], Laplace transform.
STS2_ZEROS = (0j, 0j)
STS2_POLES = (
    -0.037008 + 0.037008j,
    -0.037008 - 0.037008j,
    -251.33 + 0j,
    -131.04 + 467.29j,
    -131.04 - 467.29j,
)
#: Nominal EpiSensor-like accelerometer poles [rad/s] (flat to acceleration below ~100 Hz).
ACCEL_ZEROS: tuple[complex, ...] = ()
ACCEL_POLES = (-981.0 + 1009.0j, -981.0 - 1009.0j, -3290.0 + 1263.0j, -3290.0 - 1263.0j)

#: (component, azimuth [deg], dip [deg]); dip -90 is up.
ORIENTATIONS = (("Z", 0.0, -90.0), ("N", 0.0, 0.0), ("E", 90.0, 0.0))

AW_START = UTCDateTime(2023, 1, 1)
KN_START = UTCDateTime(1991, 1, 1)

AW_PLACEHOLDER_NOTE = (
    "SYNTHETIC PLACEHOLDER: this site is not a real AEWS station. The coordinates of the 28 "
    "Almaty early-warning stations are not public; this position was chosen by hand to be "
    "plausible for the named place. Replace with the operator's metadata when available."
)


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """One station site of the table below.

    Attributes
    ----------
    code : str
        Station code.
    place : str
        Place name (Site/Name).
    latitude_deg, longitude_deg : float
        WGS84 coordinates [deg].
    elevation_m : float
        Ground elevation above sea level [m].
    confidence : str
        ``"synthetic"`` for AW, ``"V"`` (verified) or ``"U"`` (unverified) for KN.
    """

    code: str
    place: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    confidence: str


#: 28 synthetic AW sites (placeholders, see module docstring).
AW_SITES: tuple[SiteSpec, ...] = (
    # Almaty city districts.
    SiteSpec("ALMY", "Almaly district, Almaty", 43.2567, 76.9286, 790.0, "synthetic"),
    SiteSpec("AUEZ", "Auezov district, Almaty", 43.2245, 76.8460, 840.0, "synthetic"),
    SiteSpec("BOST", "Bostandyk district, Almaty", 43.2120, 76.9050, 900.0, "synthetic"),
    SiteSpec("MEDE", "Medeu district, Almaty", 43.2560, 76.9700, 850.0, "synthetic"),
    SiteSpec("TRKS", "Turksib district, Almaty", 43.3380, 76.9560, 660.0, "synthetic"),
    SiteSpec("ZHET", "Zhetysu district, Almaty", 43.2980, 76.9150, 700.0, "synthetic"),
    SiteSpec("ALTU", "Alatau district, Almaty", 43.2860, 76.8300, 730.0, "synthetic"),
    SiteSpec("NRZB", "Nauryzbay district, Almaty", 43.1910, 76.8000, 1000.0, "synthetic"),
    SiteSpec("KTOB", "Kok-Tobe, central observatory, Almaty", 43.2300, 76.9765, 1070.0,
             "synthetic"),
    # Ile-Alatau mountain front above the city.
    SiteSpec("KAMN", "Kamenskoe plateau, Almaty", 43.1780, 76.9380, 1350.0, "synthetic"),
    SiteSpec("MDEO", "Medeu skating rink", 43.1575, 77.0590, 1690.0, "synthetic"),
    SiteSpec("SHYM", "Shymbulak ski resort", 43.1283, 77.0806, 2260.0, "synthetic"),
    SiteSpec("ALAR", "Alma-Arasan gorge", 43.0980, 76.8790, 1780.0, "synthetic"),
    SiteSpec("BAOL", "Big Almaty Lake", 43.0510, 76.9850, 2510.0, "synthetic"),
    # Towns east of Almaty along the mountain front.
    SiteSpec("TALG", "Talgar", 43.3030, 77.2400, 1010.0, "synthetic"),
    SiteSpec("ESIK", "Esik", 43.3560, 77.4530, 1050.0, "synthetic"),
    SiteSpec("TURG", "Turgen", 43.4000, 77.5900, 960.0, "synthetic"),
    SiteSpec("SHLK", "Shelek", 43.5970, 78.2500, 590.0, "synthetic"),
    # Chilik (Shelek) valley.
    SiteSpec("CHLK", "Chilik valley, Shelek-Saty road (Bartogay)", 43.3600, 78.5000, 1100.0,
             "synthetic"),
    SiteSpec("SATY", "Saty, Chilik valley", 43.0550, 78.4100, 1760.0, "synthetic"),
    SiteSpec("ZHLN", "Zhalanash, Chilik valley", 43.0430, 78.6400, 1500.0, "synthetic"),
    # West of Almaty.
    SiteSpec("KSKL", "Kaskelen", 43.2000, 76.6210, 880.0, "synthetic"),
    SiteSpec("SHML", "Shamalgan", 43.3700, 76.6200, 700.0, "synthetic"),
    SiteSpec("UZYN", "Uzynagash", 43.2270, 76.3120, 790.0, "synthetic"),
    SiteSpec("KAST", "Kastek", 43.0600, 75.9650, 1280.0, "synthetic"),
    # North of Almaty.
    SiteSpec("BRLD", "Boraldai", 43.3600, 76.8600, 670.0, "synthetic"),
    SiteSpec("OTGB", "Otegen Batyr", 43.4170, 77.0200, 620.0, "synthetic"),
    SiteSpec("KONA", "Konaev (Kapchagay)", 43.8670, 77.0640, 480.0, "synthetic"),
)

#: KNET sites of /work/shared/reference/stations.md (table A.2), with that file's confidence.
KN_SITES: tuple[SiteSpec, ...] = (
    SiteSpec("TKM2", "Tokmok", 42.920799, 75.596603, 2020.0, "V"),
    SiteSpec("BOOM", "Boom gorge", 42.4915, 75.9413, 1644.0, "U"),
    SiteSpec("ULHL", "Ulakhol", 42.245602, 76.241699, 2040.0, "V"),
    SiteSpec("KBK", "Karagai-Bulak", 42.656399, 74.947800, 1760.0, "V"),
    SiteSpec("CHM", "Chumysh (KNET hub)", 42.998600, 74.751297, 655.0, "V"),
    SiteSpec("KZA", "Kazarman?", 42.0778, 75.2496, 3520.0, "U"),
    SiteSpec("USP", "Uspenovka", 43.266899, 74.499702, 740.0, "V"),
    SiteSpec("UCH", "Uchterek", 42.227501, 74.513397, 3850.0, "V"),
    SiteSpec("EKS2", "Erkin-Sai", 42.661499, 73.777199, 1360.0, "V"),
    SiteSpec("AML", "Ala-Mishik", 42.1311, 73.6941, 3400.0, "U"),
)

KN_CONFIDENCE_NOTE = {
    "V": (
        "Coordinates and elevation verified: read from IRIS DMC SACPZ headers (LLNL mtinv "
        "sample data, 2024). Site name from memory except CHM. Response and epoch nominal."
    ),
    "U": (
        "UNVERIFIED coordinates and elevation (from memory); the station code is real. "
        "Confirm with an FDSN station query before relying on them. Response and epoch nominal."
    ),
}


def _normalization_factor(
    zeros: Sequence[complex], poles: Sequence[complex], frequency_hz: float
) -> float:
    """Return A0 such that the pole-zero stage has unit modulus at ``frequency_hz``.

    Parameters
    ----------
    zeros, poles : sequence of complex
        Laplace-domain zeros and poles [rad/s].
    frequency_hz : float
        Normalisation frequency [Hz].

    Returns
    -------
    float
        Normalisation factor A0 (dimensionless for the ratio written in StationXML).
    """
    s = 2j * np.pi * frequency_hz
    value = np.prod([s - z for z in zeros]) / np.prod([s - p for p in poles])
    return float(1.0 / abs(value))


def _response(kind: str) -> Response:
    """Build the two-stage response of one channel.

    Parameters
    ----------
    kind : {"velocity", "acceleration"}
        Sensor type: STS-2-like broadband or EpiSensor-like accelerometer.

    Returns
    -------
    obspy.core.inventory.Response
        Sensor stage, digitiser stage and overall sensitivity at 1 Hz [counts per input unit].
    """
    if kind == "velocity":
        zeros, poles, gain, units, units_desc = (
            STS2_ZEROS, STS2_POLES, STS2_GAIN_V_PER_M_S, "M/S", "Velocity in meters per second",
        )
    elif kind == "acceleration":
        zeros, poles, gain, units, units_desc = (
            ACCEL_ZEROS, ACCEL_POLES, ACCEL_GAIN_V_PER_M_S2, "M/S**2",
            "Acceleration in meters per second squared",
        )
    else:
        raise ValueError(f"unknown sensor kind {kind!r}")
    sensor = PolesZerosResponseStage(
        stage_sequence_number=1,
        stage_gain=gain,
        stage_gain_frequency=SENSITIVITY_FREQUENCY_HZ,
        input_units=units,
        output_units="V",
        pz_transfer_function_type="LAPLACE (RADIANS/SECOND)",
        normalization_frequency=SENSITIVITY_FREQUENCY_HZ,
        zeros=list(zeros),
        poles=list(poles),
        normalization_factor=_normalization_factor(zeros, poles, SENSITIVITY_FREQUENCY_HZ),
        input_units_description=units_desc,
        output_units_description="Volts",
    )
    digitizer = CoefficientsTypeResponseStage(
        stage_sequence_number=2,
        stage_gain=DIGITIZER_GAIN_COUNTS_PER_V,
        stage_gain_frequency=SENSITIVITY_FREQUENCY_HZ,
        input_units="V",
        output_units="COUNTS",
        cf_transfer_function_type="DIGITAL",
        numerator=[1.0],
        denominator=[],
        input_units_description="Volts",
        output_units_description="Digital counts",
        decimation_input_sample_rate=SAMPLING_RATE_HZ,
        decimation_factor=1,
        decimation_offset=0,
        decimation_delay=0.0,
        decimation_correction=0.0,
    )
    sensitivity = InstrumentSensitivity(
        value=gain * DIGITIZER_GAIN_COUNTS_PER_V,
        frequency=SENSITIVITY_FREQUENCY_HZ,
        input_units=units,
        output_units="COUNTS",
        input_units_description=units_desc,
        output_units_description="Digital counts",
    )
    return Response(instrument_sensitivity=sensitivity, response_stages=[sensor, digitizer])


def _channels(
    site: SiteSpec, band_instrument: str, kind: str, sensor: str, datalogger: str,
    start: UTCDateTime, description: str,
) -> list[Channel]:
    """Build the three orthogonal channels of one sensor at ``site``.

    Parameters
    ----------
    site : SiteSpec
        Station site (channel coordinates equal the station's, depth 0 m).
    band_instrument : str
        First two letters of the channel code, e.g. ``"HH"``.
    kind : {"velocity", "acceleration"}
        Sensor type, see :func:`_response`.
    sensor, datalogger : str
        Equipment descriptions.
    start : obspy.UTCDateTime
        Channel epoch start.
    description : str
        Channel description.

    Returns
    -------
    list of obspy.core.inventory.Channel
        Z, N, E channels at 100 Hz.
    """
    return [
        Channel(
            code=band_instrument + component,
            location_code="",
            latitude=site.latitude_deg,
            longitude=site.longitude_deg,
            elevation=site.elevation_m,
            depth=0.0,
            azimuth=azimuth_deg,
            dip=dip_deg,
            types=["CONTINUOUS", "GEOPHYSICAL"],
            sample_rate=SAMPLING_RATE_HZ,
            sensor=Equipment(type=f"{kind} sensor", description=sensor),
            data_logger=Equipment(description=datalogger),
            response=_response(kind),
            description=description,
            start_date=start,
        )
        for component, azimuth_deg, dip_deg in ORIENTATIONS
    ]


def build_aw() -> Inventory:
    """Build the synthetic AW (Almaty AEWS placeholder) inventory.

    Returns
    -------
    obspy.core.inventory.Inventory
        One network, 28 stations, 6 channels each (HH? and HN?).
    """
    stations = []
    for site in AW_SITES:
        channels = _channels(
            site, "HH", "velocity", "STS-2-like broadband seismometer (synthetic)",
            "24-bit digitiser, 2**23 counts at 20 V (synthetic)", AW_START,
            "Broadband velocity, synthetic placeholder channel",
        ) + _channels(
            site, "HN", "acceleration", "EpiSensor-like accelerometer, 2 g full scale (synthetic)",
            "24-bit digitiser, 2**23 counts at 20 V (synthetic)", AW_START,
            "Strong-motion acceleration, synthetic placeholder channel",
        )
        stations.append(
            Station(
                code=site.code,
                latitude=site.latitude_deg,
                longitude=site.longitude_deg,
                elevation=site.elevation_m,
                channels=channels,
                site=Site(
                    name=site.place,
                    description="Synthetic placeholder site",
                    region="Almaty region",
                    country="Kazakhstan",
                ),
                creation_date=AW_START,
                start_date=AW_START,
                description=f"{site.place}: SYNTHETIC PLACEHOLDER, not a real AEWS site",
                comments=[Comment(AW_PLACEHOLDER_NOTE, subject="placeholder")],
                total_number_of_channels=len(channels),
                selected_number_of_channels=len(channels),
            )
        )
    network = Network(
        code="AW",
        stations=stations,
        total_number_of_stations=len(stations),
        selected_number_of_stations=len(stations),
        description=(
            "Almaty earthquake early-warning network, SYNTHETIC PLACEHOLDER: 28 hand-chosen "
            "sites, not the real AEWS (ASRO) sites, whose coordinates are not public. "
            "Network code AW is a placeholder too."
        ),
        comments=[Comment(AW_PLACEHOLDER_NOTE, subject="placeholder")],
        start_date=AW_START,
    )
    return Inventory(
        networks=[network], source=SENDER, sender=SENDER, created=CREATED, module=MODULE,
        module_uri=None,
    )


def build_kn() -> Inventory:
    """Build the KNET (KN) inventory from the stations.md table.

    Returns
    -------
    obspy.core.inventory.Inventory
        One network, 10 stations, 3 channels each (HH?).
    """
    stations = []
    for site in KN_SITES:
        channels = _channels(
            site, "HH", "velocity", "STS-2 broadband seismometer",
            "REF TEK 72A-08 (nominal gain 2**23 counts at 20 V)", KN_START,
            "Broadband velocity; nominal response and epoch, not the DMC metadata",
        )
        unverified = " UNVERIFIED coordinates." if site.confidence == "U" else ""
        stations.append(
            Station(
                code=site.code,
                latitude=site.latitude_deg,
                longitude=site.longitude_deg,
                elevation=site.elevation_m,
                channels=channels,
                site=Site(name=site.place, region="Northern Tien Shan"),
                creation_date=KN_START,
                start_date=KN_START,
                description=(
                    f"KNET {site.code} ({site.place}), confidence {site.confidence}.{unverified}"
                ),
                comments=[Comment(KN_CONFIDENCE_NOTE[site.confidence], subject="confidence")],
                total_number_of_channels=len(channels),
                selected_number_of_channels=len(channels),
            )
        )
    network = Network(
        code="KN",
        stations=stations,
        total_number_of_stations=len(stations),
        selected_number_of_stations=len(stations),
        description=(
            "Kyrgyz Digital Network (KNET), partner network. Coordinates from "
            "stations.md; BOOM, KZA and AML unverified. Responses (STS-2 + REF TEK 72A-08, "
            "6.291456e8 counts/(m/s)) and epochs are nominal, not the IRIS DMC metadata."
        ),
        start_date=KN_START,
    )
    return Inventory(
        networks=[network], source=SENDER, sender=SENDER, created=CREATED, module=MODULE,
        module_uri=None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Write ``almaty_aews.xml`` and ``kyrgyzstan_kn.xml``.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status (0).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "eew" / "data" / "stations",
        help="output folder (default: the package data eew/data/stations/)",
    )
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    summary = []
    for name, inventory in (("almaty_aews.xml", build_aw()), ("kyrgyzstan_kn.xml", build_kn())):
        path = args.out_dir / name
        inventory.write(str(path), format="STATIONXML", validate=True)
        network = inventory[0]
        n_channels = sum(len(station) for station in network)
        summary.append(f"{path} ({network.code}: {len(network)} stations, {n_channels} channels)")
    print("wrote " + "; ".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
