"""Regenerate the real-record folders of ``waveforms_real/`` (run from the repository root).

    python tools/make_real.py                  # all folders
    python tools/make_real.py obspy_uh         # some of them
    python tools/make_real.py --check-picks    # re-run the picker, compare with the truth
    python tools/make_real.py --check-picks --plots /tmp/picks   # ... and plot each onset

``obspy_rjob``, ``obspy_uh``, ``obspy_tly`` and ``obspy_knet`` are made from the example
records that obspy installs with itself (its test data), so nothing is downloaded and the
output is the same on every run: one 512-byte Steim-2 miniSEED file per channel (integer
counts), ``stations.xml`` and ``truth.json``. Each folder's ``README.md`` is written by hand
and left alone. ``kambarata_2009`` is copied unchanged from
``../shared/data/real/kambarata_2009`` when that folder exists.

The P onsets in the truth files are constants: they were read with obspy's recursive
STA/LTA and an AIC picker (:func:`auto_onsets`) and checked on plots; ``--check-picks`` repeats
that reading and prints the difference, so that the constants can be audited.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import obspy
from obspy.core.inventory import (
    Channel,
    Equipment,
    InstrumentSensitivity,
    Inventory,
    Network,
    Response,
    Site,
    Station,
)
from obspy.geodetics import gps2dist_azimuth

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "waveforms_real"
#: where the Kambarata-2 folder is looked for (``../shared`` of /work/main or of a worktree)
KAMBARATA_CANDIDATES = [base / "shared" / "data" / "real" / "kambarata_2009"
                        for base in (ROOT.parent, ROOT.parent.parent)]
LIMIT_BYTES = 1_500_000
#: fixed creation time written into the generated StationXML (keeps the output reproducible)
CREATED = obspy.UTCDateTime("2025-01-01T00:00:00")
OBSPY = Path(obspy.__file__).resolve().parent

# the helpers below are reused by every record ---------------------------------------------


def obspy_file(relative: str) -> Path:
    """Path of a file that obspy installs with itself (``relative`` to the obspy package)."""
    return OBSPY / relative


def to_counts(trace: obspy.Trace) -> obspy.Trace:
    """Return a copy with int32 samples (floats are rounded to the nearest count)."""
    out = trace.copy()
    out.data = np.round(np.asarray(out.data, dtype=np.float64)).astype(np.int32)
    return out


def orientation(channel: str) -> tuple[float, float]:
    """Nominal (azimuth, dip) [deg] from the component letter: Z up, N north, E east."""
    return {"Z": (0.0, -90.0), "N": (0.0, 0.0), "E": (90.0, 0.0)}[channel[-1]]


@dataclass(frozen=True)
class StationSite:
    """One station of a generated StationXML file (all its channels share the site)."""

    network: str
    station: str
    latitude: float
    longitude: float
    elevation_m: float
    name: str
    sensor: str
    sensitivity: float  # counts per input unit
    input_units: str  # "M/S" or "M/S**2"
    sensitivity_hz: float = 1.0
    depth_m: float = 0.0


def build_inventory(sites: list[StationSite], stream: obspy.Stream, start: obspy.UTCDateTime,
                    source: str) -> Inventory:
    """StationXML for ``stream`` with one open epoch from ``start`` per channel.

    Sample rates are the records' own; coordinates, sensitivity and unit come from ``sites``.
    """
    unit_text = {"M/S": "Velocity in meters per second",
                 "M/S**2": "Acceleration in meters per second squared"}
    networks: dict[str, Network] = {}
    for site in sites:
        channels = []
        for tr in stream.select(network=site.network, station=site.station):
            azimuth, dip = orientation(tr.stats.channel)
            sensitivity = InstrumentSensitivity(
                value=site.sensitivity, frequency=site.sensitivity_hz,
                input_units=site.input_units, output_units="COUNTS",
                input_units_description=unit_text[site.input_units],
                output_units_description="Digital counts")
            channels.append(Channel(
                code=tr.stats.channel, location_code=tr.stats.location,
                latitude=site.latitude, longitude=site.longitude, elevation=site.elevation_m,
                depth=site.depth_m, azimuth=azimuth, dip=dip,
                sample_rate=tr.stats.sampling_rate, start_date=start,
                sensor=Equipment(type=site.sensor),
                response=Response(instrument_sensitivity=sensitivity)))
        station = Station(code=site.station, latitude=site.latitude, longitude=site.longitude,
                          elevation=site.elevation_m, start_date=start, creation_date=start,
                          site=Site(name=site.name), channels=channels)
        networks.setdefault(site.network, Network(code=site.network)).stations.append(station)
    return Inventory(networks=list(networks.values()), source=source, sender=None,
                     module="eew tools/make_real.py", module_uri=None, created=CREATED)


def write_mseed(stream: obspy.Stream, folder: Path) -> list[str]:
    """Write one 512-byte Steim-2 file per channel; return the channel ids, sorted."""
    ids = []
    for tr in sorted(stream, key=lambda t: t.id):
        tr.write(str(folder / f"{tr.id}.mseed"), format="MSEED", encoding="STEIM2",
                 reclen=512, byteorder=">")
        ids.append(tr.id)
    return ids


def iso(t: obspy.UTCDateTime | None) -> str | None:
    """UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (the truth-file format), None stays None."""
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def station_table(sites: list[StationSite], event: dict[str, Any] | None) -> dict[str, Any]:
    """Truth ``stations``: coordinates and (when the event has an epicentre) distance [km]."""
    table = {}
    for site in sorted(sites, key=lambda s: (s.network, s.station)):
        row: dict[str, Any] = {"lat": site.latitude, "lon": site.longitude,
                               "elev_m": site.elevation_m}
        if event is not None and event.get("lat") is not None:
            dist_m, _, _ = gps2dist_azimuth(event["lat"], event["lon"],
                                            site.latitude, site.longitude)
            row["epi_km"] = round(dist_m / 1000.0, 2)
        table[f"{site.network}.{site.station}"] = row
    return table


# the picker used to read (and now to audit) the onsets ----------------------------------


@dataclass(frozen=True)
class PickSettings:
    """Settings of :func:`auto_onsets` for one record (times in seconds, corners in Hz)."""

    band: tuple[float, float]  # causal Butterworth band of the STA/LTA trigger
    aic_band: tuple[float, float | None]  # causal band before the AIC (None: high-pass)
    sta: float
    lta: float
    on: float = 3.5
    off: float = 1.0
    before: float = 1.0  # AIC window starts this long before the trigger
    after: float = 0.3  # ... and ends this long after it


def auto_onsets(trace: obspy.Trace, s: PickSettings) -> list[tuple[obspy.UTCDateTime, float]]:
    """Onsets read by obspy's recursive STA/LTA (trigger) and AIC (onset within the trigger).

    Returns
    -------
    list of (UTCDateTime, float)
        AIC onset and peak STA/LTA ratio of every trigger, in time order.
    """
    from obspy.signal.trigger import aic_simple, recursive_sta_lta, trigger_onset

    sr = trace.stats.sampling_rate
    trig = trace.copy()
    trig.data = trig.data.astype(np.float64)
    trig.detrend("demean")
    hp = trig.copy()
    trig.filter("bandpass", freqmin=s.band[0], freqmax=s.band[1], corners=2, zerophase=False)
    low, high = s.aic_band
    if high is None:
        hp.filter("highpass", freq=low, corners=2, zerophase=False)
    else:
        hp.filter("bandpass", freqmin=low, freqmax=high, corners=2, zerophase=False)
    cft = recursive_sta_lta(trig.data, int(s.sta * sr), int(s.lta * sr))
    cft[: int(s.lta * sr)] = 0.0
    out = []
    for i_on, i_off in trigger_onset(cft, s.on, s.off):
        a = max(0, i_on - int(s.before * sr))
        b = min(len(hp.data), i_on + int(s.after * sr))
        aic = aic_simple(hp.data[a:b])
        k = a + 1 + int(np.argmin(aic[1:-1]))
        out.append((trace.stats.starttime + k / sr, float(cft[i_on:i_off + 1].max())))
    return out


# the records --------------------------------------------------------------------------------


@dataclass
class Record:
    """Everything written into one folder."""

    stream: obspy.Stream
    truth: dict[str, Any]
    inventory: Inventory | None = None
    stationxml_copy: Path | None = None  # copied verbatim instead of ``inventory``
    pick_settings: PickSettings | None = None
    pick_channels: dict[str, str] = field(default_factory=dict)  # station -> channel id


def rjob() -> Record:
    """Build ``obspy_rjob``: the BW.RJOB example record with obspy's own 200 Hz StationXML."""
    stream = obspy.Stream([to_counts(tr) for tr in obspy.read()])
    for tr in stream:  # drop the response obspy attaches to its example stream
        tr.stats.pop("response", None)
    xml = obspy_file("core/data/BW_RJOB.xml")
    meta = obspy.read_inventory(str(xml))[0][0]
    site = StationSite("BW", "RJOB", meta.latitude, meta.longitude, meta.elevation,
                 "Jochberg, Bavaria", "STS-2", 2.5168e9, "M/S")
    truth = {
        "name": "obspy_rjob",
        "source": "obspy.read() with no argument (obspy/core/data/example.npz, BW.RJOB EH?, "
                  "100 Hz); StationXML obspy/core/data/BW_RJOB.xml copied unchanged (200 Hz)",
        "expect_alert": False,
        "expect_event": False,
        "events": [{"id": None, "origin_time": None, "lat": None, "lon": None,
                    "depth_km": None, "mag": None, "mag_type": None,
                    "event_type": "earthquake",
                    "source": "obspy calls it an example earthquake record and gives no event "
                              "parameters; none are invented here"}],
        "picks": {"BW.RJOB": "2009-08-24T00:20:07.700000Z"},
        "pick_uncertainty_s": {"BW.RJOB": 0.03},
        "pick_source": "P onset on EHZ: obspy recursive STA/LTA (1-20 Hz, 0.2/3 s) then AIC on "
                       "the causal 2 Hz high-pass, checked on plots (first deviating sample "
                       "00:20:07.71); EHN 07.70, EHE 07.76; +-0.03 s",
        "stations": station_table([site], None),
        "notes": "Sample-rate mismatch on purpose: the records are 100 Hz, obspy's StationXML "
                 "for RJOB says 200 Hz (and location code '  '). obspy's example samples are "
                 "floats (already processed: each trace starts at 0), rounded here to integer "
                 "counts (amplitudes up to about 2300). The P onset is 4.7 s after the start "
                 "of the 30 s record. The event is not identified.",
    }
    return Record(stream, truth, stationxml_copy=xml,
                  pick_settings=PickSettings((1.0, 20.0), (2.0, None), 0.2, 3.0, on=3.0),
                  pick_channels={"BW.RJOB": "BW.RJOB..EHZ"})


