"""Shared fixtures: sample data, inventories, synthetic signals, pipeline runs.

Helpers are exposed as fixtures (callables) so that test modules need no
imports from this file. Synthetic data are generated on the fly; the only
files read are the bundled samples in ``waveforms_samples/obspy_rjob`` and
the small files under ``tests/data``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import hypothesis
import numpy as np
import obspy
import pytest
from scipy import signal

from eew.config import Config
from eew.daemon.config import Settings
from eew.detect.router import Pipeline
from eew.inventory import ChannelInfo, Inventory, load_inventory
from eew.model.packet import Packet
from eew.model.pick import Pick, RejectedTrigger
from eew.model.timeutil import NS_PER_S

ROOT = Path(__file__).resolve().parents[1]
RJOB_DIR = ROOT / "waveforms_samples" / "obspy_rjob"
RJOB_MSEED = RJOB_DIR / "BW.RJOB.mseed"
RJOB_XML = RJOB_DIR / "stationxml.xml"
#: P arrival of obspy's bundled local earthquake on BW.RJOB..EHZ
RJOB_P_NS = obspy.UTCDateTime("2009-08-24T00:20:07.75").ns
#: BW.RJOB EH? sensitivity [counts/(m/s)]
RJOB_SENSITIVITY = 2.5168e9
#: start of the synthetic traces (inside the BW.RJOB epoch of the bundled StationXML)
T0_NS = obspy.UTCDateTime("2020-03-01T12:00:00").ns
FS_HZ = 100.0


# ---- paths and sample data ----------------------------------------------------------------
@pytest.fixture(scope="session")
def datapath() -> Path:
    """Folder of the small checked-in test files."""
    return Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def rjob_mseed() -> Path:
    """obspy's bundled local earthquake as miniSEED (3 channels, 30 s, 512-byte Steim2)."""
    return RJOB_MSEED


@pytest.fixture(scope="session")
def rjob_xml() -> Path:
    """StationXML of BW.RJOB (EH? at 100 Hz, 2.5168e9 counts/(m/s))."""
    return RJOB_XML


@pytest.fixture(scope="session")
def rjob_p_ns() -> int:
    """Reference P time on BW.RJOB..EHZ [ns]."""
    return RJOB_P_NS


@pytest.fixture(scope="session")
def rjob_inventory() -> Inventory:
    """Inventory loaded from the bundled StationXML."""
    return load_inventory([RJOB_XML])


@pytest.fixture
def rjob_stream() -> obspy.Stream:
    """A fresh copy of ``obspy.read()`` (obspy's example event on BW.RJOB)."""
    return obspy.read()


@pytest.fixture(scope="session")
def t0_ns() -> int:
    """Start time of synthetic traces [ns]."""
    return T0_NS


def channel_info(
    channel_id: str = "BW.RJOB..EHZ",
    *,
    kind: str = "velocity",
    sampling_rate_hz: float = FS_HZ,
    sensitivity: float = RJOB_SENSITIVITY,
) -> ChannelInfo:
    """A :class:`ChannelInfo` for synthetic tests."""
    net, sta, loc, cha = channel_id.split(".")
    units = {"velocity": "M/S", "acceleration": "M/S**2"}[kind]
    return ChannelInfo(
        channel_id=channel_id,
        network=net,
        station=sta,
        location=loc,
        channel=cha,
        latitude_deg=43.25,
        longitude_deg=76.95,
        elevation_m=850.0,
        depth_m=0.0,
        sampling_rate_hz=sampling_rate_hz,
        sensitivity=sensitivity,
        sensitivity_frequency_hz=1.0,
        input_units=units,
        azimuth_deg=0.0,
        dip_deg=-90.0,
        start_ns=None,
        end_ns=None,
    )


@pytest.fixture(scope="session")
def make_info() -> Callable[..., ChannelInfo]:
    """Factory of synthetic :class:`ChannelInfo` records."""
    return channel_info


@pytest.fixture(scope="session")
def syn_inventory() -> Inventory:
    """BW.RJOB..EHZ-like velocity channel plus an accelerometer XX.SYN..HNZ."""
    return Inventory(
        [
            channel_info("BW.RJOB..EHZ"),
            channel_info("BW.RJOB..EHN"),
            channel_info("XX.SYN..HNZ", kind="acceleration", sensitivity=427_000.0),
        ]
    )


# ---- synthetic signals --------------------------------------------------------------------
def white_noise(n: int, sigma: float, seed: int = 0, offset: float = 0.0) -> np.ndarray:
    """Gaussian white noise [counts], float64."""
    return offset + sigma * np.random.default_rng(seed).standard_normal(n)


