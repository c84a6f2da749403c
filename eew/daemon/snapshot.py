"""One health snapshot of a running daemon, from the statistics of its parts.

:func:`health_snapshot` reads the counters every stage reports (SeedLink client,
upstream feeds, bus publisher, partner exchange, event journal, per-channel router)
into one immutable :class:`~eew.daemon.health.DaemonHealth`: queue depths, drops per
cause, station latencies, metadata disagreements and the partner link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from eew.daemon.health import DaemonHealth, median_or_nan, partner_fields, station_latencies

if TYPE_CHECKING:
    from eew.acquisition.seedlink.client import SeedLinkClient
    from eew.daemon.eventstate import EventJournal
    from eew.daemon.publish import AlertPublisher
    from eew.daemon.upstream import Upstream
    from eew.detect.router import Pipeline
    from eew.partner.exchange import PartnerExchange


def health_snapshot(
    *,
    now_ns: int,
    role: str,
    station_live_s: float,
    processed: int,
    first_wait_s: float,
    wait_max_s: float,
    output_counts: Mapping[str, int],
    client: SeedLinkClient | None,
    upstream: Upstream | None,
    publisher: AlertPublisher | None,
    partner: PartnerExchange | None,
    events: EventJournal | None,
    router: Pipeline | None,
) -> DaemonHealth:
    """The daemon's health now.

    Parameters
    ----------
    now_ns : int
        Processing clock [ns].
    role : str
        The daemon's role.
    station_live_s : float
        A station is live while its newest data are at most this old [s].
    processed : int
        Packets (or picks) processed since the start.
    first_wait_s, wait_max_s : float
        From arrival to the end of processing: the first packet, the longest [s].
    output_counts : Mapping
        The output counters (picks, alerts, rejections...).
    client, upstream, publisher, partner, events, router
        The daemon's parts (None where its role has none).
    """
    queues: dict[str, int] = {}
    drops: dict[str, int] = {}
    latency: dict[str, float] = {}
    live = total = 0
    newest: int | None = None
    if client is not None:
        cs = client.statistics()
        latency, live, total, newest = station_latencies(cs.channels, now_ns, station_live_s)
        queues["seedlink"] = cs.queued
        for key in ("duplicates", "future", "malformed", "truncated", "unexpected"):
            drops[f"seedlink_{key}"] = sum(getattr(s, key) for s in cs.servers)
    if upstream is not None:
        us = upstream.statistics()
        queues["upstream_picks"] = us.queued
        drops["upstream_picks"] = us.dropped
        newest = upstream.data_end_ns("")
        live = total = us.feeds
    if publisher is not None:
        ps = publisher.statistics()
        queues["bus_alerts"] = ps.alerts_queued
        queues["bus_picks"] = ps.picks_queued
        drops["bus_picks"] = ps.picks_dropped
        drops["bus_send"] = ps.send_dropped
        drops["bus_tail_write_errors"] = ps.tail_write_errors
    link = partner.statistics().link if partner is not None else None
    if link is not None:
        queues["partner"] = link.queued
        drops["partner_picks"] = link.dropped
        drops["partner_forged"] = link.gate.dropped_forged
        drops["partner_stale"] = link.gate.dropped_stale
        drops["partner_replayed"] = link.gate.dropped_replayed
        drops["partner_unsigned"] = link.gate.dropped_unsigned
        drops["partner_malformed"] = link.gate.dropped_malformed
    partner_info: dict[str, object] = {}
    if partner is not None:
        cfg = partner.cfg
        partner_info = partner_fields(
            partner.statistics(), cfg.agency, cfg.endpoints, partner.own_agency
        )
    if events is not None:
        counts_events = {f"events_{k}": v for k, v in events.counts.items()}
    else:
        counts_events = {}
    metadata: dict[str, int] = {}
    if router is not None:
        metadata.update(router.metadata_counts().as_dict())
        metadata.update({f"inventory_{k}": v for k, v in router.inventory.issues.as_dict().items()})
    return DaemonHealth(
        time_ns=now_ns,
        role=role,
        live_stations=live,
        stations=total,
        last_packet_time_ns=newest,
        data_latency_s=median_or_nan(latency.values()),
        station_latency_s=latency,
        packets=processed,
        queues=queues,
        drops=drops,
        counts={**output_counts, **counts_events},
        metadata=metadata,
        partner=partner_info,
        first_packet_wait_s=first_wait_s,
        packet_wait_max_s=wait_max_s,
    )