#: UH1-UH4 positions in Gauss-Krueger zone 4 (DHDN) from obspy/io/nlloc/tests/data/
#: nlloc_custom.hyp (NLLoc StaLoc X, Y [km]; Z = -0.4 km), converted to WGS84 with the
#: inverse transverse Mercator on the Bessel ellipsoid and the DHDN -> WGS84 7-parameter
#: Helmert shift; the same conversion puts that file's hypocentre (x 4473.68, y 5323.28)
#: 5 m from the WGS84 epicentre in obspy/io/cnv/tests/data/obspyck_20141020150701.xml.
UH_COORDS = {
    "UH1": (48.081506, 11.636035),
    "UH2": (48.057873, 11.682011),
    "UH3": (48.030801, 11.638762),
    "UH4": (48.032293, 11.535572),
}
#: the located event of the same cluster, same day (obspyck QuakeML bundled with obspy)
UH_REFERENCE = {"origin_time": "2010-05-27T16:56:24.612255Z", "lat": 48.047093861,
                "lon": 11.6454750445, "depth_km": 4.58, "mag": 0.93,
                "mag_type": "obspyck magnitude (local magnitude, +-0.34)",
                "p_uh3_minus_origin_s": 1.32}
UH_PICKS = {  # event -> station -> (P onset, uncertainty [s])
    "uh_e1": {"BW.UH1": ("2010-05-27T16:24:33.319998Z", 0.03),
              "BW.UH2": ("2010-05-27T16:24:33.240000Z", 0.03),
              "BW.UH3": ("2010-05-27T16:24:33.130000Z", 0.03),
              "BW.UH4": ("2010-05-27T16:24:34.110000Z", 0.03)},
    "uh_e3": {"BW.UH1": ("2010-05-27T16:27:30.599998Z", 0.03),
              "BW.UH2": ("2010-05-27T16:27:30.520000Z", 0.03),
              "BW.UH3": ("2010-05-27T16:27:30.410000Z", 0.03),
              "BW.UH4": ("2010-05-27T16:27:31.380000Z", 0.03)},
}


