"""Client-side bookkeeping: per-channel latency and gaps, and the resume state file.

Latency of a packet is its arrival time (injected clock) minus the time of
its last sample. Continuity is checked per channel against the end of the
previous packet: a later start is a gap, an earlier one is out of order
(overlap, duplicate or late record). The client delivers both; the processing
chain (:mod:`eew.detect.channel`) decides what to do with the samples.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from eew.errors import EEWError
from eew.model.packet import Packet
from eew.model.timeutil import NS_PER_S

STATE_VERSION = 1


class StateFileError(EEWError):
    """The client state file cannot be read or written."""


@dataclass(frozen=True, slots=True)
class ChannelStatistics:
    """What one channel's packets looked like on arrival.

    Latencies are arrival time minus last-sample time [s]; ``gap_s`` is the
    total length of gaps [s]; ``late`` counts packets over the lateness
    threshold; ``out_of_order`` packets that started before the end of the
    previous one; ``future`` packets dropped for lying in the future.
    """

    channel_id: str
    packets: int
    samples: int
    latency_last_s: float
    latency_min_s: float
    latency_max_s: float
    latency_mean_s: float
    gaps: int
    gap_s: float
    out_of_order: int
    late: int
    future: int
    last_end_ns: int


class _Channel:
    __slots__ = (
        "future",
        "gap_ns",
        "gaps",
        "lat_last",
        "lat_max",
        "lat_min",
        "lat_sum",
        "late",
        "next_ns",
        "ooo",
        "packets",
        "samples",
    )

    def __init__(self) -> None:
        self.packets = self.samples = self.gaps = self.gap_ns = self.ooo = 0
        self.late = self.future = 0
        self.next_ns = 0
        self.lat_last = self.lat_sum = 0
        self.lat_min = 1 << 62
        self.lat_max = -(1 << 62)


class ChannelTracker:
    """Latency, gap and order bookkeeping for every channel seen.

    Parameters
    ----------
    late_s : float
        A packet whose latency exceeds this is counted as late [s].
    future_s : float or None
        Packets whose last sample is more than this ahead of the clock are
        future data [s]; None disables the check.
    gap_tolerance_samples : float
        Continuity tolerance, in sample intervals.
    """

    def __init__(
        self, late_s: float = 10.0, future_s: float | None = 5.0, gap_tolerance_samples: float = 0.5
    ) -> None:
        self.late_ns = round(late_s * NS_PER_S)
        self.future_ns = None if future_s is None else round(future_s * NS_PER_S)
        self.tol = gap_tolerance_samples
        self._ch: dict[str, _Channel] = {}

    def observe(self, pkt: Packet, arrival_ns: int) -> bool:
        """Account for ``pkt`` arriving at ``arrival_ns``; False if it is future data (drop)."""
        ch = self._ch.get(pkt.channel_id)
        if ch is None:
            ch = self._ch[pkt.channel_id] = _Channel()
        period = NS_PER_S / pkt.sampling_rate_hz
        last_sample = pkt.endtime_ns - round(period)
        latency = arrival_ns - last_sample
        if self.future_ns is not None and -latency > self.future_ns:
            ch.future += 1
            return False
        ch.packets += 1
        ch.samples += pkt.n_samples
        ch.lat_last = latency
        ch.lat_sum += latency
        ch.lat_min = min(ch.lat_min, latency)
        ch.lat_max = max(ch.lat_max, latency)
        if latency > self.late_ns:
            ch.late += 1
        if ch.packets > 1:
            delta = pkt.starttime_ns - ch.next_ns
            if delta > self.tol * period:
                ch.gaps += 1
                ch.gap_ns += delta
            elif delta < -self.tol * period:
                ch.ooo += 1
        ch.next_ns = max(ch.next_ns, pkt.endtime_ns)
        return True

    def statistics(self) -> tuple[ChannelStatistics, ...]:
        """One record per channel, sorted by channel id."""
        out = []
        for cid in sorted(self._ch):
            c = self._ch[cid]
            n = max(c.packets, 1)
            seen = c.packets > 0
            out.append(
                ChannelStatistics(
                    channel_id=cid,
                    packets=c.packets,
                    samples=c.samples,
                    latency_last_s=c.lat_last / NS_PER_S,
                    latency_min_s=c.lat_min / NS_PER_S if seen else 0.0,
                    latency_max_s=c.lat_max / NS_PER_S if seen else 0.0,
                    latency_mean_s=c.lat_sum / n / NS_PER_S,
                    gaps=c.gaps,
                    gap_s=c.gap_ns / NS_PER_S,
                    out_of_order=c.ooo,
                    late=c.late,
                    future=c.future,
                    last_end_ns=c.next_ns,
                )
            )
        return tuple(out)


#: server address -> "NET_STA" -> (last delivered 24-bit sequence number, its start time [ns])
State = dict[str, dict[str, tuple[int, int]]]
#: server address -> channel id -> end of the last record processed [ns]
ChannelEnds = dict[str, dict[str, int]]


def _read(path: Path) -> dict[str, object] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        doc = json.loads(text)
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported version {doc.get('version')!r}")
    except (ValueError, AttributeError) as exc:
        raise StateFileError(f"{path}: not a SeedLink state file ({exc})") from exc
    return dict(doc)


def load_state(path: Path) -> State:
    """Read a state file written by :func:`save_state`; a missing file is an empty state.

    Raises
    ------
    StateFileError
        If the file exists but is not a valid state file.
    """
    doc = _read(path)
    if doc is None:
        return {}
    try:
        servers = doc["servers"]
        assert isinstance(servers, dict)
        return {
            str(srv): {str(k): (int(v[0]), int(v[1])) for k, v in stations.items()}
            for srv, stations in servers.items()
        }
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, AssertionError) as exc:
        raise StateFileError(f"{path}: not a SeedLink state file ({exc})") from exc


def load_channel_ends(path: Path) -> ChannelEnds:
    """The per-channel data times of a state file (empty for a file written without them).

    They let a restarted client tell records it processed from new ones by data time
    when a server's sequence numbers cannot (a ring reset, see :mod:`.session`).

    Raises
    ------
    StateFileError
        If the file exists but is not a valid state file.
    """
    doc = _read(path)
    if doc is None:
        return {}
    try:
        channels = doc.get("channels", {})
        assert isinstance(channels, dict)
        return {
            str(srv): {str(k): int(v) for k, v in chans.items()} for srv, chans in channels.items()
        }
    except (ValueError, TypeError, AttributeError, AssertionError) as exc:
        raise StateFileError(f"{path}: not a SeedLink state file ({exc})") from exc


def save_state(path: Path, state: State, channels: ChannelEnds | None = None) -> None:
    """Write the state atomically (temporary file, fsync, rename).

    ``channels`` (optional) are the per-channel ends of the last records processed [ns].

    Raises
    ------
    StateFileError
        If the file cannot be written.
    """
    doc: dict[str, object] = {
        "version": STATE_VERSION,
        "servers": {
            srv: {k: [seq, t] for k, (seq, t) in sorted(st.items())}
            for srv, st in sorted(state.items())
        },
    }
    if channels:
        doc["channels"] = {srv: dict(sorted(ch.items())) for srv, ch in sorted(channels.items())}
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise StateFileError(f"{path}: cannot write ({exc.strerror})") from exc
