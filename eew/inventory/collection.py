"""The :class:`Inventory` of channel epochs and :func:`load_inventory` (StationXML files)."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from eew.inventory.channel import ChannelInfo, format_epoch
from eew.inventory.issues import InventoryIssues

__all__ = ["ChannelMatch", "Inventory", "load_inventory"]

log = logging.getLogger("eew.inventory")

#: station codes a miniSEED 2 header can hold (longer ones arrive cut to this length)
MSEED2_STATION_CHARS = 5


@dataclass(frozen=True, slots=True)
class ChannelMatch:
    """The metadata found for a record's channel (:meth:`Inventory.match`).

    Attributes
    ----------
    info : ChannelInfo
        The epoch to use (its ``channel_id`` is the inventory's).
    how : str
        ``"exact"`` (the id, an epoch covering the time), ``"outside_epoch"`` (the id, but
        no epoch covers the time: the nearest epoch) or ``"alias"`` (another id of the same
        station, the one with the same instrument and component letters).
    """

    info: ChannelInfo
    how: str


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
) -> tuple[dict[str, tuple[ChannelInfo, ...]], InventoryIssues]:
    """Group channel epochs by id, drop identical duplicates, resolve conflicts.

    Conflicts never stop the load; each gets one warning naming the channel, the epochs and
    the files, and is counted:

    * the same epoch defined twice with different metadata: the definition given last
      (the later file) is used (``conflicting_epochs``);
    * overlapping epochs of one channel: the later-starting epoch applies from its start,
      the earlier one ends there; of two epochs with the same start, the one given last is
      kept (``overlapping_epochs``).

    Parameters
    ----------
    records : iterable of (ChannelInfo, str or None)
        Channel epochs with the file each came from (None when not from a file).

    Returns
    -------
    index : dict of str to tuple of ChannelInfo
        Channel id -> its epochs sorted by start (not overlapping), ids in sorted order.
    issues : InventoryIssues
        The conflicts resolved.
    """
    by_id: dict[str, dict[tuple[int | None, int | None], tuple[ChannelInfo, str | None, int]]] = {}
    n_conflicts = n_overlaps = 0
    for seq, (info, source) in enumerate(records):
        epochs = by_id.setdefault(info.channel_id, {})
        key = (info.start_ns, info.end_ns)
        previous = epochs.get(key)
        if previous is not None and previous[0] == info:
            continue
        if previous is not None:
            n_conflicts += 1
            log.warning(
                "channel %s %s is defined twice with different metadata: %s and %s; "
                "the later definition is used",
                info.channel_id,
                format_epoch(*key),
                _where(previous[1]),
                _where(source),
            )
        epochs[key] = (info, source, seq)
    index: dict[str, tuple[ChannelInfo, ...]] = {}
    for channel_id in sorted(by_id):
        entries = sorted(by_id[channel_id].values(), key=lambda e: (_start_key(e[0]), e[2]))
        kept: list[tuple[ChannelInfo, str | None, int]] = []
        for entry in entries:
            second = entry[0]
            while kept and _overlap(kept[-1][0], second):
                first, first_source, first_seq = kept.pop()
                n_overlaps += 1
                log.warning(
                    "channel %s: overlapping epochs, %s %s and %s %s; the later-starting "
                    "epoch applies from its start",
                    channel_id,
                    format_epoch(first.start_ns, first.end_ns),
                    _where(first_source),
                    format_epoch(second.start_ns, second.end_ns),
                    _where(entry[1]),
                )
                if _start_key(first) < _start_key(second):
                    kept.append((replace(first, end_ns=second.start_ns), first_source, first_seq))
                    break
            kept.append(entry)
        index[channel_id] = tuple(e[0] for e in kept)
    return index, InventoryIssues(overlapping_epochs=n_overlaps, conflicting_epochs=n_conflicts)


def _overlap(first: ChannelInfo, second: ChannelInfo) -> bool:
    """Whether an epoch overlaps the next one (``first`` does not start after ``second``)."""
    return first.end_ns is None or second.start_ns is None or first.end_ns > second.start_ns


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

    Notes
    -----
    Conflicting or overlapping epochs are resolved as :func:`_index` documents (one warning
    each, counted in :attr:`issues`).
    Iteration yields the channel ids in sorted order; ``inventory[channel_id]`` is the latest
    epoch (a ``KeyError`` if the id is unknown), :meth:`get` the epoch covering a time.
    """

    __slots__ = ("_epochs", "_issues")

    _epochs: Mapping[str, tuple[ChannelInfo, ...]]
    _issues: InventoryIssues

    def __init__(self, channels: Iterable[ChannelInfo]) -> None:
        self._set_index(*_index((info, None) for info in channels))

    def _set_index(
        self, index: dict[str, tuple[ChannelInfo, ...]], issues: InventoryIssues
    ) -> None:
        object.__setattr__(self, "_epochs", MappingProxyType(index))
        object.__setattr__(self, "_issues", issues)

    @classmethod
    def _from_index(
        cls, index: dict[str, tuple[ChannelInfo, ...]], issues: InventoryIssues
    ) -> Inventory:
        inventory = cls.__new__(cls)
        inventory._set_index(index, issues)
        return inventory

    @property
    def issues(self) -> InventoryIssues:
        """Channel epochs set aside or corrected while loading, by cause."""
        return self._issues

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

    def nearest(self, channel_id: str, time_ns: int) -> ChannelInfo | None:
        """Return the epoch of a channel nearest in time (the covering one if any).

        Parameters
        ----------
        channel_id : str
            ``"NET.STA.LOC.CHA"``.
        time_ns : int
            Time [ns since 1970-01-01 UTC].

        Returns
        -------
        ChannelInfo or None
            The epoch at the smallest distance from ``time_ns`` (0 for a covering epoch);
            None if the channel is unknown.
        """

        def distance(info: ChannelInfo) -> int:
            if info.start_ns is not None and time_ns < info.start_ns:
                return info.start_ns - time_ns
            if info.end_ns is not None and time_ns >= info.end_ns:
                return time_ns - info.end_ns + 1
            return 0

        epochs = self._epochs.get(channel_id)
        return min(epochs, key=distance) if epochs else None

    def match(self, channel_id: str, time_ns: int) -> ChannelMatch | None:
        """Find the metadata of a record's channel, also when the two disagree.

        In this order: the channel's epoch covering the time (``exact``); the channel's
        nearest epoch (``outside_epoch``); else the one channel of the same network and
        station with the same instrument and component letters (the last two letters of
        the code), whatever its location and band codes (``alias``). A station code of more
        than 5 characters also matches records that carry its first 5 characters, as
        miniSEED 2 headers (5 characters) cut it.

        Parameters
        ----------
        channel_id : str
            The record's ``"NET.STA.LOC.CHA"``.
        time_ns : int
            The record's start time [ns since 1970-01-01 UTC].

        Returns
        -------
        ChannelMatch or None
            None if nothing matches, or several channels would (ambiguous).
        """
        info = self.get(channel_id, time_ns)
        if info is not None:
            return ChannelMatch(info, "exact")
        info = self.nearest(channel_id, time_ns)
        if info is not None:
            return ChannelMatch(info, "outside_epoch")
        parts = channel_id.split(".")
        if len(parts) != 4 or len(parts[3]) != 3:
            return None
        net, sta, _loc, cha = parts
        found = [
            cid
            for cid, epochs in self._epochs.items()
            if epochs[-1].network == net
            and epochs[-1].channel[1:] == cha[1:]
            and (
                epochs[-1].station == sta
                or (
                    len(epochs[-1].station) > MSEED2_STATION_CHARS
                    and epochs[-1].station[:MSEED2_STATION_CHARS] == sta
                )
            )
        ]
        if len(found) != 1:
            return None
        info = self.nearest(found[0], time_ns)
        return None if info is None else ChannelMatch(info, "alias")

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

        Notes
        -----
        Where the two disagree about a channel epoch, or their epochs overlap, ``other``'s
        epochs win as :func:`_index` documents (one warning each, counted).
        """
        index, issues = _index(
            (info, None)
            for inventory in (self, other)
            for epochs in inventory._epochs.values()
            for info in epochs
        )
        return Inventory._from_index(index, self._issues + other._issues + issues)


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
        Every usable channel epoch of every file. An epoch found identically in several
        files is kept once. Channel epochs that lack a sensitivity (value, frequency, input
        unit), a sample rate or an orientation, whose sensitivity is not positive, or whose
        input unit is not M, M/S or M/S**2 are set aside; conflicting and overlapping epochs
        are resolved (:func:`_index`). Each case is one warning naming the file and the
        channel, counted in :attr:`Inventory.issues`.

    Raises
    ------
    InventoryError
        If a file is missing or unreadable or holds no channels (the message names it).
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    # imported on first use: the reader imports obspy, which takes a while
    from eew.inventory.stationxml import read_stationxml

    records: list[tuple[ChannelInfo, str | None]] = []
    issues = InventoryIssues()
    for path in paths:
        name = os.fspath(path)
        infos, read_issues = read_stationxml(name)
        records.extend((info, name) for info in infos)
        issues += read_issues
    index, index_issues = _index(records)
    return Inventory._from_index(index, issues + index_issues)
