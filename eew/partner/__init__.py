"""Cross-border exchange with a partner network (KNET / KG-MES for the Almaty system).

Implementation overview (see ``docs/cross_border.md``):

:mod:`eew.partner.config`
    ``PartnerConfig``, the ``[partner]`` section (endpoints, keys, inventory, what to
    import and export, merge tolerances, clock policy).
:mod:`eew.partner.link`
    ``PartnerLink``: the partner's feeds (verified bus subscribers in threads) into two
    bounded queues drained by the daemon's event loop.
:mod:`eew.partner.merge`
    ``AlertMerger``: which partner alerts our subscribers see (relay, merge, close);
    ``SameEvent``: one earthquake or two, from both solutions' uncertainties.
:mod:`eew.partner.clock`
    ``ClockMonitor``: the partner's clock offset (pick residuals of shared events,
    heartbeats), reported, and corrected or discarded by policy.
:mod:`eew.partner.clockstate`
    The measured clock offset kept across a daemon restart (a file next to the SeedLink
    state).
:mod:`eew.partner.relay`
    ``RelayPublisher`` (our bus publisher, allowed to carry partner alerts) and
    ``Exporter`` (our own picks and alerts to the partner; never theirs back).
:mod:`eew.partner.exchange`
    ``PartnerExchange``: the rules between those pieces, as the daemon wires them. It
    knows our side only as an ``eew.bus.config.BusSetup`` (agency, bus sections, key directory) and
    publishers through narrow protocols: the daemon imports the partner, never the reverse.

Nothing here starts anything or configures logging at import; importing this package
loads only the configuration class.
"""

from eew.partner.config import PartnerConfig

__all__ = ["PartnerConfig"]
