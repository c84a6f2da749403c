"""Values emitted by the detection stage: picks and rejected triggers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from eew.model.timeutil import ns_to_iso

#: the float fields of a pick message (their units are in the names)
PICK_FLOAT_FIELDS = (
    "window_s",
    "pd_cm",
    "pv_cm_s",
    "pa_cm_s2",
    "tau_c_s",
    "tau_p_max_s",
    "snr",
    "latitude_deg",
    "longitude_deg",
    "elevation_m",
)


@dataclass(frozen=True, slots=True)
class Pick:
    """A P-wave pick with its early-P parameters on a growing window.

    The same pick is emitted several times: ``update`` 0 as soon as the onset is
    refined and the rejection tests pass, then once per ``update_interval_s``
    with a longer ``window_s``, the last one with ``final`` set.

    Amplitudes are in cm units (Pd cm, Pv cm/s, Pa cm/s²), as in the EEW
    literature; NaN means "not measurable yet".
    """

    pick_id: str
    channel_id: str
    time_ns: int
    trigger_time_ns: int
    sent_time_ns: int
    update: int
    final: bool
    window_s: float
    pd_cm: float
    pv_cm_s: float
    pa_cm_s2: float
    tau_c_s: float
    tau_p_max_s: float
    snr: float
    sensor: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    clipped: bool = False
    retracted: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Flat, unit-suffixed JSON-ready dict with ``type: "pick"`` and ISO times."""
        d = asdict(self)
        net, sta, loc, cha = self.channel_id.split(".")
        out: dict[str, Any] = {
            "type": "pick",
            "pick_id": self.pick_id,
            "channel_id": self.channel_id,
            "network": net,
            "station": sta,
            "location": loc,
            "channel": cha,
            "time": ns_to_iso(self.time_ns),
            "trigger_time": ns_to_iso(self.trigger_time_ns),
            "sent_time": ns_to_iso(self.sent_time_ns),
        }
        for key in ("update", "final", *PICK_FLOAT_FIELDS, "sensor", "clipped", "retracted"):
            out[key] = _json_number(d[key])
        return out


@dataclass(frozen=True, slots=True)
class RejectedTrigger:
    """A trigger that failed a test; logged, counted and (optionally) written out."""

    channel_id: str
    trigger_time_ns: int
    sent_time_ns: int
    reason: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with ``type: "rejected_trigger"``."""
        return {
            "type": "rejected_trigger",
            "channel_id": self.channel_id,
            "trigger_time": ns_to_iso(self.trigger_time_ns),
            "sent_time": ns_to_iso(self.sent_time_ns),
            "reason": self.reason,
            "detail": self.detail,
        }


def _json_number(value: Any) -> Any:
    """NaN and infinities are not JSON: render them as null."""
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, float):
        return float(f"{value:.7g}")  # 7 significant digits, whatever the magnitude
    return value