def uh() -> Record:
    """Build ``obspy_uh``: the BW.UH1-UH4 micro-earthquake records (Unterhaching, 2010-05-27)."""
    stream = obspy.Stream()
    for name in ["BW.UH1._.SHZ", "BW.UH2._.SHZ", "BW.UH3._.SHE", "BW.UH3._.SHN",
                 "BW.UH3._.SHZ", "BW.UH4._.EHZ"]:
        stream += obspy.read(str(obspy_file(f"signal/tests/data/{name}.D.2010.147.cut.slist.gz")))
    stream = obspy.Stream([to_counts(tr) for tr in stream])
    for tr in stream:
        tr.stats.pop("ascii", None)
    sites = [StationSite("BW", sta, lat, lon, 400.0, f"Unterhaching {sta}",
                   "nominal short-period velocity sensor", 4.0e8, "M/S")
             for sta, (lat, lon) in UH_COORDS.items()]
    events = []
    for eid, picks in UH_PICKS.items():
        p_uh3 = obspy.UTCDateTime(picks["BW.UH3"][0])
        events.append({
            "id": eid,
            "origin_time": iso(p_uh3 - UH_REFERENCE["p_uh3_minus_origin_s"]),
            "lat": UH_REFERENCE["lat"], "lon": UH_REFERENCE["lon"],
            "depth_km": UH_REFERENCE["depth_km"], "mag": None, "mag_type": None,
            "event_type": "induced earthquake (geothermal field)",
            "source": "derived: same P moveout at UH1-UH4 as the located 16:56:24.61 event "
                      "(within 0.02 s), so its hypocentre is used; origin time = P at UH3 minus "
                      "that event's UH3 P travel time (1.32 s); magnitude not known",
            "picks": {sta: t for sta, (t, _) in picks.items()},
        })
    first = events[0]
    truth = {
        "name": "obspy_uh",
        "source": "obspy/signal/tests/data/BW.UH{1,2,3,4}.*.D.2010.147.cut.slist.gz (obspy's "
                  "coincidence-trigger test data); coordinates from obspy's NLLoc test file",
        "expect_alert": False,
        "expect_event": None,
        "events": events,
        "reference_event": {**UH_REFERENCE,
                            "source": "obspy/io/cnv/tests/data/obspyck_20141020150701.xml "
                                      "(Erdbebendienst Bayern, NLLoc location, 8 phases)"},
        "picks": dict(first["picks"]),
        "pick_uncertainty_s": {sta: u for sta, (_, u) in UH_PICKS["uh_e1"].items()},
        "pick_source": "P onsets on the vertical channels: obspy recursive STA/LTA (10-20 Hz, "
                       "0.5/10 s, on 3.5) then AIC on the causal 2 Hz high-pass, checked on "
                       "plots; impulsive, +-0.03 s. 'picks' is the first event; every event has "
                       "its own 'picks'",
        "stations": station_table(sites, first),
        "notes": "Three signals in 3.8 min: micro-earthquakes at 16:24:33 and 16:27:30 (all four "
                 "stations, impulsive) and a very weak signal at about 16:27:01-03 on UH1-UH3 "
                 "(STA/LTA below 8, no clear P; obspy's coincidence-trigger test counts it as a "
                 "3-station trigger). It has no truth onsets: a pick there is neither required "
                 "nor wrong. UH1-UH3 SH? at 50 Hz (UH3 three components), UH4 EHZ at 100 Hz. "
                 "UH4's samples are floats in obspy's file (already filtered: the trace starts "
                 "near 0) and are rounded to counts. Sensitivity 4.0e8 counts/(m/s) is a "
                 "NOMINAL value (400 V/(m/s) sensor, 1 count per microvolt), not the stations' "
                 "own; elevation 400 m from NLLoc's station depth -0.4 km. Stations 4-8 km "
                 "from the epicentre, about 5000 km from Almaty.",
    }
    return Record(stream, truth,
                  inventory=build_inventory(sites, stream, obspy.UTCDateTime("2010-05-27"),
                                            "BW.UH1-UH4 records bundled with obspy"),
                  pick_settings=PickSettings((10.0, 20.0), (2.0, None), 0.5, 10.0),
                  pick_channels={f"BW.{s}": f"BW.{s}..{'EHZ' if s == 'UH4' else 'SHZ'}"
                                 for s in UH_COORDS})


