"""One channel epoch as the pipeline needs it: :class:`ChannelInfo`, its units and epochs.

The value type of :mod:`eew.inventory`; it knows nothing of files or ObsPy.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from eew.errors import InventoryError
from eew.model.timeutil import ns_to_iso

__all__ = ["COUNT_UNITS", "ChannelInfo", "format_epoch", "normalise_input_units"]

#: Normalised input unit -> kind of ground motion the channel records.
_KIND_BY_UNITS: Mapping[str, str] = MappingProxyType(
    {"M": "displacement", "M/S": "velocity", "M/S**2": "acceleration"}
)

#: Output units accepted for an overall sensitivity in counts per input unit.
COUNT_UNITS = frozenset({"COUNTS", "COUNT", "DIGITAL COUNTS", "DU"})


def normalise_input_units(units: str) -> str:
    """Normalise a StationXML input unit to ``"M"``, ``"M/S"`` or ``"M/S**2"``.

    Case, blanks, parentheses, ``SEC`` for ``S`` and the spellings ``**2``, ``^2``, ``2`` and
    ``/S/S`` of the square are accepted: ``"m/s"``, ``"M/S"``, ``"m/sec"``, ``"m/s**2"``,
    ``"M/S^2"``, ``"m/s2"``, ``"m/(s**2)"``, ``"m/s/s"``.

    Parameters
    ----------
    units : str
        Unit name as written in the file (``InputUnits/Name``).

    Returns
    -------
    str
        ``"M"`` (displacement), ``"M/S"`` (velocity) or ``"M/S**2"`` (acceleration).

    Raises
    ------
    InventoryError
        If the unit is none of these (for example ``"NM/S"``, ``"PA"`` or ``"V"``).
    """
    text = re.sub(r"[\s()]", "", units.upper())
    text = text.replace("SEC", "S").replace("^", "**")
    text = re.sub(r"/S/S$", "/S**2", text)
    text = re.sub(r"/S2$", "/S**2", text)
    if text not in _KIND_BY_UNITS:
        raise InventoryError(
            f"unknown input unit {units!r}: expected displacement (M), velocity (M/S) "
            "or acceleration (M/S**2)"
        )
    return text


def _format_ns(time_ns: int | None) -> str:
    """Format an epoch bound for messages.

    Parameters
    ----------
    time_ns : int or None
        Time [ns since 1970-01-01 UTC], or None for an open bound.

    Returns
    -------
    str
        ISO 8601 time, or ``"open"``.
    """
    return "open" if time_ns is None else ns_to_iso(time_ns, 6)


def format_epoch(start_ns: int | None, end_ns: int | None) -> str:
    """Format a channel epoch ``[start, end)`` for messages.

    Parameters
    ----------
    start_ns, end_ns : int or None
        Epoch bounds [ns since 1970-01-01 UTC], None for open.

    Returns
    -------
    str
        ``"epoch <start> - <end>"``.
    """
    return f"epoch {_format_ns(start_ns)} - {_format_ns(end_ns)}"


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """Metadata of one channel epoch, as the pipeline needs them.

    Attributes
    ----------
    channel_id : str
        SEED identifier ``"NET.STA.LOC.CHA"`` (the location code may be empty).
    network, station, location, channel : str
        The four parts of ``channel_id``.
    latitude_deg, longitude_deg : float
        Sensor position, WGS84 [deg].
    elevation_m : float
        Ground elevation at the sensor above sea level [m].
    depth_m : float
        Sensor burial depth below ground [m].
    sampling_rate_hz : float
        Nominal sample rate [Hz].
    sensitivity : float
        Overall instrument sensitivity [counts per input unit], e.g. counts/(m/s).
    sensitivity_frequency_hz : float
        Frequency at which ``sensitivity`` holds [Hz].
    input_units : str
        Normalised input unit: ``"M"``, ``"M/S"`` or ``"M/S**2"``.
    azimuth_deg : float
        Sensor component azimuth, clockwise from north [deg].
    dip_deg : float
        Sensor component dip, down from horizontal [deg] (-90 is up).
    start_ns, end_ns : int or None
        Epoch ``[start_ns, end_ns)`` [ns since 1970-01-01 UTC]; None means open.

    Raises
    ------
    InventoryError
        On construction, if the fields are inconsistent (id not matching its parts, unknown
        unit, non-positive sample rate or sensitivity, coordinates out of range, epoch end not
        after its start).
    """

    channel_id: str
    network: str
    station: str
    location: str
    channel: str
    latitude_deg: float
    longitude_deg: float
    elevation_m: float
    depth_m: float
    sampling_rate_hz: float
    sensitivity: float
    sensitivity_frequency_hz: float
    input_units: str
    azimuth_deg: float
    dip_deg: float
    start_ns: int | None
    end_ns: int | None

    def __post_init__(self) -> None:
        problems = []
        expected_id = f"{self.network}.{self.station}.{self.location}.{self.channel}"
        if self.channel_id != expected_id:
            problems.append(f"id does not match its parts {expected_id!r}")
        if not self.channel:
            problems.append("empty channel code")
        if self.input_units not in _KIND_BY_UNITS:
            problems.append(f"input unit {self.input_units!r} is not normalised")
        if not (math.isfinite(self.sampling_rate_hz) and self.sampling_rate_hz > 0.0):
            problems.append(f"sample rate {self.sampling_rate_hz!r} Hz is not positive")
        if not (math.isfinite(self.sensitivity) and self.sensitivity > 0.0):
            problems.append(f"sensitivity {self.sensitivity!r} is not positive")
        if not (
            math.isfinite(self.sensitivity_frequency_hz) and self.sensitivity_frequency_hz >= 0.0
        ):
            problems.append(
                f"sensitivity frequency {self.sensitivity_frequency_hz!r} Hz is invalid"
            )
        if not -90.0 <= self.latitude_deg <= 90.0:
            problems.append(f"latitude {self.latitude_deg!r} deg out of range")
        if not -180.0 <= self.longitude_deg <= 360.0:
            problems.append(f"longitude {self.longitude_deg!r} deg out of range")
        if self.start_ns is not None and self.end_ns is not None and self.end_ns <= self.start_ns:
            problems.append(f"{format_epoch(self.start_ns, self.end_ns)} ends before it starts")
        if problems:
            raise InventoryError(f"channel {self.channel_id}: " + "; ".join(problems))

    @property
    def kind(self) -> str:
        """Ground-motion kind: ``"displacement"``, ``"velocity"`` or ``"acceleration"``."""
        return _KIND_BY_UNITS[self.input_units]

    @property
    def station_id(self) -> str:
        """Station identifier ``"NET.STA"``."""
        return f"{self.network}.{self.station}"

    @property
    def component(self) -> str:
        """Component letter: the last letter of the channel code, e.g. ``"Z"``."""
        return self.channel[-1]

    def covers(self, time_ns: int) -> bool:
        """Tell whether the epoch contains a time.

        Parameters
        ----------
        time_ns : int
            Time [ns since 1970-01-01 UTC].

        Returns
        -------
        bool
            True if ``start_ns <= time_ns < end_ns`` (open bounds always hold).
        """
        return (self.start_ns is None or self.start_ns <= time_ns) and (
            self.end_ns is None or time_ns < self.end_ns
        )
