"""Per-station pick bookkeeping for the event core.

Several channels of one station (broadband HH?, accelerometer HN?) pick the same
onset. :class:`StationPick` merges them: the earliest onset is the station's arrival,
and the amplitudes come from the broadband channel unless it clipped, else from the
accelerometer (scvsmag and PRESTo do the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eew.model.pick import Pick

SAME_ONSET_S = 0.5


@dataclass
class StationPick:
    """All channel picks of one onset at one station."""

    station_id: str
    time_ns: int
    latitude_deg: float
    longitude_deg: float
    #: pick_id -> list of that pick's messages (update 0, 1, ...)
    channels: dict[str, list[Pick]] = field(default_factory=dict)
    first_sent_ns: int = 0
    #: True for an S (or later) phase of a known event, or a pick absorbed by a teleseism
    secondary: bool = False

    def add(self, pick: Pick) -> None:
        """Record one pick message."""
        self.channels.setdefault(pick.pick_id, []).append(pick)
        if pick.time_ns < self.time_ns:
            self.time_ns = pick.time_ns

    def matches(self, pick: Pick) -> bool:
        """True if ``pick`` is another channel's view of this onset."""
        return (
            pick.pick_id in self.channels or abs(pick.time_ns - self.time_ns) <= SAME_ONSET_S * 1e9
        )

    def best_messages(self) -> list[Pick]:
        """The messages of the preferred channel: unclipped velocity, then acceleration."""

        def rank(msgs: list[Pick]) -> tuple[int, int]:
            last = msgs[-1]
            return (1 if last.clipped else 0, 0 if last.sensor == "velocity" else 1)

        return min(self.channels.values(), key=rank)

    def latest(self, max_end_ns: int | None = None) -> Pick | None:
        """The preferred channel's latest message whose window ends before ``max_end_ns``."""
        msgs = self.best_messages()
        usable = [m for m in msgs if not m.retracted]
        if max_end_ns is not None:
            limited = [m for m in usable if m.time_ns + m.window_s * 1e9 <= max_end_ns]
            usable = limited or usable[:1]
        return usable[-1] if usable else None

    def peak_acceleration_cm_s2(self) -> float:
        """Largest observed P-window acceleration on any unclipped channel [cm/s²]."""
        vals = [
            m.pa_cm_s2
            for msgs in self.channels.values()
            for m in msgs
            if not m.clipped and m.pa_cm_s2 == m.pa_cm_s2
        ]
        return max(vals, default=0.0)

    @property
    def retracted(self) -> bool:
        """True if every channel retracted its pick."""
        return all(msgs[-1].retracted for msgs in self.channels.values())