def wavelet_burst(
    n: int,
    onset: int,
    amplitude: float,
    *,
    band_hz: tuple[float, float] = (5.0, 10.0),
    decay_s: float = 2.0,
    rise_s: float = 0.02,
    duration_s: float | None = None,
    fs: float = FS_HZ,
    seed: int = 1,
) -> np.ndarray:
    """A band-limited noise burst that is exactly zero before ``onset``.

    The burst has peak |value| = ``amplitude`` [counts]; its envelope rises in
    ``rise_s`` and decays with ``decay_s``; optionally cut after ``duration_s``.
    """
    m = n - onset
    sos = signal.butter(4, band_hz, btype="bandpass", fs=fs, output="sos")
    carrier = signal.sosfiltfilt(sos, np.random.default_rng(seed).standard_normal(m + 400))[
        200:-200
    ]
    t = np.arange(m) / fs
    env = (1.0 - np.exp(-t / rise_s)) * np.exp(-t / decay_s)
    if duration_s is not None:
        env[t >= duration_s] = 0.0
    b = carrier * env
    b *= amplitude / np.abs(b).max()
    out = np.zeros(n)
    out[onset:] = b
    return out


def synthetic_onset(
    n_s: float = 60.0,
    onset_s: float = 30.0,
    snr: float = 20.0,
    sigma: float = 200.0,
    seed: int = 0,
    offset: float = 1500.0,
) -> tuple[np.ndarray, int]:
    """White noise plus a 5-10 Hz burst ``snr`` times the noise level; returns (counts, onset)."""
    n = round(n_s * FS_HZ)
    onset = round(onset_s * FS_HZ)
    x = white_noise(n, sigma, seed, offset) + wavelet_burst(
        n, onset, snr * sigma * 3, seed=seed + 1
    )
    return np.round(x), onset


@pytest.fixture(scope="session")
def noise() -> Callable[..., np.ndarray]:
    """Factory of white noise [counts]."""
    return white_noise


@pytest.fixture(scope="session")
def burst() -> Callable[..., np.ndarray]:
    """Factory of band-limited bursts [counts]."""
    return wavelet_burst


@pytest.fixture(scope="session")
def onset_trace() -> Callable[..., tuple[np.ndarray, int]]:
    """Factory of a synthetic noise -> P onset trace."""
    return synthetic_onset


# ---- packets and pipeline runs ------------------------------------------------------------
def cut_packets(
    channel_id: str,
    start_ns: int,
    data: np.ndarray,
    sizes: int | Sequence[int] | str | None = None,
    *,
    fs: float = FS_HZ,
    seed: int = 0,
    calibration: bool = False,
) -> list[Packet]:
    """Cut ``data`` into packets.

    ``sizes``: ``None`` -> one packet; an int -> that many samples each;
    ``"random"`` -> random sizes 1..600 (with many 1-sample packets); a sequence
    -> those sizes, cycled.
    """
    n = data.shape[0]
    if sizes is None:
        bounds = [0, n]
    else:
        rng = np.random.default_rng(seed)
        bounds = [0]
        i = 0
        while bounds[-1] < n:
            if isinstance(sizes, str):
                step = 1 if rng.random() < 0.3 else int(rng.integers(1, 601))
            elif isinstance(sizes, int):
                step = sizes
            else:
                step = sizes[i % len(sizes)]
                i += 1
            bounds.append(min(n, bounds[-1] + step))
    return [
        Packet(
            channel_id,
            start_ns + round(a * NS_PER_S / fs),
            fs,
            np.ascontiguousarray(data[a:b]),
            calibration,
        )
        for a, b in itertools.pairwise(bounds)
    ]


@pytest.fixture(scope="session")
def packets() -> Callable[..., list[Packet]]:
    """Factory that cuts an array into :class:`Packet` values."""
    return cut_packets


class Run:
    """What a pipeline run produced."""

    def __init__(self, pipeline: Pipeline, results: list[Any]) -> None:
        self.pipeline = pipeline
        self.results = results

    @property
    def picks(self) -> list[Pick]:
        """Every pick message, in emission order."""
        return [r for r in self.results if isinstance(r, Pick)]

    @property
    def rejected(self) -> list[RejectedTrigger]:
        """Every rejected trigger, in emission order."""
        return [r for r in self.results if isinstance(r, RejectedTrigger)]

    def final_picks(self) -> list[Pick]:
        """The last update of every pick."""
        return [p for p in self.picks if p.final]


def run_packets(
    pkts: Iterable[Packet],
    inventory: Inventory,
    config: Config | None = None,
    flush: bool = True,
) -> Run:
    """Feed packets through a fresh :class:`Pipeline`; collect its results."""
    results: list[Any] = []
    pipe = Pipeline(config or Config(), inventory, results.append)
    for p in pkts:
        pipe.feed(p)
    if flush:
        pipe.flush()
    return Run(pipe, results)


