"""The unit of waveform data that flows through the pipeline.

A :class:`Packet` is what a SeedLink server delivers: one miniSEED record of
one channel, decoded. Replay cuts archives into packets; the live client
receives them (stamped with their arrival time); both feed the same processing chain
(:mod:`eew.assembly`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eew.model.timeutil import NS_PER_S


class Packet:
    """One decoded record of one channel (a value: never modified after creation).

    A plain ``__slots__`` class rather than a frozen dataclass: a replay creates tens of
    thousands of packets per second, and the frozen dataclass's ``__init__`` costs four
    times as much (about 1 us per packet).

    Parameters
    ----------
    channel_id : str
        ``NET.STA.LOC.CHA`` (empty location allowed: ``KZ.ALM01..HHZ``).
    starttime_ns : int
        Time of the first sample [ns since 1970-01-01 UTC].
    sampling_rate_hz : float
        Nominal sample rate [Hz].
    data : numpy.ndarray
        Samples in digitizer counts (int32 or float64).
    calibration : bool
        True when the record's activity flags say a calibration signal is present.
    arrival_ns : int, optional
        When the packet reached the processing centre [ns since the epoch, UTC], stamped
        by the live client; None when it was read from an archive (replay): then the
        packet is taken to arrive when its last sample is recorded (:attr:`available_ns`).
        Metadata of the delivery, not of the data: it takes no part in ``==``.

    Attributes
    ----------
    n_samples : int
        Number of samples.
    endtime_ns : int
        Time just after the last sample, start + n/fs [ns]: when the record is complete at
        the digitizer, the earliest time a packet can reach the processing centre.
    """

    __slots__ = (
        "arrival_ns",
        "calibration",
        "channel_id",
        "data",
        "endtime_ns",
        "n_samples",
        "sampling_rate_hz",
        "starttime_ns",
    )

    def __init__(
        self,
        channel_id: str,
        starttime_ns: int,
        sampling_rate_hz: float,
        data: np.ndarray,
        calibration: bool = False,
        arrival_ns: int | None = None,
    ) -> None:
        self.channel_id = channel_id
        self.starttime_ns = starttime_ns
        self.sampling_rate_hz = sampling_rate_hz
        self.data = data
        self.calibration = calibration
        self.arrival_ns = arrival_ns
        n = int(data.shape[0])
        self.n_samples = n
        self.endtime_ns = starttime_ns + round(n * NS_PER_S / sampling_rate_hz)

    def __eq__(self, other: Any) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return (
            self.channel_id == other.channel_id
            and self.starttime_ns == other.starttime_ns
            and self.sampling_rate_hz == other.sampling_rate_hz
            and self.calibration == other.calibration
            and np.array_equal(self.data, other.data)
        )

    __hash__ = None  # type: ignore[assignment]  # holds an array: not hashable

    def __repr__(self) -> str:
        return (
            f"Packet({self.channel_id!r}, starttime_ns={self.starttime_ns}, "
            f"sampling_rate_hz={self.sampling_rate_hz}, n_samples={self.n_samples}, "
            f"calibration={self.calibration}, arrival_ns={self.arrival_ns})"
        )

    def replace(self, **changes: Any) -> Packet:
        """A copy with some of the constructor's arguments changed."""
        args: dict[str, Any] = {
            "channel_id": self.channel_id,
            "starttime_ns": self.starttime_ns,
            "sampling_rate_hz": self.sampling_rate_hz,
            "data": self.data,
            "calibration": self.calibration,
            "arrival_ns": self.arrival_ns,
        }
        args.update(changes)
        return Packet(**args)

    @property
    def available_ns(self) -> int:
        """When the packet was available for processing [ns].

        Its arrival time if the live client stamped one, else its end time (replay: zero
        telemetry delay).
        """
        return self.endtime_ns if self.arrival_ns is None else self.arrival_ns

    @property
    def period_ns(self) -> float:
        """Sample interval [ns]."""
        return NS_PER_S / self.sampling_rate_hz
