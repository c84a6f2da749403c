"""What the console shows, kept up to date from the chain's results (no I/O here).

:class:`ConsoleState` is fed by the console's thread with what it drains from the
:class:`~eew.console.tap.ConsoleTap` and renders JSON-ready messages for the browser:

* ``stations``: per station its state (``ok``, ``triggered``, ``clipped``, ``set_aside``,
  ``dead``, ``nodata``), the latency of its newest packet and the age of that packet;
* ``alert``: one alert version as the native dict plus what people read (Roman MSK per
  target, the drill flag);
* ``traces``: the record section of the triggered stations (min/max per column over the
  last ``record_section_s``), normalised to ±100 per trace;
* ``snapshot``: everything at once, for a browser that connects.

Times sent to the browser are milliseconds since the epoch (JavaScript numbers).
A station is *set aside* when its latest trigger was rejected (the reason is shown), and
*clipped* when its latest pick or rejection says its samples were clipped.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eew.console.config import ConsoleConfig
from eew.model.alert import Alert
from eew.model.intensity import roman_intensity
from eew.model.packet import Packet
from eew.model.pick import Pick, RejectedTrigger

NS_PER_MS = 1_000_000
#: columns of the record section
TRACE_COLUMNS = 300
#: stations in the record section at most
TRACE_STATIONS = 16
#: alert versions kept in the log
ALERT_LOG = 200
#: statuses of an alert (``status`` key of a native alert, when it has one) that are not real
DRILL_STATUSES = ("exercise", "test", "drill", "system")


@dataclass(frozen=True, slots=True)
class StationInfo:
    """A station on the map."""

    station_id: str
    latitude_deg: float
    longitude_deg: float
    partner: bool = False


@dataclass(frozen=True, slots=True)
class TargetInfo:
    """A target site on the map."""

    name: str
    latitude_deg: float
    longitude_deg: float


def ms(time_ns: int | None) -> float | None:
    """Nanoseconds since the epoch -> milliseconds (None stays None)."""
    return None if time_ns is None else time_ns / NS_PER_MS


class _Station:
    __slots__ = (
        "bin_id",
        "bin_max",
        "bin_min",
        "clipped_ns",
        "info",
        "last_arrival_ns",
        "last_end_ns",
        "latency_s",
        "mean",
        "pick_ns",
        "rejected_ns",
        "rejected_reason",
        "trace_channel",
    )

    def __init__(self, info: StationInfo) -> None:
        self.info = info
        self.last_end_ns: int | None = None
        self.last_arrival_ns: int | None = None
        self.latency_s = math.nan
        self.pick_ns: int | None = None
        self.clipped_ns: int | None = None
        self.rejected_ns: int | None = None
        self.rejected_reason = ""
        self.trace_channel: str | None = None
        self.mean: float | None = None
        self.bin_id = np.full(TRACE_COLUMNS, -1, dtype=np.int64)
        self.bin_min = np.zeros(TRACE_COLUMNS, dtype=np.float64)
        self.bin_max = np.zeros(TRACE_COLUMNS, dtype=np.float64)


class ConsoleState:
    """The console's picture of the network and the alerts.

    Parameters
    ----------
    stations : sequence of StationInfo
        The stations of the inventory (ours and the partner's).
    targets : sequence of TargetInfo
        The target sites.
    cfg : ConsoleConfig
        Section ``[console]``.
    mode : str
        ``live`` (the daemon) or ``replay`` (a drill: every alert is marked so).
    """

    def __init__(
        self,
        stations: Sequence[StationInfo],
        targets: Sequence[TargetInfo],
        cfg: ConsoleConfig,
        mode: str = "live",
    ) -> None:
        self.cfg = cfg
        self.mode = mode
        self.stations: dict[str, _Station] = {s.station_id: _Station(s) for s in stations}
        self.targets = list(targets)
        self.alert_log: deque[dict[str, Any]] = deque(maxlen=ALERT_LOG)
        self.latest: dict[str, dict[str, Any]] = {}  # event key -> newest alert message
        self.bin_ns = round(cfg.record_section_s * 1e9 / TRACE_COLUMNS)
        self.packets = 0
        self.unknown_stations = 0

    # ---- input -------------------------------------------------------------------------------
    def apply_packets(self, packets: Iterable[Packet]) -> None:
        """Latency, age and trace columns from packets (console thread)."""
        for p in packets:
            self.packets += 1
            sid = p.channel_id.rsplit(".", 2)[0]
            st = self.stations.get(sid)
            if st is None:
                st = self._add_unknown(sid)
            end = p.endtime_ns
            if st.last_end_ns is None or end >= st.last_end_ns:
                st.last_end_ns = end
                st.last_arrival_ns = p.available_ns
                st.latency_s = (p.available_ns - end) / 1e9
            if st.trace_channel is None and p.channel_id.endswith("Z") and not p.calibration:
                st.trace_channel = p.channel_id
            if p.channel_id == st.trace_channel and p.n_samples:
                self._bin(st, p)

    def _add_unknown(self, sid: str) -> _Station:
        # a station outside the inventory: listed, never on the map (no position)
        self.unknown_stations += 1
        st = _Station(StationInfo(sid, math.nan, math.nan))
        self.stations[sid] = st
        return st

    def _bin(self, st: _Station, p: Packet) -> None:
        x = np.asarray(p.data, dtype=np.float64)
        m = float(x.mean())
        st.mean = m if st.mean is None else 0.8 * st.mean + 0.2 * m
        x = x - st.mean
        period_ns = 1e9 / p.sampling_rate_hz
        t = p.starttime_ns + np.arange(x.size) * period_ns
        ids = (t // self.bin_ns).astype(np.int64)
        uniq, first = np.unique(ids, return_index=True)
        lo = np.minimum.reduceat(x, first)
        hi = np.maximum.reduceat(x, first)
        slots = uniq % TRACE_COLUMNS
        same = st.bin_id[slots] == uniq
        st.bin_min[slots] = np.where(same, np.minimum(st.bin_min[slots], lo), lo)
        st.bin_max[slots] = np.where(same, np.maximum(st.bin_max[slots], hi), hi)
        st.bin_id[slots] = uniq

    def apply_results(self, values: Iterable[object]) -> None:
        """Picks and rejected triggers (console thread)."""
        for v in values:
            if isinstance(v, Pick):
                st = self.stations.get(v.channel_id.rsplit(".", 2)[0])
                if st is None or v.retracted:
                    continue
                if st.pick_ns is None or v.time_ns > st.pick_ns + 10 * 10**9:
                    st.pick_ns = v.time_ns
                if v.clipped:
                    st.clipped_ns = v.sent_time_ns
            elif isinstance(v, RejectedTrigger):
                st = self.stations.get(v.channel_id.rsplit(".", 2)[0])
                if st is None:
                    continue
                if v.reason == "clipped":
                    st.clipped_ns = v.sent_time_ns
                st.rejected_ns = v.sent_time_ns
                st.rejected_reason = v.reason

    def apply_alert(self, alert: Alert, received_ns: int) -> dict[str, Any]:
        """Record one alert version; return its ``alert`` message for the browser."""
        d = alert.to_dict()
        status = str(d.get("status", "actual"))
        drill = self.mode == "replay" or status in DRILL_STATUSES or bool(d.get("drill", False))
        targets = sorted(
            (
                {
                    "name": t.name,
                    "latitude_deg": _num(t.latitude_deg),
                    "longitude_deg": _num(t.longitude_deg),
                    "distance_km": _num(t.distance_km),
                    "intensity_msk": _num(t.intensity_msk),
                    "roman": roman_intensity(t.intensity_msk),
                    "pga_cm_s2": _num(t.pga_cm_s2),
                    "s_arrival_ms": ms(t.s_arrival_time_ns),
                    "warning_time_s": _num(t.warning_time_s),
                }
                for t in alert.targets
            ),
            key=lambda t: t["distance_km"] if t["distance_km"] is not None else math.inf,
        )
        max_msk = max((t.intensity_msk for t in alert.targets), default=math.nan)
        msg: dict[str, Any] = {
            "type": "alert",
            "key": f"{alert.agency}/{alert.event_id}",
            "event_id": alert.event_id,
            "agency": alert.agency,
            "version": alert.version,
            "message_type": alert.message_type,
            "kind": alert.kind,
            "status": status,
            "drill": drill,
            "sent_ms": ms(alert.sent_time_ns),
            "received_ms": ms(received_ns),
            "origin_ms": ms(alert.origin_time_ns),
            "latitude_deg": _num(alert.latitude_deg),
            "longitude_deg": _num(alert.longitude_deg),
            "horizontal_sigma_km": _num(alert.horizontal_sigma_km),
            "depth_km": _num(alert.depth_km),
            "magnitude": _num(alert.magnitude),
            "magnitude_sigma": _num(alert.magnitude_sigma),
            "magnitude_type": alert.magnitude_type,
            "magnitude_is_lower_bound": alert.magnitude_is_lower_bound,
            "likelihood": _num(alert.likelihood),
            "n_stations": len(alert.stations),
            "stations": list(alert.stations),
            "max_roman": roman_intensity(max_msk),
            "max_intensity_msk": _num(max_msk),
            "targets": targets,
        }
        self.alert_log.append({k: v for k, v in msg.items() if k not in ("targets", "stations")})
        self.latest[msg["key"]] = msg
        return msg

    # ---- output ------------------------------------------------------------------------------
    def station_states(self, now_ns: int) -> list[dict[str, Any]]:
        """Per station: state, latency [s] and age of the newest packet [s]."""
        c = self.cfg
        out = []
        for st in self.stations.values():
            age = None if st.last_end_ns is None else (now_ns - st.last_end_ns) / 1e9
            if st.last_end_ns is None:
                state = "nodata"
            elif age is not None and age > c.station_live_s:
                state = "dead"
            elif _recent(st.clipped_ns, now_ns, c.triggered_s):
                state = "clipped"
            elif _recent(st.pick_ns, now_ns, c.triggered_s):
                state = "triggered"
            elif _recent(st.rejected_ns, now_ns, c.triggered_s):
                state = "set_aside"
            else:
                state = "ok"
            out.append(
                {
                    "id": st.info.station_id,
                    "state": state,
                    "latency_s": _num(st.latency_s, 2),
                    "age_s": None if age is None else round(age, 1),
                    "pick_ms": ms(st.pick_ns),
                    "reason": st.rejected_reason if state == "set_aside" else "",
                }
            )
        return out

    def traces(self, now_ns: int) -> dict[str, Any]:
        """The record section: triggered stations' last ``record_section_s``, ±100 each."""
        start = now_ns - round(self.cfg.record_section_s * 1e9)
        picked = [
            st
            for st in self.stations.values()
            if st.pick_ns is not None and st.pick_ns >= start and st.trace_channel is not None
        ]
        picked.sort(key=lambda st: st.pick_ns or 0)
        last = now_ns // self.bin_ns
        ids = np.arange(last - TRACE_COLUMNS + 1, last + 1, dtype=np.int64)
        slots = ids % TRACE_COLUMNS
        traces = []
        for st in picked[:TRACE_STATIONS]:
            valid = st.bin_id[slots] == ids
            lo, hi = st.bin_min[slots], st.bin_max[slots]
            peak = float(np.max(np.abs(np.concatenate([lo[valid], hi[valid]])), initial=0.0))
            scale = 100.0 / peak if peak > 0 else 0.0
            traces.append(
                {
                    "id": st.info.station_id,
                    "channel": st.trace_channel,
                    "pick_ms": ms(st.pick_ns),
                    "peak_counts": round(peak),
                    "min": _scaled(lo, valid, scale),
                    "max": _scaled(hi, valid, scale),
                }
            )
        return {
            "type": "traces",
            "start_ms": ms(int(ids[0]) * self.bin_ns),
            "column_ms": self.bin_ns / NS_PER_MS,
            "traces": traces,
        }

    def snapshot(self, now_ns: int) -> dict[str, Any]:
        """Everything, for a browser that (re)connects."""
        return {
            "type": "snapshot",
            "mode": self.mode,
            "now_ms": ms(now_ns),
            "stations": [
                {
                    "id": st.info.station_id,
                    "latitude_deg": _num(st.info.latitude_deg),
                    "longitude_deg": _num(st.info.longitude_deg),
                    "partner": st.info.partner,
                }
                for st in self.stations.values()
            ],
            "targets": [
                {"name": t.name, "latitude_deg": t.latitude_deg, "longitude_deg": t.longitude_deg}
                for t in self.targets
            ],
            "alert_log": list(self.alert_log),
            "latest": list(self.latest.values()),
            "station_states": self.station_states(now_ns),
            "record_section_s": self.cfg.record_section_s,
        }


def _scaled(values: np.ndarray, valid: np.ndarray, scale: float) -> list[int | None]:
    return [round(v * scale) if ok else None for v, ok in zip(values, valid, strict=True)]


def _recent(t_ns: int | None, now_ns: int, window_s: float) -> bool:
    return t_ns is not None and now_ns - t_ns <= window_s * 1e9


def _num(value: float, digits: int = 3) -> float | None:
    """Round for JSON; NaN and infinities become null."""
    return round(value, digits) if math.isfinite(value) else None
