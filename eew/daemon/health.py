"""Health of a running daemon: snapshots, heartbeat content, Prometheus metrics.

The daemon builds a :class:`DaemonHealth` every ``heartbeat_interval_s``: it is logged
as one structured line, its summary rides on the bus heartbeats
(:class:`eew.bus.wire.Health`), and the optional Prometheus endpoint serves it. The
snapshot is immutable and replaced whole, so the publisher thread and the HTTP thread
read it without locks.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eew.acquisition.seedlink.tracking import ChannelStatistics
from eew.bus.wire import Health
from eew.partner.exchange import PartnerStatistics


@dataclass(frozen=True)
class DaemonHealth:
    """One health snapshot.

    Attributes
    ----------
    time_ns : int
        When it was taken (processing clock) [ns].
    role : str
        The daemon's role.
    live_stations : int
        Stations whose newest data are at most ``station_live_s`` old.
    stations : int
        Stations seen since the start.
    last_packet_time_ns : int or None
        End time of the newest packet (or newest upstream data) [ns].
    data_latency_s : float
        Median over live stations of their latest data latency [s]; NaN if unknown.
    station_latency_s : dict
        ``NET.STA`` -> latest latency, the largest over its channels [s].
    packets : int
        Packets (station, all) or picks (central) processed.
    queues : dict
        Depth of every bounded queue [items].
    drops : dict
        Items dropped, per cause, since the start.
    counts : dict
        Picks, alerts, events, rejected triggers and other output counters.
    metadata : dict
        Channels whose records disagree with the inventory, by how the router resolved it
        (:class:`~eew.detect.router.MetadataCounts`: ``rate_mismatch``, ``outside_epoch``,
        ``alias``, ``set_aside``...), and the channel epochs the inventory loader set aside
        or corrected (``inventory_*``); only non-zero counters.
    partner : dict
        The partner exchange (:func:`partner_fields`): agency, endpoints, liveness,
        heartbeat age and the imported, merged, relayed, exported and loop-blocked counts;
        empty without a partner.
    first_packet_wait_s : float
        From the arrival of the first packet to the end of its processing [s, wall
        clock]; NaN before it. Seconds here mean the loop was blocked (e.g. kernels
        compiled on first use, which the warm-up prevents).
    packet_wait_max_s : float
        The longest such wait of any packet since the start [s]; NaN before the first.
    """

    time_ns: int
    role: str
    live_stations: int = 0
    stations: int = 0
    last_packet_time_ns: int | None = None
    data_latency_s: float = math.nan
    station_latency_s: Mapping[str, float] = field(default_factory=dict)
    packets: int = 0
    queues: Mapping[str, int] = field(default_factory=dict)
    drops: Mapping[str, int] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)
    metadata: Mapping[str, int] = field(default_factory=dict)
    partner: Mapping[str, Any] = field(default_factory=dict)
    first_packet_wait_s: float = math.nan
    packet_wait_max_s: float = math.nan

    def bus_health(self) -> Health:
        """The summary carried by bus heartbeats."""
        return Health(
            self.data_latency_s, self.live_stations, self.last_packet_time_ns, dict(self.partner)
        )

    def log_fields(self) -> dict[str, Any]:
        """Flat ``key=value`` fields for the heartbeat log line."""
        out: dict[str, Any] = {
            "role": self.role,
            "live_stations": self.live_stations,
            "stations": self.stations,
            "data_latency_s": self.data_latency_s,
            "packets": self.packets,
        }
        out.update({f"queue_{k}": v for k, v in self.queues.items()})
        out.update({f"dropped_{k}": v for k, v in self.drops.items()})
        out.update(self.counts)
        out.update({f"metadata_{k}": v for k, v in self.metadata.items()})
        out.update({f"partner_{k}": v for k, v in self.partner.items()})
        if not math.isnan(self.first_packet_wait_s):
            out["first_packet_wait_s"] = round(self.first_packet_wait_s, 4)
            out["packet_wait_max_s"] = round(self.packet_wait_max_s, 4)
        if self.station_latency_s:
            worst = max(self.station_latency_s.items(), key=lambda kv: kv[1])
            out["worst_station"] = worst[0]
            out["worst_latency_s"] = worst[1]
        return out


def station_latencies(
    channels: Iterable[ChannelStatistics], now_ns: int, live_s: float
) -> tuple[dict[str, float], int, int, int | None]:
    """Per-station latency, live and total station counts and the newest data end.

    Returns
    -------
    latency : dict
        ``NET.STA`` -> the largest latest latency of its live channels [s].
    live, total : int
        Live stations, stations seen.
    newest_ns : int or None
        End of the newest packet of any channel [ns].
    """
    latency: dict[str, float] = {}
    seen: set[str] = set()
    newest: int | None = None
    live_ns = live_s * 1e9
    for ch in channels:
        if ch.packets == 0:
            continue
        sid = ch.channel_id.rsplit(".", 2)[0]
        seen.add(sid)
        if newest is None or ch.last_end_ns > newest:
            newest = ch.last_end_ns
        if now_ns - ch.last_end_ns <= live_ns:
            latency[sid] = max(latency.get(sid, -math.inf), ch.latency_last_s)
    return latency, len(latency), len(seen), newest


#: partner counters, :func:`partner_fields` key -> help of the Prometheus sample
PARTNER_COUNTS = {
    "picks_imported": "partner picks given to our event core",
    "picks_foreign_station": "partner picks refused: station not in the partner's inventory",
    "alerts_merged": "partner alerts merged into an event of ours",
    "alerts_relayed": "partner alert versions published on our bus",
    "alerts_closed": "relayed partner events closed (now ours)",
    "exported_picks": "our picks sent to the partner",
    "exported_alerts": "our alerts sent to the partner",
    "loop_blocked": "values not sent back to the partner",
    "heartbeats_rejected": "partner heartbeats dropped by the gate (forged, unsigned...)",
    "picks_clock_corrected": "partner picks shifted by their known clock offset",
    "picks_clock_discarded": "partner picks not used while their clock offset is known",
}
#: partner clock gauges, :func:`partner_fields` key -> (metric source label, help)
PARTNER_CLOCK = {
    "clock_offset_s": ("picks", "partner data time minus ours, from the newest shared event"),
    "heartbeat_clock_offset_s": (
        "heartbeats",
        "partner wall clock minus ours, less the shortest transit, from heartbeats",
    ),
}


def partner_fields(
    stats: PartnerStatistics, agency: str, endpoints: Sequence[str], own_agency: str = ""
) -> dict[str, Any]:
    """Flat partner fields of a health snapshot (heartbeat line, metrics, console).

    With ``own_agency``, the partner's own measurements of our clock (from the ``partner``
    block of its heartbeats, when it names us) are added as ``remote_*``.
    """
    link, export = stats.link, stats.export
    out: dict[str, Any] = {"agency": agency, "endpoints": ",".join(endpoints)}
    if link is not None:
        out["up"] = link.alive
        out["feeds"] = link.feeds
        out["heartbeat_age_s"] = round(link.heartbeat_age_s, 3)
        out["heartbeats"] = link.heartbeats
    out.update(
        picks_imported=stats.picks_imported,
        picks_foreign_station=stats.picks_foreign_station,
        alerts_merged=stats.alerts.merged,
        alerts_relayed=stats.alerts_relayed,
        alerts_closed=stats.alerts.closed,
        exported_picks=export.picks if export is not None else 0,
        exported_alerts=export.alerts if export is not None else 0,
        loop_blocked=export.loop_blocked if export is not None else 0,
        heartbeats_rejected=link.heartbeats_rejected if link is not None else 0,
        picks_clock_corrected=stats.clock.corrected,
        picks_clock_discarded=stats.clock.discarded,
    )
    clock = stats.clock
    if not math.isnan(clock.offset_s):
        out["clock_offset_s"] = round(clock.offset_s, 3)
        out["clock_offset_sigma_s"] = round(clock.sigma_s, 3)
        out["clock_offset_picks"] = clock.picks
        out["clock_offset_known"] = int(clock.known)
    if not math.isnan(clock.heartbeat_offset_s):
        out["heartbeat_clock_offset_s"] = round(clock.heartbeat_offset_s, 3)
    remote = link.remote if link is not None else {}
    if own_agency and remote.get("agency") == own_agency:
        # the partner's measurement of our clock (its heartbeats): a cross-check, from its
        # side (our time minus its time): about minus ours when both sides agree
        for key in ("clock_offset_s", "heartbeat_clock_offset_s"):
            if isinstance(remote.get(key), (int, float)):
                out[f"remote_{key}"] = remote[key]
    return out


def median_or_nan(values: Iterable[float]) -> float:
    """Median, NaN for no values."""
    vals = list(values)
    return statistics.median(vals) if vals else math.nan


class HealthCollector:
    """A Prometheus collector over the newest :class:`DaemonHealth` (set :attr:`latest`)."""

    def __init__(self) -> None:
        self.latest: DaemonHealth | None = None

    def collect(self) -> Iterator[Any]:
        """Yield the metric families of the newest snapshot (called per scrape)."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        h = self.latest
        if h is None:
            return
        yield GaugeMetricFamily("eew_live_stations", "stations with recent data", h.live_stations)
        yield GaugeMetricFamily(
            "eew_data_latency_seconds", "median latest data latency", h.data_latency_s
        )
        if h.last_packet_time_ns is not None:
            yield GaugeMetricFamily(
                "eew_last_packet_time_seconds",
                "end time of the newest packet",
                h.last_packet_time_ns / 1e9,
            )
        lat = GaugeMetricFamily(
            "eew_station_latency_seconds", "latest data latency per station", labels=["station"]
        )
        for sid, v in sorted(h.station_latency_s.items()):
            lat.add_metric([sid], v)
        yield lat
        yield CounterMetricFamily("eew_packets", "packets processed", h.packets)
        q = GaugeMetricFamily("eew_queue_depth", "items in a bounded queue", labels=["queue"])
        for k, v in sorted(h.queues.items()):
            q.add_metric([k], v)
        yield q
        d = CounterMetricFamily("eew_dropped", "items dropped", labels=["cause"])
        for k, v in sorted(h.drops.items()):
            d.add_metric([k], v)
        yield d
        c = CounterMetricFamily("eew_outputs", "values emitted", labels=["kind"])
        for k, v in sorted(h.counts.items()):
            c.add_metric([k], v)
        yield c
        m = GaugeMetricFamily(
            "eew_metadata_mismatch",
            "channels (or inventory epochs) whose metadata disagree with the data",
            labels=["case"],
        )
        for k, v in sorted(h.metadata.items()):
            m.add_metric([k], v)
        yield m
        if not math.isnan(h.packet_wait_max_s):
            yield GaugeMetricFamily(
                "eew_packet_wait_max_seconds",
                "longest wait of a packet between arrival and end of processing",
                h.packet_wait_max_s,
            )
        yield from _partner_metrics(h.partner)


