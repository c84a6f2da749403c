"""Tests of eew.inventory and of the StationXML files in stations/."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import obspy
import pytest
from obspy import UTCDateTime
from obspy.core.inventory import (
    Channel,
    InstrumentSensitivity,
    Network,
    Response,
    Station,
)
from obspy.core.inventory import Inventory as ObspyInventory
from obspy.geodetics import gps2dist_azimuth

from eew.errors import EEWError, InventoryError
from eew.inventory import ChannelInfo, Inventory, load_inventory, normalise_input_units

ROOT = Path(__file__).resolve().parents[1]
AW_XML = ROOT / "stations" / "almaty_aews.xml"
KN_XML = ROOT / "stations" / "kyrgyzstan_kn.xml"
README = ROOT / "stations" / "README.md"
ALMATY_LAT_DEG, ALMATY_LON_DEG = 43.238, 76.946

AW_CHANNELS = ("HHZ", "HHN", "HHE", "HNZ", "HNN", "HNE")
STS2_COUNTS_PER_M_S = 1500.0 * 2**23 / 20.0
ACCEL_COUNTS_PER_M_S2 = 2**23 / (2 * 9.80665)
DEFAULT_START = UTCDateTime(2020, 1, 1)

#: KNET sites verified in stations.md: code -> (lat_deg, lon_deg, elev_m).
KN_VERIFIED = {
    "TKM2": (42.920799, 75.596603, 2020.0),
    "ULHL": (42.245602, 76.241699, 2040.0),
    "KBK": (42.656399, 74.947800, 1760.0),
    "CHM": (42.998600, 74.751297, 655.0),
    "USP": (43.266899, 74.499702, 740.0),
    "UCH": (42.227501, 74.513397, 3850.0),
    "EKS2": (42.661499, 73.777199, 1360.0),
}
KN_UNVERIFIED = ("BOOM", "KZA", "AML")


def ns(*args: int) -> int:
    """UTC calendar time -> ns since 1970."""
    return UTCDateTime(*args).ns


def write_station_file(
    path: Path,
    *,
    code: str = "HHZ",
    sensitivity: float | None = 1.0e9,
    input_units: str = "M/S",
    sample_rate: float | None = 100.0,
    start: UTCDateTime | None = DEFAULT_START,
    end: UTCDateTime | None = None,
) -> Path:
    """Write a one-channel StationXML (XX.TEST..<code>) with obspy."""
    response = None
    if sensitivity is not None:
        response = Response(
            instrument_sensitivity=InstrumentSensitivity(
                value=sensitivity, frequency=1.0, input_units=input_units, output_units="COUNTS",
            )
        )
    channel = Channel(
        code=code, location_code="", latitude=43.0, longitude=77.0, elevation=800.0,
        depth=2.0, azimuth=0.0, dip=-90.0, sample_rate=sample_rate, response=response,
        start_date=start, end_date=end,
    )
    station = Station("TEST", 43.0, 77.0, 800.0, channels=[channel])
    inventory = ObspyInventory(networks=[Network("XX", stations=[station])], source="test")
    inventory.write(str(path), format="STATIONXML")
    return path


def make_info(**changes: object) -> ChannelInfo:
    fields: dict[str, object] = dict(
        channel_id="XX.TEST..HHZ", network="XX", station="TEST", location="", channel="HHZ",
        latitude_deg=43.0, longitude_deg=77.0, elevation_m=800.0, depth_m=0.0,
        sampling_rate_hz=100.0, sensitivity=1.0e9, sensitivity_frequency_hz=1.0,
        input_units="M/S", azimuth_deg=0.0, dip_deg=-90.0, start_ns=ns(2020, 1, 1),
        end_ns=None,
    )
    fields.update(changes)
    return ChannelInfo(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def aw() -> Inventory:
    return load_inventory([AW_XML])


@pytest.fixture(scope="module")
def kn() -> Inventory:
    return load_inventory([KN_XML])


# --- the station files ---------------------------------------------------------------------


def test_aw_has_28_stations_with_six_100hz_channels(aw: Inventory) -> None:
    assert len(aw) == 28 * 6 == 168
    stations = aw.stations()
    assert len(stations) == 28
    assert all(station_id.startswith("AW.") for station_id in stations)
    for station_id in stations:
        for code in AW_CHANNELS:
            info = aw.get(f"{station_id}..{code}")
            assert info is not None, f"{station_id}..{code}"
            assert info.location == ""
            assert info.sampling_rate_hz == 100.0
            assert info.start_ns == ns(2023, 1, 1)
            assert info.end_ns is None
            assert 4 <= len(info.station) <= 5


def test_aw_sites_lie_in_the_almaty_region(aw: Inventory) -> None:
    distances_km = {}
    for station_id, (lat_deg, lon_deg, elev_m) in aw.stations().items():
        assert 42.9 < lat_deg < 44.0, station_id
        assert 75.8 < lon_deg < 78.8, station_id
        assert 400.0 < elev_m < 2600.0, station_id
        dist_m, _, _ = gps2dist_azimuth(ALMATY_LAT_DEG, ALMATY_LON_DEG, lat_deg, lon_deg)
        distances_km[station_id] = dist_m / 1e3
    assert max(distances_km.values()) < 150.0
    # A dense core: at least ten sites within 15 km of the city centre.
    assert sum(d < 15.0 for d in distances_km.values()) >= 10
    # Mountain sites are high, city sites are not.
    assert aw.stations()["AW.SHYM"][2] > 2000.0
    assert aw.stations()["AW.BAOL"][2] > 2000.0
    assert aw.stations()["AW.ALMY"][2] < 1000.0
    assert len({(lat, lon) for lat, lon, _ in aw.stations().values()}) == 28


def test_aw_kinds_sensitivities_and_orientation(aw: Inventory) -> None:
    for channel_id in aw.channel_ids():
        info = aw[channel_id]
        assert info.sensitivity_frequency_hz == 1.0
        if info.channel.startswith("HH"):
            assert info.kind == "velocity"
            assert info.input_units == "M/S"
            assert info.sensitivity == pytest.approx(STS2_COUNTS_PER_M_S)
            assert info.sensitivity == pytest.approx(6.29e8, rel=1e-3)
        else:
            assert info.kind == "acceleration"
            assert info.input_units == "M/S**2"
            assert info.sensitivity == pytest.approx(ACCEL_COUNTS_PER_M_S2)
            assert info.sensitivity == pytest.approx(4.277e5, rel=1e-3)
        expected = {"Z": (0.0, -90.0), "N": (0.0, 0.0), "E": (90.0, 0.0)}[info.component]
        assert (info.azimuth_deg, info.dip_deg) == expected


def test_response_stages_multiply_to_the_sensitivity() -> None:
    inventory = obspy.read_inventory(str(AW_XML))
    for channel_id in ("AW.TALG..HHZ", "AW.TALG..HNE"):
        response = inventory.get_response(channel_id, UTCDateTime(2024, 1, 1))
        stated = response.instrument_sensitivity.value
        response.recalculate_overall_sensitivity(1.0)
        assert response.instrument_sensitivity.value == pytest.approx(stated, rel=1e-6)


def test_aw_file_says_it_is_a_placeholder() -> None:
    inventory = obspy.read_inventory(str(AW_XML))
    (network,) = inventory.networks
    assert network.code == "AW"
    assert "PLACEHOLDER" in network.description
    for station in network:
        assert "PLACEHOLDER" in station.description, station.code
        assert any("PLACEHOLDER" in comment.value for comment in station.comments)


def test_kn_stations_and_confidence(kn: Inventory) -> None:
    assert len(kn) == 10 * 3
    assert set(kn.stations()) == {f"KN.{code}" for code in (*KN_VERIFIED, *KN_UNVERIFIED)}
    for code, expected in KN_VERIFIED.items():
        assert kn.stations()[f"KN.{code}"] == pytest.approx(expected, abs=1e-9)
    for channel_id in kn.channel_ids():
        info = kn[channel_id]
        assert info.channel in ("HHZ", "HHN", "HHE")
        assert info.sampling_rate_hz == 100.0
        assert info.kind == "velocity"
        assert info.sensitivity == pytest.approx(6.29e8, rel=1e-3)
    stations = {sta.code: sta for sta in obspy.read_inventory(str(KN_XML))[0]}
    for code in KN_UNVERIFIED:
        assert "UNVERIFIED" in stations[code].description
    for code in KN_VERIFIED:
        assert "UNVERIFIED" not in stations[code].description


def test_readme_tables_match_the_files(aw: Inventory, kn: Inventory) -> None:
    rows = {}
    for line in README.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| ([A-Z0-9]{3,5}) \| [^|]+ \| ([\d.]+) \| ([\d.]+) \| (\d+) \|", line)
        if match:
            rows[match.group(1)] = tuple(float(match.group(i)) for i in (2, 3, 4))
    positions = {sid.split(".")[1]: pos for sid, pos in aw.merged(kn).stations().items()}
    assert rows.keys() == positions.keys()
    for code, row in rows.items():
        assert row == pytest.approx(positions[code], abs=1e-6), code


def test_generator_is_deterministic_and_matches_committed_files(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_stations.py"), "--out-dir", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )
    assert len(result.stdout.strip().splitlines()) == 1
    assert "168 channels" in result.stdout
    for committed in (AW_XML, KN_XML):
        assert (tmp_path / committed.name).read_bytes() == committed.read_bytes()


def test_both_files_load_together(aw: Inventory, kn: Inventory) -> None:
    both = load_inventory([AW_XML, KN_XML])
    assert len(both) == 168 + 30
    assert both.channel_ids() == sorted(aw.channel_ids() + kn.channel_ids())
    assert aw.merged(kn).channel_ids() == both.channel_ids()
    # Loading the same file twice: identical records are kept once.
    assert len(load_inventory([AW_XML, AW_XML])) == 168
    assert len(aw.merged(aw)) == 168


# --- the obspy example ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    path = tmp_path_factory.mktemp("example") / "example.xml"
    obspy.read_inventory().write(str(path), format="STATIONXML")
    return load_inventory([path])


def test_obspy_example_latest_epoch(example: Inventory) -> None:
    info = example.get("BW.RJOB..EHZ")
    assert info is not None
    assert info.sensitivity == pytest.approx(2.5168e9)
    assert info.input_units == "M/S"
    assert info.kind == "velocity"
    assert info.sampling_rate_hz == 200.0
    assert info.start_ns == ns(2007, 12, 17)
    assert info.end_ns is None
    assert info.station_id == "BW.RJOB"
    assert info.component == "Z"
    assert info.channel_id == "BW.RJOB..EHZ"
    assert "GR.FUR..HHZ" in example
    assert example["GR.FUR..HHZ"].sensitivity == pytest.approx(9.4368e8)


def test_obspy_example_epochs(example: Inventory) -> None:
    epochs = example.epochs("BW.RJOB..EHZ")
    assert [info.sensitivity for info in epochs] == pytest.approx([4.0e8, 6.7114e8, 2.5168e9])
    assert len(example.channel_ids()) == len(set(example.channel_ids())) == 24
    get = example.get
    assert get("BW.RJOB..EHZ", ns(2000, 1, 1)) is None  # before the first epoch
    assert get("BW.RJOB..EHZ", ns(2003, 6, 1)).sensitivity == pytest.approx(4.0e8)
    # The gap between 2006-12-12 and 2006-12-13 is covered by no epoch.
    assert get("BW.RJOB..EHZ", ns(2006, 12, 12, 12)) is None
    assert get("BW.RJOB..EHZ", ns(2007, 6, 1)).sensitivity == pytest.approx(6.7114e8)
    # Epochs are half-open: the boundary belongs to the later epoch.
    assert get("BW.RJOB..EHZ", ns(2007, 12, 17)).sensitivity == pytest.approx(2.5168e9)
    assert get("BW.RJOB..EHZ", ns(2007, 12, 17) - 1).sensitivity == pytest.approx(6.7114e8)
    assert get("BW.RJOB..EHZ", ns(2030, 1, 1)).sensitivity == pytest.approx(2.5168e9)
    assert get("XX.NONE..HHZ") is None
    assert get("XX.NONE..HHZ", ns(2020, 1, 1)) is None


# --- units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        ("M/S", "M/S"), ("m/s", "M/S"), (" m/sec ", "M/S"),
        ("M/S**2", "M/S**2"), ("m/s**2", "M/S**2"), ("m/s2", "M/S**2"), ("M/S^2", "M/S**2"),
        ("m/(s**2)", "M/S**2"), ("m/s/s", "M/S**2"), ("M/SEC**2", "M/S**2"),
        ("M", "M"), ("m", "M"),
    ],
)
def test_normalise_input_units(units: str, expected: str) -> None:
    assert normalise_input_units(units) == expected


@pytest.mark.parametrize("units", ["NM/S", "PA", "V", "COUNTS", "M/S**3", "", "RAD/S"])
def test_unknown_units_are_rejected(units: str) -> None:
    with pytest.raises(InventoryError, match="unknown input unit"):
        normalise_input_units(units)


@pytest.mark.parametrize(
    ("units", "kind"), [("m/s2", "acceleration"), ("m/s", "velocity"), ("m", "displacement")]
)
def test_units_are_normalised_when_loading(tmp_path: Path, units: str, kind: str) -> None:
    path = write_station_file(tmp_path / "units.xml", input_units=units)
    info = load_inventory([path]).get("XX.TEST..HHZ")
    assert info is not None
    assert info.kind == kind
    assert info.input_units == {"acceleration": "M/S**2", "velocity": "M/S",
                                "displacement": "M"}[kind]
    assert info.sensitivity == 1.0e9
    assert info.depth_m == 2.0


# --- errors --------------------------------------------------------------------------------


def test_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.xml"
    with pytest.raises(InventoryError, match=r"nope\.xml") as info:
        load_inventory([AW_XML, missing])
    assert isinstance(info.value, EEWError)


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.xml"
    garbage.write_text("this is not StationXML\n")
    with pytest.raises(InventoryError, match=r"garbage\.xml: cannot read"):
        load_inventory([garbage])


def _set_aside(path: Path, caplog: pytest.LogCaptureFixture, cause: str, text: str) -> None:
    """Loading sets the one channel aside with one warning naming file and channel."""
    caplog.clear()
    with caplog.at_level("WARNING", logger="eew.inventory"):
        inventory = load_inventory([path])
    assert len(inventory) == 0
    assert inventory.issues.as_dict() == {cause: 1}
    assert inventory.issues.set_aside == 1
    lines = [r.getMessage() for r in caplog.records if r.name == "eew.inventory"]
    assert len(lines) == 1
    assert re.search(rf"{re.escape(path.name)}.*XX\.TEST\.\..*{text}.*set aside", lines[0]), lines


def test_channel_without_sensitivity(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_station_file(tmp_path / "nosens.xml", sensitivity=None)
    _set_aside(path, caplog, "no_sensitivity", "no response")


@pytest.mark.parametrize("value", [0.0, -5.0])
def test_channel_with_zero_sensitivity(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, value: float
) -> None:
    path = write_station_file(tmp_path / "zero.xml", sensitivity=value)
    _set_aside(path, caplog, "zero_sensitivity", "not positive")


def test_channel_without_sample_rate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_station_file(tmp_path / "norate.xml", sample_rate=None)
    _set_aside(path, caplog, "invalid", "sample rate")


def test_channel_with_unknown_unit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_station_file(tmp_path / "pa.xml", code="HDF", input_units="PA")
    _set_aside(path, caplog, "unsupported_unit", "'PA'")


def test_bad_channel_does_not_stop_the_others(tmp_path: Path) -> None:
    good = write_station_file(tmp_path / "good.xml")
    bad = write_station_file(tmp_path / "bad.xml", code="HNZ", sensitivity=0.0)
    inventory = load_inventory([good, bad])
    assert inventory.channel_ids() == ["XX.TEST..HHZ"]
    assert inventory.issues.zero_sensitivity == 1


def test_file_without_channels(tmp_path: Path) -> None:
    path = tmp_path / "stationlevel.xml"
    station = Station("TEST", 43.0, 77.0, 800.0)
    ObspyInventory(networks=[Network("XX", stations=[station])], source="test").write(
        str(path), format="STATIONXML"
    )
    with pytest.raises(InventoryError, match="no channels"):
        load_inventory([path])


def test_conflicting_duplicate_epoch_the_later_file_wins(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = write_station_file(tmp_path / "first.xml", sensitivity=1.0e9)
    second = write_station_file(tmp_path / "second.xml", sensitivity=2.0e9)
    with caplog.at_level("WARNING", logger="eew.inventory"):
        inventory = load_inventory([first, second])
    assert inventory.get("XX.TEST..HHZ").sensitivity == 2.0e9
    assert inventory.issues.as_dict() == {"conflicting_epochs": 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "eew.inventory"]
    assert len(lines) == 1
    assert re.search(r"XX\.TEST\.\.HHZ.*first\.xml.*second\.xml.*later", lines[0])


def test_identical_duplicate_epoch_is_kept_once(tmp_path: Path) -> None:
    first = write_station_file(tmp_path / "first.xml")
    second = write_station_file(tmp_path / "second.xml")
    inventory = load_inventory([first, second])
    assert len(inventory) == 1
    assert len(inventory.epochs("XX.TEST..HHZ")) == 1


def test_overlapping_epochs_the_later_start_applies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = write_station_file(tmp_path / "open.xml", start=UTCDateTime(2020, 1, 1))
    second = write_station_file(
        tmp_path / "later.xml", start=UTCDateTime(2021, 1, 1), sensitivity=2.0e9
    )
    with caplog.at_level("WARNING", logger="eew.inventory"):
        inventory = load_inventory([first, second])
    epochs = inventory.epochs("XX.TEST..HHZ")
    assert [e.end_ns for e in epochs] == [ns(2021, 1, 1), None]
    assert inventory.get("XX.TEST..HHZ", ns(2020, 6, 1)).sensitivity == 1.0e9
    assert inventory.get("XX.TEST..HHZ", ns(2022, 6, 1)).sensitivity == 2.0e9
    assert inventory.issues.as_dict() == {"overlapping_epochs": 1}
    lines = [r.getMessage() for r in caplog.records if r.name == "eew.inventory"]
    assert len(lines) == 1 and "overlapping epochs" in lines[0] and "later.xml" in lines[0]


def test_consecutive_epochs_in_two_files(tmp_path: Path) -> None:
    first = write_station_file(
        tmp_path / "old.xml", sensitivity=1.0e9,
        start=UTCDateTime(2020, 1, 1), end=UTCDateTime(2021, 1, 1),
    )
    second = write_station_file(
        tmp_path / "new.xml", sensitivity=2.0e9, start=UTCDateTime(2021, 1, 1),
    )
    inventory = load_inventory([second, first])
    assert len(inventory) == 1
    assert [e.sensitivity for e in inventory.epochs("XX.TEST..HHZ")] == [1.0e9, 2.0e9]
    assert inventory.get("XX.TEST..HHZ").sensitivity == 2.0e9
    assert inventory.get("XX.TEST..HHZ", ns(2020, 6, 1)).sensitivity == 1.0e9
    assert inventory.get("XX.TEST..HHZ", ns(2019, 6, 1)) is None


def test_open_start_epoch(tmp_path: Path) -> None:
    path = write_station_file(tmp_path / "open.xml", start=None)
    info = load_inventory([path]).get("XX.TEST..HHZ", ns(1980, 1, 1))
    assert info is not None
    assert info.start_ns is None


# --- the Inventory and ChannelInfo types ---------------------------------------------------


def test_inventory_from_records() -> None:
    old = make_info(start_ns=ns(2020, 1, 1), end_ns=ns(2021, 1, 1), sensitivity=1.0)
    new = make_info(start_ns=ns(2021, 1, 1), sensitivity=2.0)
    other = make_info(channel_id="XX.TEST.00.HNZ", location="00", channel="HNZ",
                      input_units="M/S**2")
    inventory = Inventory([new, other, old, new])
    assert len(inventory) == 2
    assert inventory.channel_ids() == ["XX.TEST..HHZ", "XX.TEST.00.HNZ"]
    assert list(inventory) == inventory.channel_ids()
    assert inventory.epochs("XX.TEST..HHZ") == (old, new)
    assert inventory.get("XX.TEST..HHZ") is new
    assert inventory.stations() == {"XX.TEST": (43.0, 77.0, 800.0)}
    assert "XX.TEST.00.HNZ" in inventory
    assert "XX.TEST..HNZ" not in inventory
    assert 42 not in inventory
    assert inventory.epochs("XX.NONE..HHZ") == ()
    with pytest.raises(KeyError):
        inventory["XX.NONE..HHZ"]
    assert "1 stations, 2 channels, 3 epochs" in repr(inventory)


def test_inventory_resolves_conflicts() -> None:
    inventory = Inventory([make_info(sensitivity=1.0), make_info(sensitivity=2.0)])
    assert inventory.get("XX.TEST..HHZ").sensitivity == 2.0
    assert inventory.issues.conflicting_epochs == 1
    same_start = Inventory([make_info(end_ns=ns(2022, 1, 1)), make_info(sensitivity=3.0)])
    assert same_start.epochs("XX.TEST..HHZ") == (make_info(sensitivity=3.0),)
    assert same_start.issues.overlapping_epochs == 1
    overlap = Inventory([make_info(start_ns=None), make_info(start_ns=ns(2021, 1, 1))])
    assert [e.end_ns for e in overlap.epochs("XX.TEST..HHZ")] == [ns(2021, 1, 1), None]
    base = Inventory([make_info(sensitivity=1.0)])
    merged = base.merged(Inventory([make_info(sensitivity=2.0)]))
    assert merged.get("XX.TEST..HHZ").sensitivity == 2.0
    assert merged.issues.conflicting_epochs == 1


def test_nearest_epoch_and_match() -> None:
    old = make_info(start_ns=ns(2020, 1, 1), end_ns=ns(2021, 1, 1), sensitivity=1.0)
    new = make_info(start_ns=ns(2022, 1, 1), sensitivity=2.0)
    acc = make_info(channel_id="XX.LONGER.00.HNE", station="LONGER", location="00",
                    channel="HNE", input_units="M/S**2")
    inventory = Inventory([old, new, acc])
    assert inventory.nearest("XX.TEST..HHZ", ns(2019, 1, 1)) is old
    assert inventory.nearest("XX.TEST..HHZ", ns(2021, 2, 1)) is old
    assert inventory.nearest("XX.TEST..HHZ", ns(2021, 12, 1)) is new
    assert inventory.nearest("XX.NONE..HHZ", ns(2021, 12, 1)) is None
    m = inventory.match("XX.TEST..HHZ", ns(2020, 6, 1))
    assert m is not None and (m.info, m.how) == (old, "exact")
    m = inventory.match("XX.TEST..HHZ", ns(2021, 6, 1))
    assert m is not None and m.how == "outside_epoch"
    for alias in ("XX.TEST.00.HHZ", "XX.TEST..BHZ", "XX.TEST.10.EHZ"):
        m = inventory.match(alias, ns(2022, 6, 1))
        assert m is not None and (m.info, m.how) == (new, "alias"), alias
    # a station code cut to 5 characters by miniSEED 2, another location code
    m = inventory.match("XX.LONGE..HNE", ns(2022, 6, 1))
    assert m is not None and (m.info, m.how) == (acc, "alias")
    assert inventory.match("XX.TEST..HHN", ns(2022, 6, 1)) is None  # other component
    assert inventory.match("XX.TEST..HNZ", ns(2022, 6, 1)) is None  # other instrument
    assert inventory.match("YY.TEST..HHZ", ns(2022, 6, 1)) is None  # other network
    two = Inventory([new, make_info(channel_id="XX.TEST.00.HHZ", location="00")])
    assert two.match("XX.TEST.10.HHZ", ns(2022, 6, 1)) is None  # ambiguous


def test_types_are_immutable() -> None:
    info = make_info()
    inventory = Inventory([info])
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.sensitivity = 2.0  # type: ignore[misc]
    with pytest.raises(AttributeError):
        inventory._epochs = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        inventory._epochs["XX.TEST..HHZ"] = ()  # type: ignore[index]
    merged = inventory.merged(Inventory([make_info(channel_id="XX.TEST..HHN", channel="HHN")]))
    assert len(merged) == 2
    assert len(inventory) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"channel_id": "XX.TEST..HHN"}, "does not match"),
        ({"input_units": "m/s"}, "not normalised"),
        ({"sampling_rate_hz": 0.0}, "sample rate"),
        ({"sensitivity": -1.0}, "sensitivity"),
        ({"sensitivity": float("nan")}, "sensitivity"),
        ({"latitude_deg": 91.0}, "latitude"),
        ({"end_ns": ns(2019, 1, 1)}, "ends before"),
    ],
)
def test_channel_info_validates(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InventoryError, match=message):
        make_info(**changes)


def test_channel_info_properties() -> None:
    info = make_info(channel_id="XX.TEST.10.HNE", location="10", channel="HNE",
                     input_units="M/S**2")
    assert (info.kind, info.station_id, info.component) == ("acceleration", "XX.TEST", "E")
    assert info.covers(ns(2020, 1, 1))
    assert not info.covers(ns(2020, 1, 1) - 1)
