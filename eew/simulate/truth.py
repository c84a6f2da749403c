"""``truth.json``: what was simulated, in a form tests and users can compare against.

Times are ISO 8601 UTC with milliseconds. Per event and station: first P and S arrival
times (true UTC, including the random station delay; add the station's ``clock_offset_s``
for the time stamped in the data), distances, targets of the empirical relations and the
peak ground motion actually in the synthetic traces (noise-free, unclipped contribution
of that event: PGA, PGV, PGD of the larger horizontal, Pd of the first 3 s on Z) with the
observed MSK-64 and MMI intensity it implies. Per event: the moment magnitude released so
far every 0.5 s (``moment_release``) and, per target site, the first S arrival from any
part of the rupture and the observed intensity (``targets``).
"""

from __future__ import annotations

import math
from typing import Any

from obspy import UTCDateTime

from eew import __version__
from eew.simulate import relations, source
from eew.simulate.engine import Simulation
from eew.simulate.velocity import MODEL_NAME

SCHEMA = "eew-simulate-truth/1"


def iso_ms(t: UTCDateTime) -> str:
    """Format a time as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    t = UTCDateTime(round(float(t.timestamp), 3))
    text: str = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return text


def _r(x: float | None, nd: int = 4) -> float | None:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return None
    return float(f"{x:.{nd}g}") if abs(x) < 1e-3 else round(float(x), nd)


def _source_dict(info: dict[str, Any]) -> dict[str, Any]:
    src = info["source"]
    out: dict[str, Any] = {
        "id": src.id,
        "kind": src.kind,
        "origin_time": iso_ms(src.origin_time),
        "latitude_deg": src.latitude_deg,
        "longitude_deg": src.longitude_deg,
        "depth_km": src.depth_km,
        "magnitude": src.magnitude,
        "moment_n_m": source.moment_dyne_cm(src.magnitude) * 1e-7,
        "stress_drop_bar": src.stress_drop_bar,
        "corner_frequency_hz": _r(source.corner_frequency_hz(src.magnitude, src.stress_drop_bar)),
        "inter_event_epsilon": _r(info["inter_event_epsilon"]),
    }
    if src.expect_public_alert is not None:
        out["expect_public_alert"] = src.expect_public_alert
    subs = info["subevents"]
    if src.strike_deg is not None and subs:
        out["line_source"] = {
            "strike_deg": src.strike_deg,
            "length_km": src.length_km,
            "nucleation_fraction": src.nucleation_fraction,
            "rupture_velocity_km_s": src.rupture_velocity_km_s,
            "rupture_duration_s": _r(max(s.delay_s for s in subs)),
            "subevent_magnitude": _r(subs[0].magnitude),
            "subevent_corner_frequency_hz": _r(subs[0].fc_hz),
            "subevents": [
                [round(s.latitude_deg, 4), round(s.longitude_deg, 4), round(s.delay_s, 3)]
                for s in subs
            ],
        }
        if src.width_km is not None:
            out["line_source"].update(
                {
                    "width_km": src.width_km,
                    "dip_deg": src.dip_deg,
                    "nucleation_dip_fraction": src.nucleation_dip_fraction,
                    "subevent_depths_km": [round(float(s.depth_km), 2) for s in subs],
                }
            )
    if info.get("moment_release"):
        out["moment_release"] = {
            "step_s": source.MOMENT_STEP_S,
            "note": "Mw of the moment released so far, seconds after origin",
            "mw": [[t, m] for t, m in info["moment_release"]],
        }
    if info.get("targets") is not None:
        origin = src.origin_time
        out["targets"] = [_target_row(origin, row) for row in info["targets"]]
    pw = info["plane_wave"]
    if pw is not None:
        out["plane_wave"] = {
            "distance_deg": _r(pw.distance_deg),
            "back_azimuth_deg": _r(pw.back_azimuth_deg),
            "p_slowness_s_km": _r(pw.p_slowness_s_km),
            "s_slowness_s_km": _r(pw.s_slowness_s_km),
            "velocity_model": "iasp91",
        }
    return out


def _target_row(origin: UTCDateTime, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": row["name"],
        "s_time": iso_ms(origin + row["s_offset_s"]),
        "s_after_origin_s": _r(row["s_offset_s"]),
        "s_hypocentre_after_origin_s": _r(row["s_hypocentre_offset_s"]),
    }
    for key, value in row.items():
        if key not in out and key not in ("s_offset_s", "s_hypocentre_offset_s"):
            out[key] = value if isinstance(value, (str, bool)) else _r(value)
    return out


def build_truth(sim: Simulation) -> dict[str, Any]:
    """Assemble the ``truth.json`` document of a simulation."""
    scn = sim.scenario
    t0 = scn.start_time
    offsets: dict[str, float] = {}
    for ch in sim.channels:
        offsets[ch.channel.station_id] = ch.time_offset_s
    events = []
    for k, info in enumerate(sim.sources):
        arrivals = []
        for res in sim.stations:
            arr = res.arrivals[k]
            row: dict[str, Any] = {
                "station_id": res.station.station_id,
                "p_time": iso_ms(t0 + arr["p_offset_s"]),
                "s_time": iso_ms(t0 + arr["s_offset_s"]) if arr["s_offset_s"] is not None else None,
                "p_phase": arr["p_phase"],
                "s_phase": arr["s_phase"],
            }
            for key in (
                "epicentral_distance_km",
                "hypocentral_distance_km",
                "joyner_boore_distance_km",
                "back_azimuth_deg",
                "pd_target_cm",
                "pga_target_cm_s2",
                "pd_cm",
                "pga_cm_s2",
                "pga_geomean_cm_s2",
                "pga_z_cm_s2",
                "pgv_cm_s",
                "pgd_cm",
            ):
                row[key] = _r(arr[key])
            row["calibration"] = arr["calibration"]
            row.update(relations.observed_intensity(arr["pga_cm_s2"], arr["pgv_cm_s"]))
            arrivals.append(row)
        events.append({**_source_dict(info), "arrivals": arrivals})
    stations = []
    for res in sim.stations:
        st, site = res.station, res.site
        stations.append(
            {
                "station_id": st.station_id,
                "latitude_deg": st.latitude_deg,
                "longitude_deg": st.longitude_deg,
                "elevation_m": st.elevation_m,
                "city_site": site.city,
                "vs30_m_s": site.vs30_m_s,
                "kappa_s": site.kappa_s,
                "noise_level": _r(res.noise_level),
                "station_delay_p_s": _r(site.delay_p_s),
                "station_delay_s_s": _r(site.delay_s_s),
                "clock_offset_s": offsets.get(st.station_id, 0.0),
                "peak_ground_motion": {
                    **{k: _r(v) for k, v in res.peaks.items()},
                    **relations.observed_intensity(res.peaks["pga_cm_s2"], res.peaks["pgv_cm_s"]),
                },
            }
        )
    channels = []
    for ch in sim.channels:
        fs = ch.sampling_rate_hz
        channels.append(
            {
                "channel_id": ch.channel.channel_id,
                "file": f"{ch.channel.channel_id}.mseed",
                "kind": ch.channel.kind,
                "sampling_rate_hz": fs,
                "sensitivity": ch.channel.sensitivity,
                "clipped_samples": ch.clipped_samples,
                "time_offset_s": ch.time_offset_s,
                "segments": [[iso_ms(t0 + a / fs), iso_ms(t0 + b / fs)] for a, b in ch.segments],
                "calibration": [
                    [iso_ms(t0 + a / fs), iso_ms(t0 + b / fs)] for a, b in ch.calibration
                ],
                "disturbances": ch.disturbances,
            }
        )
    return {
        "schema": SCHEMA,
        "generator": f"eew {__version__}",
        "scenario": scn.name,
        "description": scn.description,
        "seed": scn.seed,
        "start_time": iso_ms(t0),
        "end_time": iso_ms(t0 + scn.length_s),
        "velocity_model": MODEL_NAME,
        "events": events,
        "stations": stations,
        "channels": channels,
    }