def _partner_metrics(p: Mapping[str, Any]) -> Iterator[Any]:
    """The partner exchange's metric families (none without a partner)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    if not p:
        return
    agency = str(p["agency"])
    if "up" in p:
        up = GaugeMetricFamily(
            "eew_partner_feeds_up",
            "partner feeds whose heartbeats are on time (of eew_partner_feeds)",
            labels=["agency", "endpoints"],
        )
        up.add_metric([agency, str(p["endpoints"])], p["up"])
        yield up
        feeds = GaugeMetricFamily("eew_partner_feeds", "partner endpoints", labels=["agency"])
        feeds.add_metric([agency], p["feeds"])
        yield feeds
        age = GaugeMetricFamily(
            "eew_partner_heartbeat_age_seconds",
            "time since the last verified partner heartbeat (oldest over the feeds)",
            labels=["agency"],
        )
        age.add_metric([agency], p["heartbeat_age_s"])
        yield age
    clock = GaugeMetricFamily(
        "eew_partner_clock_offset_seconds",
        "partner clock minus ours, by what measured it (docs/cross_border.md)",
        labels=["agency", "source"],
    )
    for key, (source, _help) in PARTNER_CLOCK.items():
        if key in p:
            clock.add_metric([agency, source], p[key])
    yield clock
    if "clock_offset_known" in p:
        known = GaugeMetricFamily(
            "eew_partner_clock_offset_known",
            "1 while a partner clock offset is known (the policy acts on their picks)",
            labels=["agency"],
        )
        known.add_metric([agency], p["clock_offset_known"])
        yield known
    c = CounterMetricFamily("eew_partner", "partner exchange counts", labels=["agency", "what"])
    for key in PARTNER_COUNTS:
        c.add_metric([agency, key], p.get(key, 0))
    yield c


class MetricsServer:
    """The optional Prometheus endpoint (own registry, no global state).

    Parameters
    ----------
    collector : HealthCollector
        What is served.
    host, port : str, int
        Where to listen (port 0: any free port, see :attr:`port`).
    """

    def __init__(self, collector: HealthCollector, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server, self._thread = start_http_server(port, host, registry=self.registry)
        self.host = host
        self.port = int(self._server.server_address[1])

    def close(self) -> None:
        """Stop serving and release the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(2.0)