def tly() -> Record:
    """Build ``obspy_tly``: the II.TLY BHZ SAC record of the 2011 Tohoku earthquake (20 Hz)."""
    with warnings.catch_warnings():  # obspy rounds delta 0.050000161 s to 0.05 s and says so
        warnings.simplefilter("ignore", UserWarning)
        tr = obspy.read(str(obspy_file("realtime/tests/data/II.TLY.BHZ.SAC")))[0]
    sac = tr.stats.sac
    reference = tr.stats.starttime - float(sac.b)
    tr.stats.sampling_rate = 20.0  # header delta 0.050000161 s: 0.2 ms over the 634 s record
    tr = to_counts(tr)
    tr.stats.pop("sac", None)
    # SAC stores float32: round to the header's 4 decimals
    site = StationSite("II", "TLY", round(float(sac.stla), 4), round(float(sac.stlo), 4),
                       round(float(sac.stel), 1),
                 "Talaya, Russia", "nominal broadband (STS-2 class)", 6.29e8, "M/S",
                 depth_m=float(sac.stdp))
    event = {"id": "tohoku_2011", "origin_time": iso(reference + round(float(sac.o), 3)),
             "lat": round(float(sac.evla), 4), "lon": round(float(sac.evlo), 4),
             "depth_km": round(float(sac.evdp) / 1000.0, 1), "mag": round(float(sac.mag), 1),
             "mag_type": "unspecified (SAC imagtyp IMX)", "event_type": "earthquake",
             "source": "SAC header of II.TLY.BHZ.SAC: o, evla, evlo, evdp (24400, read as m), "
                       "mag"}
    truth = {
        "name": "obspy_tly",
        "source": "obspy/realtime/tests/data/II.TLY.BHZ.SAC (IRIS/IDA station II.TLY, "
                  "location 00, BHZ, 20 Hz, counts)",
        "expect_alert": False,
        "expect_event": False,
        "events": [event],
        "picks": {"II.TLY": "2011-03-11T05:52:31.250000Z"},
        "pick_uncertainty_s": {"II.TLY": 0.2},
        "pick_source": "P onset: obspy recursive STA/LTA (0.5-5 Hz, 1/30 s, peak ratio 22) "
                       "finds the trigger at 05:52:31.7; the onset was read by eye on the raw "
                       "and causal 0.5-8 Hz traces (first departure 05:52:31.25) because AIC is "
                       "unstable for this emergent onset (31.1-31.7 by band and window; 31.48 with "
                       "--check-picks); +-0.2 s. The SAC "
                       "header's 'a' (P) is 05:52:31.54",
        "stations": station_table([site], event),
        "notes": "Teleseism at 30.1 deg (3343 km): P only (S is after the end of the record). "
                 "The 2011-03-11 Tohoku earthquake, with the event values of the SAC header "
                 "(magnitude 8.9, an early estimate; depth 24.4 km). The trace is 634 s long "
                 "and starts 5 min before P. Sensitivity 6.29e8 counts/(m/s) is a NOMINAL "
                 "value (STS-2 1500 V/(m/s) x 419430 counts/V), the file has no response; "
                 "amplitudes are only as good as that. The epicentre is about 5400 km from "
                 "Almaty: no alert.",
    }
    return Record(obspy.Stream([tr]), truth,
                  inventory=build_inventory([site], obspy.Stream([tr]),
                                            obspy.UTCDateTime("2011-03-11"),
                                            "II.TLY record bundled with obspy"),
                  pick_settings=PickSettings((0.5, 5.0), (0.5, None), 1.0, 30.0, on=10.0,
                                             before=1.5, after=0.5),
                  pick_channels={"II.TLY": "II.TLY.00.BHZ"})