@pytest.fixture(scope="session")
def run_pipeline() -> Callable[..., Run]:
    """Run packets through a fresh pipeline; returns a :class:`Run`."""
    return run_packets


def without_sent_time(value: Pick | RejectedTrigger) -> dict[str, Any]:
    """All fields except ``sent_time_ns``, NaN made comparable."""
    d = dataclasses.asdict(value)
    d.pop("sent_time_ns")
    return {k: ("nan" if isinstance(v, float) and v != v else v) for k, v in d.items()}


@pytest.fixture(scope="session")
def comparable() -> Callable[[Pick | RejectedTrigger], dict[str, Any]]:
    """Turn a result into a dict of every field but ``sent_time_ns``."""
    return without_sent_time


def stream_to_packets(st: obspy.Stream) -> list[Packet]:
    """One packet per trace of an obspy stream."""
    return [
        Packet(tr.id, tr.stats.starttime.ns, tr.stats.sampling_rate, np.asarray(tr.data))
        for tr in st
    ]


@pytest.fixture(scope="session")
def from_stream() -> Callable[[obspy.Stream], list[Packet]]:
    """Turn a stream into packets (one per trace)."""
    return stream_to_packets


def write_mseed(
    path: Path,
    traces: Iterable[tuple[str, int, np.ndarray]],
    *,
    reclen: int = 512,
    encoding: str = "STEIM2",
    fs: float = FS_HZ,
) -> Path:
    """Write ``(channel_id, start_ns, int_counts)`` traces as miniSEED with obspy."""
    st = obspy.Stream()
    for cid, start_ns, data in traces:
        net, sta, loc, cha = cid.split(".")
        st += obspy.Trace(
            np.ascontiguousarray(data, dtype=np.int32),
            header={
                "network": net,
                "station": sta,
                "location": loc,
                "channel": cha,
                "starttime": obspy.UTCDateTime(ns=start_ns),
                "sampling_rate": fs,
            },
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    st.write(str(path), format="MSEED", reclen=reclen, encoding=encoding)
    return path


@pytest.fixture(scope="session")
def mseed_writer() -> Callable[..., Path]:
    """Write synthetic traces as miniSEED (obspy)."""
    return write_mseed


@pytest.fixture(autouse=True)
def _no_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read ./config/eew.toml or the files they name, never the caller's $EEW_CONFIG."""
    monkeypatch.delenv("EEW_CONFIG", raising=False)
# Hypothesis profiles (tests/test_event_geometry.py): derandomised and without an example
# database, so every run, here and in CI, draws the same examples. ``default`` keeps
# ``make test`` fast; ``thorough`` is the "passes with 10 000 examples"
# (``make test-thorough``; tests/README.md has the measured times).
hypothesis.settings.register_profile(
    "default", max_examples=100, derandomize=True, database=None, deadline=None
)
hypothesis.settings.register_profile(
    "thorough", max_examples=10_000, derandomize=True, database=None, deadline=None
)
hypothesis.settings.load_profile("default")


#: the location grid that the shipped configuration pins (``config/eew.toml``,
#: ``eew/data/config/eew.toml``); without it the grid follows the inventory
PINNED_GRID = {
    "grid_center_lat_deg": 42.9,
    "grid_center_lon_deg": 76.0,
    "grid_half_width_km": 500.0,
    "grid_half_height_km": 300.0,
}


@pytest.fixture
def shipped() -> Settings:
    """The settings of the shipped configuration file: the defaults with the pinned grid."""
    d = Settings()
    event = dataclasses.replace(d.config.event, **PINNED_GRID)
    return dataclasses.replace(d, config=dataclasses.replace(d.config, event=event))


def _find_shared_schemas() -> Path | None:
    """``shared/reference/schemas`` beside the checkout or a folder above it (worktrees)."""
    for parent in ROOT.parents:
        candidate = parent / "shared" / "reference" / "schemas"
        if candidate.is_dir():
            return candidate
    return None


#: the shared reference schemas (ShakeAlert XSD, examples), None where absent
SHARED_SCHEMAS = _find_shared_schemas()


@pytest.fixture(scope="session")
def shared_schemas() -> Path:
    """The shared reference schema folder; skips (naming it) when absent."""
    if SHARED_SCHEMAS is None:
        pytest.skip(
            "shared/reference/schemas not found beside the checkout or above it "
            "(the ShakeAlert XSD is not part of the project: licence unclear)"
        )
    return SHARED_SCHEMAS
