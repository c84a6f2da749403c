"""The messages between a parallel replay's parent and its workers, and the replay's result.

The parent hands each worker a :class:`Setup` (before the work), a :class:`ScanRequest` (its
share of the archive's first pass, answered with a
:class:`~eew.acquisition.windowed.ScanShare`) and a :class:`WorkerSpec` per window; a worker
answers the windows with :class:`Batch` messages and one :class:`End`. They are pickled
through :mod:`multiprocessing` queues (:mod:`eew.parallel.worker`, :mod:`eew.parallel.parent`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from eew.acquisition import scan
from eew.acquisition.archive import C_CHANNEL, C_FILE, N_INDEX_COLS
from eew.config import Config
from eew.detect.router import PipelineStatistics
from eew.event.core import EventStatistics

#: packets a worker processes between two messages (its progress mark)
BATCH_PACKETS = 2048
#: messages a worker may have queued before it waits for the parent
QUEUE_MESSAGES = 32


@dataclass
class ReplayResult:
    """What a replay leaves besides its results: counters for the summary.

    Attributes
    ----------
    statistics : PipelineStatistics
        The per-channel stage's counters (summed over the workers).
    events : EventStatistics or None
        The event stage's counters (None without one).
    ingest : Counter
        Ingest counters (files, records, corrupt records...).
    jobs : int
        Processes that ran the channels (1: the single run).
    worker_cpu_s : list of float
        CPU time of each worker process [s] (empty for the single run).
    """

    statistics: PipelineStatistics
    events: EventStatistics | None
    ingest: Counter[str]
    jobs: int = 1
    worker_cpu_s: list[float] = field(default_factory=list)


@dataclass
class ScanRequest:
    """A worker's share of the first pass over the archive: consecutive files, in order."""

    paths: list[str]


#: the index columns (:mod:`eew.acquisition.archive`) a :class:`WorkerSpec` sends as int64
WIDE_COLS = (scan.C_OFFSET, scan.C_START_NS)
#: the index columns it sends as int32 (16-bit header fields, file and channel numbers)
NARROW_COLS = (
    scan.C_RECLEN,
    scan.C_NSAMP,
    scan.C_ENCODING,
    scan.C_DATA_OFFSET,
    scan.C_BIG,
    scan.C_CALIB,
    C_FILE,
    C_CHANNEL,
)


@dataclass
class WorkerSpec:
    """A worker's share of one window (pickled into the spawned process)."""

    files: list[tuple[str, int, int]]  # (path, byte offset, size; -1: to the end)
    channel_ids: list[str]
    #: the index rows in arrival order, C_FILE renumbered into ``files``, without the rate
    #: factor and multiplier (``rate_hz`` holds the rates): the columns :data:`WIDE_COLS`
    #: (int64) and :data:`NARROW_COLS` (int32, header fields of 16 bits and numbers), so
    #: that the pipe carries 72 bytes per record rather than 112
    wide: np.ndarray
    narrow: np.ndarray
    rate_hz: np.ndarray
    end_ns: np.ndarray
    positions: np.ndarray  # position of each row in the whole archive's arrival order
    last: int  # position of the window's last packet (the worker's mark when done)

    @staticmethod
    def pack(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index rows as the ``wide`` and ``narrow`` columns sent.

        Raises
        ------
        ValueError
            If a narrow column does not fit in 32 bits.
        """
        narrow = table[:, list(NARROW_COLS)]
        if narrow.shape[0] and (narrow.max() > 2**31 - 1 or narrow.min() < -(2**31)):
            raise ValueError("parallel replay: an index column does not fit in 32 bits")
        return table[:, list(WIDE_COLS)], narrow.astype(np.int32)

    def table(self) -> np.ndarray:
        """The index rows (int64, ``N_INDEX_COLS`` columns; the rate factor and multiplier 0)."""
        out = np.zeros((self.wide.shape[0], N_INDEX_COLS), np.int64)
        out[:, list(WIDE_COLS)] = self.wide
        out[:, list(NARROW_COLS)] = self.narrow
        return out


@dataclass
class Batch:
    """A worker's message: results and facts up to its progress mark."""

    mark: int  # every packet of this worker up to this position is done
    results: list[tuple[int, list[object]]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)  # records that could not be decoded
    known: list[tuple[str, int, bool]] = field(default_factory=list)  # (channel, pos, known)
    #: the packets' peak motions for the parent's event core (eew.detect.peaks): positions,
    #: station numbers (into ``stations``), end times [ns], peaks [cm/s²], peaks [cm/s]
    peaks: tuple[np.ndarray, ...] = ()
    stations: list[str] = field(default_factory=list)


@dataclass
class End:
    """A worker's last message: the end-of-data results and its counters."""

    flushed: list[object]
    statistics: PipelineStatistics
    ingest: Counter[str]
    cpu_s: float = 0.0  # the worker's CPU time (user + system) [s]


@dataclass
class Setup:
    """What a worker needs before the work: the chain's configuration."""

    config: Config
    config_hash: str
    inventory_paths: list[str]
    log_level: int
    quiet_channels: bool = False  # per-channel warnings held back (eew replay without -v)
