"""Almaty earthquake early-warning (EEW) pipeline.

The folders follow the data flow; this docstring is the map of who owns what.

Data flow::

    SeedLink (eew.seedlink) / miniSEED archive (eew.ingest)
        -> packets -> eew.detect.router -> per-channel eew.detect (numba kernels in eew.dsp)
        -> picks with early-P parameters -> eew.event (association, location, magnitude,
           forecasts, alert lifecycle, onsite/PLUM) -> alerts
        -> eew.bus (signed ZeroMQ bus; formats in eew.formats) -> subscribers, partner

Every stage hands its results to the next through a callable or a bounded queue;
processing never publishes, and only ``eew.bus`` imports zmq.

Modules
-------
``eew.errors``
    The one exception base (:class:`~eew.errors.EEWError`) and its few subclasses.
``eew.model.clock``
    Injected clocks: wall clock for the daemon, data clock for replay, manual clock for tests.
``eew.config``, ``eew.schemafields``
    The processing configuration (typed, frozen sections, the single source of every
    default; each stage receives its own sections) and the machinery every section uses
    (declaration, TOML parsing with unknown-key and invariant checks, rendering). The
    configuration *file* is composed at the top, in ``eew.daemon.config``.
``eew.inventory``
    ``channel``: per-channel :class:`~eew.inventory.ChannelInfo` records; ``collection``:
    the :class:`~eew.inventory.Inventory` collecting them; ``stationxml`` reads them from
    StationXML (obspy).
``eew.ingest``
    ``packet``: the :class:`~eew.model.packet.Packet` value (one decoded record);
    ``scan``: numba miniSEED 2 header scanner; ``steim``: numba Steim1/2 decoder;
    ``mseed``: header parsing (miniSEED 3 via pymseed) and record decoding;
    ``replay``: archive files -> packets merged in arrival order.
``eew.dsp``
    Pure numerical kernels (numba ``@njit(cache=True)``, each with a plain-NumPy twin):
    ``filters``, ``stalta`` (recursive STA/LTA equal to obspy's), ``chain`` (the fused
    per-packet chain), ``onset`` (AIC), ``earlyp`` (Pd, Pv, Pa, tau_c, tau_p_max),
    ``quality`` (spike/step/boxcar/calibration/clip/flat tests).
``eew.detect``
    Per-channel streaming processors: ``channel`` (state, continuity, resets on gaps),
    ``ring`` (recent samples), ``trigger`` (on/off, dead time, coda re-trigger), ``picker``
    (onset refinement, rejection, growing-window early-P updates), ``state`` (what a
    channel shares with its picker; the typed counters).
``eew.detect.router``
    The per-channel router: packets in, results out through a callback.
``eew.assembly``
    The one assembly of the chain (inventory -> router -> event core -> sink) that
    ``eew replay``, ``eew evaluate`` and ``eew run`` share; only the injected clock and
    data source differ.
``eew.event``
    ``core`` (association and event evaluation), ``locate`` (EDT/origin-time grid search
    with silent stations), ``traveltime`` (committed tables, ``eew/data``), ``stations``
    (merged channel picks), ``magnitude``, ``groundmotion`` (published GMPE/IPE/GMICE),
    ``forecast`` (targets' intensity and warning time), ``targets``, ``distant`` (teleseism
    and distant-source tests), ``onsite`` (blind-zone alerts), ``alerting`` (lifecycle),
    ``alert`` (the canonical ``eew.alert/1`` model).
``eew.formats``
    Native JSON, ShakeAlert v10, QuakeML 1.2, CAP 1.2, ANSS, and format detection.
``eew.bus``
    The alert bus: publisher (XPUB, last-value cache), CURVE keys, Ed25519 signing,
    verifying subscriber, message gate, handover queue, ``feed`` (one subscriber thread).
``eew.partner``
    Cross-border exchange with the partner network (import, relay, merge, export).
``eew.seedlink``
    SeedLink 3.1 protocol, asyncio client (resume, keepalive, latency) and archive server.
``eew.daemon``
    ``eew run``: roles station/central/all, supervision, shutdown, health and metrics; the
    configuration file (``eew.daemon.config``: every section, composed at the top).
``eew.evaluate``
    Scenario replay against ``truth.json`` and scorecards (``eew evaluate``).
``eew.simulate``
    Scenario simulator (travel times, stochastic P and S waves, noise, disturbances).
``eew.io``
    JSON Lines output.
``eew.cli``
    The ``eew`` command: one module per subcommand.

Nothing happens at import time and there is no global mutable state.
"""

__version__ = "0.1.0"