def knet() -> Record:
    """Build ``obspy_knet``: the K-NET strong-motion record (AKT013, E-W, 1996-08-11 JST)."""
    tr = obspy.read(str(obspy_file("io/nied/tests/data/test.knet")))[0]
    head = tr.stats.knet
    counts_per_ms2 = 1.0 / float(tr.stats.calib)  # header scale factor 2000 gal / 8388608
    tr = to_counts(tr)  # the file holds integer counts already
    tr.stats.channel = "HNE"
    tr.stats.station = "AKT13"  # miniSEED 2 station codes have at most 5 characters
    tr.stats.calib = 1.0
    tr.stats.pop("knet", None)
    site = StationSite("BO", "AKT13", float(head.stla), float(head.stlo), float(head.stel),
                       "K-NET AKT013 (SEED code AKT13), Akita", "K-NET95 accelerometer",
                       counts_per_ms2, "M/S**2")
    event = {"id": "akita_miyagi_1996", "origin_time": iso(head.evot),
             "lat": float(head.evla), "lon": float(head.evlo), "depth_km": float(head.evdp),
             "mag": float(head.mag), "mag_type": "JMA (K-NET header 'Mag.')",
             "event_type": "earthquake",
             "source": "K-NET header of test.knet (Origin Time 1996/08/11 03:12:00 JST, "
                       "given to the minute)"}
    truth = {
        "name": "obspy_knet",
        "source": "obspy/io/nied/tests/data/test.knet (NIED K-NET station AKT013, E-W "
                  "component only, 100 Hz)",
        "expect_alert": False,
        "expect_event": False,
        "events": [event],
        "picks": {"BO.AKT13": "1996-08-10T18:12:32.800000Z"},
        "pick_uncertainty_s": {"BO.AKT13": 0.15},
        "pick_source": "P onset on HNE (the only component): obspy recursive STA/LTA (1-20 Hz, "
                       "0.5/5 s) then AIC. The first motion is emergent and low-frequency: AIC "
                       "on causal 1-5, 2-8 and 1-10 Hz bands gives 32.74-32.90 and the plots show "
                       "it rising out of the noise there; the strong high-frequency arrival "
                       "follows at 33.20-33.23 (AIC on the 2 Hz high-pass, where a steady 12 Hz "
                       "noise hides the first motion; obspy pk_baer 33.03-33.06). Onset 32.80, "
                       "+-0.15 s",
        "stations": station_table([site], event),
        "notes": "K-NET station AKT013 is written as BO.AKT13: a miniSEED 2 header holds at "
                 "most 5 characters of station code (obspy would cut it to AKT01). "
                 "Acceleration counts; sensitivity 419430.4 counts/(m/s**2) from the header's "
                 "scale factor 2000 gal / 8388608 counts; the samples carry a DC offset of "
                 "about -18000 counts. Only the E-W component is bundled (channel HNE: no "
                 "vertical). K-NET times are JST; obspy's reader converts to UTC and starts "
                 "the record 15 s before the header's Record Time (03:12:39 JST). The header "
                 "origin time has no seconds, so P - origin (33 s) says nothing about the "
                 "travel time (80 km: about 13 s). P is 8.8 s after the start of the 59 s "
                 "record. The 'Memo.' line of obspy's test file reads 'A dummy comment'.",
    }
    stream = obspy.Stream([tr])
    return Record(stream, truth,
                  inventory=build_inventory([site], stream, obspy.UTCDateTime("1996-08-10"),
                                            "K-NET record bundled with obspy"),
                  pick_settings=PickSettings((1.0, 20.0), (1.0, 10.0), 0.5, 5.0, on=3.0,
                                             before=2.0, after=0.3),
                  pick_channels={"BO.AKT13": "BO.AKT13..HNE"})


