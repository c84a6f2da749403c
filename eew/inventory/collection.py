"""The :class:`Inventory` of channel epochs and :func:`load_inventory` (StationXML files)."""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType

from eew.errors import InventoryError
from eew.inventory.channel import ChannelInfo, format_epoch

__all__ = ["Inventory", "load_inventory"]


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
    # imported on first use: the reader imports obspy, which takes a while
    from eew.inventory.stationxml import read_stationxml

    records: list[tuple[ChannelInfo, str | None]] = []
    for path in paths:
        name = os.fspath(path)
        records.extend((info, name) for info in read_stationxml(name))
    return Inventory._from_index(_index(records))
