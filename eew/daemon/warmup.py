"""Warm-up: every numba kernel of the chain compiled (or loaded from its cache) before data.

The kernels are ``@njit(cache=True)``: their first call in a process compiles them, or
loads them from numba's on-disk cache (next to the modules, or under
``$NUMBA_CACHE_DIR``). Without a warm-up that first call falls on the first real
packets: with no usable cache the daemon's event loop stood still for about 8 s after
a restart in the middle of an earthquake (a heartbeat 8.4 s late, 136 packets queued).

:func:`warm_up` runs the chain's real code paths on synthetic data before the SeedLink
client connects:

* per distinct (sample rate, input unit) of the inventory, a throwaway per-channel
  pipeline with the daemon's configuration is fed a synthetic record stream, encoded as
  512-byte Steim2 records and decoded as the SeedLink client decodes them (header scan,
  Steim decoder): noise, then an impulsive onset, so that the filter chain, STA/LTA,
  trigger, coda re-trigger, AIC onset, glitch test and early-P kernels all run;
* the event core's locator locates synthetic picks of our own stations (EDT and, with
  enough stations, the origin-time likelihood);
* the event core's finite-fault estimator (:mod:`eew.event.finder`) fits its line-source
  templates to synthetic peak accelerations of our own stations.

Nothing of the daemon's own chain changes (the locator is only read). The report says
how long it took and how many kernel versions were compiled or loaded from the cache.
The daemon runs it in a thread (:func:`warm_up_off_loop`), so that signals, heartbeats
and the console stay served while kernels compile.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from eew.acquisition.mseed import decode_record, parse_header
from eew.archive_server.records import repack_512
from eew.assembly import Chain
from eew.config import Config
from eew.detect.router import Pipeline
from eew.inventory import ChannelInfo, Inventory
from eew.model.clock import DataClock
from eew.model.packet import Packet
from eew.model.pick import Pick
from eew.model.timeutil import NS_PER_S

#: loggers quietened while the synthetic channels run (their triggers are not news)
_QUIET = ("eew.detect", "eew.dsp", "eew.acquisition")
#: start time of the synthetic records: 2000-01-01T00:00:00Z [ns]
_T0_NS = 946_684_800 * NS_PER_S
#: frequency of the synthetic onset (inside every trigger band) [Hz]
_ONSET_HZ = 5.0


@dataclass(frozen=True, slots=True)
class WarmupReport:
    """What a warm-up did.

    Attributes
    ----------
    duration_s : float
        Wall time of the warm-up [s].
    channel_kinds : tuple of str
        The (sample rate, unit) combinations run, as ``"100Hz M/S"``.
    picks : int
        Picks (or rejected triggers) the synthetic channels produced: the picker ran.
    located : int
        Synthetic locations computed (0 without an event core).
    kernels : int
        numba kernels of the package loaded in this process.
    compiled, loaded : int
        Kernel versions compiled during the warm-up, and loaded from numba's cache.
    """

    duration_s: float
    channel_kinds: tuple[str, ...]
    picks: int
    located: int
    kernels: int
    compiled: int
    loaded: int

    def log_fields(self) -> dict[str, object]:
        """``key=value`` fields of the log line."""
        return {
            "duration_s": round(self.duration_s, 3),
            "channel_kinds": ",".join(self.channel_kinds) or "none",
            "picks": self.picks,
            "located": self.located,
            "kernels": self.kernels,
            "compiled": self.compiled,
            "from_cache": self.loaded,
        }


def kernels() -> list[object]:
    """The numba dispatchers of the ``eew`` modules loaded so far."""
    from numba.core.dispatcher import Dispatcher

    found: dict[int, object] = {}
    for name, mod in list(sys.modules.items()):
        if not name.startswith("eew.") or mod is None:
            continue
        for value in list(vars(mod).values()):
            if isinstance(value, Dispatcher) and value.__module__ == name:
                found[id(value)] = value
    return list(found.values())


def _cache_counts(dispatchers: list[object]) -> tuple[int, int]:
    """(cache hits, cache misses) summed over ``dispatchers``."""
    hits = misses = 0
    for d in dispatchers:
        stats = getattr(d, "stats", None)
        if stats is not None:
            hits += sum(stats.cache_hits.values())
            misses += sum(stats.cache_misses.values())
    return hits, misses


def channel_kinds(inventory: Inventory, components: str) -> list[ChannelInfo]:
    """One channel per distinct (sample rate, input unit), preferring trigger components."""
    chosen: dict[tuple[float, str], ChannelInfo] = {}
    for cid in inventory:
        info = inventory[cid]
        key = (info.sampling_rate_hz, info.input_units)
        old = chosen.get(key)
        if old is None or (old.component not in components and info.component in components):
            chosen[key] = info
    return [chosen[k] for k in sorted(chosen)]


def synthetic_records(info: ChannelInfo, config: Config, seed: int = 0) -> Iterator[Packet]:
    """Decoded 1-s records of noise then an impulsive onset, as the SeedLink client sees them.

    Long enough for the trigger to arm (``trigger.warmup_s``), the picker to decide and
    the early-P window to fill.
    """
    fs = info.sampling_rate_hz
    pk, tr = config.picker, config.trigger
    quiet_s = tr.warmup_s + pk.noise_window_s + pk.aic_before_s + 2.0
    loud_s = pk.extend_window_s + pk.decision_delay_s + 2.0
    n_quiet = round(quiet_s * fs)
    n = n_quiet + round(loud_s * fs)
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 200.0, n)
    t = np.arange(n - n_quiet) / fs
    x[n_quiet:] += 2.0e5 * np.exp(-t / 2.0) * np.sin(2 * np.pi * min(_ONSET_HZ, fs / 4) * t)
    counts = np.round(x).astype(np.int32)
    per = max(1, round(fs))
    for i in range(0, n, per):
        pkt = Packet(info.channel_id, _T0_NS + round(i * NS_PER_S / fs), fs, counts[i : i + per])
        for rec in repack_512(pkt):
            hdr = parse_header(rec, 0)
            out = decode_record(rec, hdr, np.frombuffer(rec, np.uint8), pkt.starttime_ns)
            if out is not None:
                yield out


def _warm_channels(config: Config, inventory: Inventory) -> tuple[list[str], int]:
    kinds: list[str] = []
    produced: list[object] = []
    for i, info in enumerate(channel_kinds(inventory, config.trigger.components)):
        synth = dataclasses.replace(
            info,
            channel_id=f"XX.WARM{i}.{info.location}.{info.channel}",
            network="XX",
            station=f"WARM{i}",
            start_ns=None,
            end_ns=None,
        )
        pipeline = Pipeline(config, Inventory([synth]), produced.append, DataClock())
        for pkt in synthetic_records(synth, config, seed=i):
            pipeline.feed(pkt)
        # the event core's query of the peak store (eew.detect.peaks, numba)
        pipeline.peak_acceleration_cm_s2(synth.station_id, 0, pipeline.clock.now_ns())
        pipeline.flush()
        kinds.append(f"{info.sampling_rate_hz:g}Hz {info.input_units}")
    picks = sum(1 for v in produced if isinstance(v, Pick) or type(v).__name__ == "RejectedTrigger")
    return kinds, picks


def _warm_locator(chain: Chain) -> int:
    core = chain.core
    if core is None:
        return 0
    loc = core.locator
    n = int(loc.sx.size)
    if n < 2:
        return 0
    tt = loc.p_times(float(np.mean(loc.sx)), float(np.mean(loc.sy)), 10.0)
    order = np.argsort(tt)
    located = 0
    k = min(n - 1, 4)  # EDT with silent stations
    picked, silent = order[:k], order[k : k + 3]
    loc.locate(picked, tt[picked], silent, tt[silent] + 0.5)
    located += 1
    if n >= loc.many_picks:  # the origin-time likelihood
        picked = order[: loc.many_picks]
        loc.locate(picked, tt[picked], order[:0], tt[:0])
        located += 1
    return located


def _warm_finder(chain: Chain) -> None:
    core = chain.core
    if core is None or core.finder is None:
        return
    lat = np.asarray(core.st_lat, dtype=np.float64)
    lon = np.asarray(core.st_lon, dtype=np.float64)
    if lat.size == 0:
        return
    lat0, lon0 = float(lat.mean()), float(lon.mean())
    dist_km = np.hypot(lat - lat0, (lon - lon0) * np.cos(np.radians(lat0))) * 111.2
    pga = 300.0 / (1.0 + dist_km / 10.0)  # a strong local event: stations above the floor
    core.finder.estimate(lat0, lon0, 10.0, lat, lon, pga, 8.0, np.ones(lat.size, np.bool_))


def warm_up(chain: Chain) -> WarmupReport:
    """Run every kernel the chain uses on synthetic data (see the module docstring).

    Parameters
    ----------
    chain : Chain
        The daemon's chain: its router's configuration and inventory (the distinct
        sample rates and units are run on throwaway channels) and its event core's
        locator (only read).
    """
    t0 = time.perf_counter()
    before = _cache_counts(kernels())
    loggers = [logging.getLogger(name) for name in _QUIET]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        kinds: list[str] = []
        picks = 0
        if chain.router is not None:
            kinds, picks = _warm_channels(chain.router.config, chain.router.inventory)
        located = _warm_locator(chain)
        _warm_finder(chain)
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
    ks = kernels()
    hits, misses = _cache_counts(ks)
    return WarmupReport(
        duration_s=time.perf_counter() - t0,
        channel_kinds=tuple(kinds),
        picks=picks,
        located=located,
        kernels=len(ks),
        compiled=misses - before[1],
        loaded=hits - before[0],
    )


async def warm_up_off_loop(chain: Chain, stop: asyncio.Event) -> WarmupReport | None:
    """Run :func:`warm_up` in a thread; None if ``stop`` was set before it finished.

    A daemon thread, so that a stop need not wait for the compilation; its error is
    raised here (a daemon that cannot warm up does not start).
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[WarmupReport] = loop.create_future()

    def settle(result: WarmupReport | None, exc: BaseException | None) -> None:
        if done.done():
            return
        if exc is not None:
            done.set_exception(exc)
        else:
            assert result is not None
            done.set_result(result)

    def work() -> None:
        try:
            report = warm_up(chain)
        except Exception as exc:  # noqa: BLE001
            # thread boundary: not swallowed, handed to the event loop, where ``done``
            # raises it in start-up
            with contextlib.suppress(RuntimeError):  # loop already closed: stopping
                loop.call_soon_threadsafe(settle, None, exc)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, report, None)

    threading.Thread(target=work, name="eew-warmup", daemon=True).start()
    stopper = asyncio.ensure_future(stop.wait())
    waiters: list[asyncio.Future[object]] = [done, stopper]  # type: ignore[list-item]
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    return done.result() if done.done() else None