RECORDS: dict[str, Callable[[], Record]] = {
    "obspy_rjob": rjob, "obspy_uh": uh, "obspy_tly": tly, "obspy_knet": knet,
}


def write_record(name: str, record: Record, out: Path) -> int:
    """Write one folder; return its size [bytes]."""
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in [*folder.glob("*.mseed"), folder / "stations.xml", folder / "truth.json"]:
        old.unlink(missing_ok=True)
    ids = write_mseed(record.stream, folder)
    if record.stationxml_copy is not None:
        shutil.copyfile(record.stationxml_copy, folder / "stations.xml")
    else:
        assert record.inventory is not None
        record.inventory.write(str(folder / "stations.xml"), format="STATIONXML")
    truth = dict(record.truth)
    truth["data_start"] = iso(min(tr.stats.starttime for tr in record.stream))
    truth["data_end"] = iso(max(tr.stats.endtime for tr in record.stream))
    truth["channels"] = ids
    (folder / "truth.json").write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return sum(p.stat().st_size for p in folder.iterdir())


def copy_kambarata(source: Path | None, out: Path) -> int | None:
    """Copy the Kambarata-2 folder unchanged; None if there is none to copy."""
    found = [source] if source is not None else KAMBARATA_CANDIDATES
    source = next((p for p in found if p.is_dir()), None)
    if source is None:
        return None
    folder = out / "kambarata_2009"
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(source, folder)
    return sum(p.stat().st_size for p in folder.iterdir())


