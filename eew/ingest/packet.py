"""The unit of waveform data that flows through the pipeline.

A :class:`Packet` is what a SeedLink server delivers: one miniSEED record of
one channel, decoded. Replay cuts archives into packets; the live client
(later) receives them; both feed the same :class:`~eew.pipeline.Pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Packet:
    """One decoded record of one channel.

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
    """

    channel_id: str
    starttime_ns: int
    sampling_rate_hz: float
    data: np.ndarray
    calibration: bool = False
    #: number of samples (derived)
    n_samples: int = field(init=False, compare=False)
    #: time just after the last sample, start + n/fs [ns] (derived): when the record is
    #: complete at the digitizer, the earliest time a packet can reach the processing centre
    endtime_ns: int = field(init=False, compare=False)

    def __post_init__(self) -> None:
        n = int(self.data.shape[0])
        object.__setattr__(self, "n_samples", n)
        object.__setattr__(
            self, "endtime_ns", self.starttime_ns + round(n * NS_PER_S / self.sampling_rate_hz)
        )

    @property
    def period_ns(self) -> float:
        """Sample interval [ns]."""
        return NS_PER_S / self.sampling_rate_hz
