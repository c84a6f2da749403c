"""Station metadata: per-channel coordinates, sample rate, sensitivity and input unit.

StationXML files are read once, with :func:`obspy.read_inventory`, into flat, immutable
:class:`ChannelInfo` records (one per channel epoch) collected in an :class:`Inventory`.
The rest of the pipeline only sees these records, never ObsPy objects.

Everything that makes a channel unusable for the pipeline is an error at load time, not a
silent default: a missing sensitivity, sample rate, frequency or orientation, an input unit
other than displacement, velocity or acceleration in metres, an unreadable file, or two
files that disagree about the same channel epoch. Every message names the file and the
channel.

Epochs are half-open intervals ``[start_ns, end_ns)`` in integer nanoseconds since
1970-01-01 UTC; ``None`` means open (no start or no end). The epochs of one channel must not
overlap, so that :meth:`Inventory.get` is unambiguous.

Examples
--------
>>> from eew.inventory import load_inventory
>>> inventory = load_inventory(["stations/almaty_aews.xml"])  # doctest: +SKIP
>>> inventory.get("AW.ALMY..HHZ").sensitivity  # doctest: +SKIP
629145600.0
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from eew.errors import InventoryError
from eew.model.timeutil import ns_to_iso

__all__ = ["ChannelInfo", "Inventory", "load_inventory", "normalise_input_units"]

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


def _start_key(info: ChannelInfo) -> float:
    """Sort key of an epoch: its start, an open start first.

    Parameters
    ----------
    info : ChannelInfo
        Channel epoch.

    Returns
    -------
    float
        ``start_ns`` [ns], or ``-inf`` for an open start.
    """
    return -math.inf if info.start_ns is None else info.start_ns


def _index(
    records: Iterable[tuple[ChannelInfo, str | None]],
) -> dict[str, tuple[ChannelInfo, ...]]:
    """Group channel epochs by id, drop identical duplicates, reject conflicts.

    Parameters
    ----------
    records : iterable of (ChannelInfo, str or None)
        Channel epochs with the file each came from (None when not from a file).

    Returns
    -------
    dict of str to tuple of ChannelInfo
        Channel id -> its epochs sorted by start, ids in sorted order.

    Raises
    ------
    InventoryError
        If the same channel epoch occurs twice with different metadata, or two epochs of a
        channel overlap. The message names the channel, the epochs and the files.
    """
    by_id: dict[str, dict[tuple[int | None, int | None], tuple[ChannelInfo, str | None]]] = {}
    for info, source in records:
        epochs = by_id.setdefault(info.channel_id, {})
        key = (info.start_ns, info.end_ns)
        previous = epochs.get(key)
        if previous is None:
            epochs[key] = (info, source)
        elif previous[0] != info:
            raise InventoryError(
                f"channel {info.channel_id} {format_epoch(*key)} is defined twice with "
                f"different metadata: {_where(previous[1])} and {_where(source)}"
            )
    index: dict[str, tuple[ChannelInfo, ...]] = {}
    for channel_id in sorted(by_id):
        entries = sorted(by_id[channel_id].values(), key=lambda entry: _start_key(entry[0]))
        for (first, first_source), (second, second_source) in itertools.pairwise(entries):
            if first.end_ns is None or second.start_ns is None or first.end_ns > second.start_ns:
                raise InventoryError(
                    f"channel {channel_id}: overlapping epochs, "
                    f"{format_epoch(first.start_ns, first.end_ns)} {_where(first_source)} and "
                    f"{format_epoch(second.start_ns, second.end_ns)} {_where(second_source)}"
                )
        index[channel_id] = tuple(entry[0] for entry in entries)
    return index


def _where(source: str | None) -> str:
    """Describe where a record came from, for messages.

    Parameters
    ----------
    source : str or None
        File name, or None for records passed to :class:`Inventory` directly.

    Returns
    -------
    str
        ``"in <file>"`` or ``"in the records given"``.
    """
    return "in the records given" if source is None else f"in {source}"


class Inventory:
    """Immutable, mapping-like collection of channel epochs keyed by channel id.

    Parameters
    ----------
    channels : iterable of ChannelInfo
        Channel epochs in any order. Identical duplicates are kept once.

    Raises
    ------
    InventoryError
        If the same channel epoch is given twice with different metadata, or two epochs of a
        channel overlap.

    Notes
    -----
    Iteration yields the channel ids in sorted order; ``inventory[channel_id]`` is the latest
    epoch (a ``KeyError`` if the id is unknown), :meth:`get` the epoch covering a time.
    """

    __slots__ = ("_epochs",)

    _epochs: Mapping[str, tuple[ChannelInfo, ...]]

    def __init__(self, channels: Iterable[ChannelInfo]) -> None:
        self._set_index(_index((info, None) for info in channels))

    def _set_index(self, index: dict[str, tuple[ChannelInfo, ...]]) -> None:
        object.__setattr__(self, "_epochs", MappingProxyType(index))

    @classmethod
    def _from_index(cls, index: dict[str, tuple[ChannelInfo, ...]]) -> Inventory:
        inventory = cls.__new__(cls)
        inventory._set_index(index)
        return inventory

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def get(self, channel_id: str, time_ns: int | None = None) -> ChannelInfo | None:
        """Return the epoch of a channel covering a time.

        Parameters
        ----------
        channel_id : str
            ``"NET.STA.LOC.CHA"``.
        time_ns : int, optional
            Time [ns since 1970-01-01 UTC]. If None, the latest epoch (latest start) is
            returned, whether or not it is still open.

        Returns
        -------
        ChannelInfo or None
            The epoch with ``start_ns <= time_ns < end_ns``; None if the channel is unknown
            or no epoch covers the time.
        """
        epochs = self._epochs.get(channel_id)
        if not epochs:
            return None
        if time_ns is None:
            return epochs[-1]
        for info in epochs:
            if info.covers(time_ns):
                return info
        return None

    def epochs(self, channel_id: str) -> tuple[ChannelInfo, ...]:
        """Return all epochs of a channel.

        Parameters
        ----------
        channel_id : str
            ``"NET.STA.LOC.CHA"``.

        Returns
        -------
        tuple of ChannelInfo
            Epochs sorted by start; empty if the channel is unknown.
        """
        return self._epochs.get(channel_id, ())

    def __getitem__(self, channel_id: str) -> ChannelInfo:
        epochs = self._epochs[channel_id]
        return epochs[-1]

    def __contains__(self, channel_id: object) -> bool:
        return channel_id in self._epochs

    def __iter__(self) -> Iterator[str]:
        return iter(self._epochs)

    def __len__(self) -> int:
        return len(self._epochs)

    def __repr__(self) -> str:
        n_epochs = sum(len(epochs) for epochs in self._epochs.values())
        return (
            f"<Inventory: {len(self.stations())} stations, {len(self)} channels, {n_epochs} epochs>"
        )

    def channel_ids(self) -> list[str]:
        """Return the distinct channel ids.

        Returns
        -------
        list of str
            ``"NET.STA.LOC.CHA"`` ids, sorted.
        """
        return list(self._epochs)

    def stations(self) -> dict[str, tuple[float, float, float]]:
        """Return the position of every station.

        A station's position is that of the latest epoch of its first channel id in sorted
        order (the channels of one station normally share it).

        Returns
        -------
        dict of str to (float, float, float)
            ``"NET.STA"`` -> (latitude [deg], longitude [deg], elevation [m]), sorted by id.
        """
        positions: dict[str, tuple[float, float, float]] = {}
        for epochs in self._epochs.values():
            info = epochs[-1]
            if info.station_id not in positions:
                positions[info.station_id] = (
                    info.latitude_deg,
                    info.longitude_deg,
                    info.elevation_m,
                )
        return dict(sorted(positions.items()))

    def merged(self, other: Inventory) -> Inventory:
        """Return the union of this inventory and another.

        Parameters
        ----------
        other : Inventory
            Inventory to add.

        Returns
        -------
        Inventory
            A new inventory with the epochs of both; identical epochs are kept once.

        Raises
        ------
        InventoryError
            If the two disagree about a channel epoch or have overlapping epochs.
        """
        return Inventory(
            info
            for inventory in (self, other)
            for epochs in inventory._epochs.values()
            for info in epochs
        )


def load_inventory(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> Inventory:
    """Load station files into one :class:`Inventory`.

    Parameters
    ----------
    paths : sequence of path-like, or one path-like
        StationXML files, read with :func:`obspy.read_inventory`. A single path is accepted
        as a one-element sequence.

    Returns
    -------
    Inventory
        Every channel epoch of every file. An epoch found identically in several files is
        kept once.

    Raises
    ------
    InventoryError
        If a file is missing or unreadable or holds no channels; if a channel lacks a
        sensitivity (value, frequency, input unit), a sample rate or an orientation, or has
        an input unit other than M, M/S or M/S**2; if two files define the same channel epoch
        differently; or if epochs of a channel overlap. The message names the file(s) and
        the channel.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    # imported here: eew.stationxml builds ChannelInfo records, so it imports this module
    from eew.stationxml import read_stationxml

    records: list[tuple[ChannelInfo, str | None]] = []
    for path in paths:
        name = os.fspath(path)
        records.extend((info, name) for info in read_stationxml(name))
    return Inventory._from_index(_index(records))