def check_picks(names: list[str], plots: Path | None) -> int:
    """Re-run :func:`auto_onsets` on each record; print the nearest onset to each truth pick."""
    worst = 0.0
    for name in names:
        record = RECORDS[name]()
        s = record.pick_settings
        assert s is not None
        events = record.truth["events"]
        truths = [(sta, t) for ev in events for sta, t in ev.get("picks", {}).items()]
        truths = truths or list(record.truth["picks"].items())
        for sta, text in truths:
            tr = record.stream.select(id=record.pick_channels[sta])[0]
            t_true = obspy.UTCDateTime(text)
            onsets = auto_onsets(tr, s)
            near = min(onsets, key=lambda o: abs(o[0] - t_true), default=None)
            diff = None if near is None else near[0] - t_true
            worst = max(worst, abs(diff) if diff is not None else np.inf)
            shown = "none" if near is None else f"{near[0]} ({diff:+.3f} s, ratio {near[1]:.1f})"
            print(f"{name:11s} {sta:10s} truth {text}  auto {shown}")
            if plots is not None:
                plot_onset(tr, t_true, None if near is None else near[0], s,
                           plots / f"{name}_{sta}_{t_true.strftime('%H%M%S')}.png")
    print(f"largest |auto - truth|: {worst:.3f} s")
    return 0


def plot_onset(tr: obspy.Trace, t_true: obspy.UTCDateTime, t_auto: obspy.UTCDateTime | None,
               s: PickSettings, path: Path) -> None:
    """Plot an onset: raw trace (wide and close) and the AIC band (close), both picks marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    raw = tr.data.astype(np.float64) - float(np.mean(tr.data))
    band = tr.copy()
    band.data = raw.copy()
    low, high = s.aic_band
    if high is None:
        band.filter("highpass", freq=low, corners=2, zerophase=False)
    else:
        band.filter("bandpass", freqmin=low, freqmax=high, corners=2, zerophase=False)
    rel = tr.times(reftime=t_true)
    fig, axes = plt.subplots(3, 1, figsize=(11, 8))
    views = [(raw, 30.0, "raw"), (raw, 1.5, "raw"), (band.data, 1.5, f"causal {low}-{high} Hz")]
    for ax, (data, half, label) in zip(axes, views, strict=True):
        m = (rel > -half) & (rel < half)
        ax.plot(rel[m], data[m], "k.-" if half < 5 else "k-", lw=0.5, ms=2)
        ax.axvline(0.0, color="r", label="truth")
        if t_auto is not None:
            ax.axvline(t_auto - t_true, color="g", ls="--", label="auto")
        ax.set_title(f"{tr.id} {label}", fontsize=9)
    axes[-1].set_xlabel(f"s after {t_true}")
    axes[0].legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Regenerate the named folders (all if none), or audit the truth picks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"folders: {', '.join(RECORDS)}")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    parser.add_argument("--check-picks", action="store_true", help="audit the truth picks")
    parser.add_argument("--plots", type=Path, help="with --check-picks: write PNGs here")
    parser.add_argument("--kambarata", type=Path,
                        help="folder to copy as kambarata_2009 (default: ../shared/data/real/...)")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in RECORDS]
    if unknown:
        parser.error(f"unknown folder(s) {unknown}; choose from {list(RECORDS)}")
    names = args.names or list(RECORDS)
    if args.check_picks:
        return check_picks(names, args.plots)
    status = 0
    sizes = {}
    if not args.names:
        size = copy_kambarata(args.kambarata, args.out)
        if size is None:
            print("note: no kambarata_2009 source found; waveforms_real/kambarata_2009 left alone")
        else:
            sizes["kambarata_2009"] = size
    for name in names:
        sizes[name] = write_record(name, RECORDS[name](), args.out)
    for name, size in sizes.items():
        flag = "" if size < LIMIT_BYTES else "  (over the 1.5 MB limit)"
        status = status if size < LIMIT_BYTES else 1
        print(f"  {name:16s} {size / 1e6:6.3f} MB{flag}")
    return status


if __name__ == "__main__":
    sys.exit(main())
