"""Almaty earthquake early-warning (EEW) pipeline.

The folders follow the data flow; this docstring is the map of who owns what.

Data flow::

    live SeedLink (eew.acquisition.seedlink) / miniSEED archive (eew.acquisition.archive)
        -> eew.model.packet.Packet -> eew.detect.router -> per-channel eew.detect
           (numba kernels in eew.dsp)
        -> eew.model.pick.Pick -> eew.event (association, location, magnitude, forecasts,
           lifecycle, onsite/PLUM)
        -> eew.model.alert.Alert -> sink: JSON Lines (eew replay) or the daemon's outputs
        -> eew.bus (signed ZeroMQ; wire formats in eew.formats) -> subscribers, partner,
           eew.bridge (ActiveMQ/STOMP, MQTT, CAP feed over HTTP)

:mod:`eew.assembly` wires inventory -> router -> event core -> sink once, for ``eew
replay``, ``eew evaluate`` and ``eew run`` alike: only the clock and the data source differ.

Layers, bottom to top (``tests/test_architecture.py`` enforces them, and that no file or
package imports in a circle):

1. ``eew.errors``, ``eew.model`` (the value and message types), ``eew.schemafields``;
2. ``eew.config`` (processing sections), ``eew.inventory``;
3. the stages in flow order: ``eew.acquisition``, ``eew.dsp``, ``eew.detect``,
   ``eew.event`` -- they never import the bus, the daemon, the partner code or the CLI;
4. ``eew.formats`` and ``eew.bus`` -- they import the model, never ``detect`` or ``event``;
   only ``eew.bus`` imports zmq;
5. ``eew.assembly``, ``eew.parallel``, ``eew.partner``, ``eew.daemon``, ``eew.archive_server``,
   ``eew.evaluate``, ``eew.simulate``; ``eew.bridge`` (only the bus, the formats and the
   model below it);
6. ``eew.cli``.

Processing never publishes: every stage hands its results on through a callable or a
bounded queue.

Modules
-------
``eew.errors``
    The one exception base (:class:`~eew.errors.EEWError`) and its few subclasses.
``eew.model``
    ``packet`` (one decoded record), ``pick`` (picks and rejected triggers), ``alert``
    (the canonical ``eew.alert/1`` message), ``timeutil`` (ns since the epoch, ISO 8601,
    ``NS_PER_S``, ``EPOCH``), ``geo`` (great-circle distances), ``clock`` (the ``Clock``
    and ``ObservingClock`` protocols; wall, data and manual clocks).
``eew.schemafields``, ``eew.config``
    Declaring, parsing (unknown keys and broken invariants are errors naming key and
    file) and rendering typed sections; the processing sections (each stage receives its
    own). The configuration *file* (processing + daemon, SeedLink, upstream, partner, bus
    sections, each declared by its owner) is composed at the top, in ``eew.daemon.config``.
``eew.configfile``
    Where the configuration file is looked up (``--config``, ``$EEW_CONFIG``,
    ``./config/eew.toml``, ``/etc/eew/eew.toml``, packaged default) and where the package
    data are: ``eew/data/`` holds the default configuration and target sites (``config/``),
    the AW and KN StationXML (``stations/``) and the travel-time tables.
``eew.inventory``
    ``channel``: per-channel :class:`~eew.inventory.ChannelInfo` records; ``collection``:
    the :class:`~eew.inventory.Inventory` collecting them; ``stationxml`` reads them from
    StationXML (obspy).
``eew.acquisition``
    ``scan`` (numba miniSEED 2 header scanner), ``steim`` (numba Steim1/2 decoder),
    ``mseed`` (headers, miniSEED 3 via pymseed, record decoding), ``archive`` (archive
    files -> packets in SeedLink arrival order), ``windowed`` (the same packets window by
    window of time, memory flat in the archive's length: ``eew replay``), ``seedlink``
    (the live asyncio client, SeedLink 4.0 or 3.1, TLS: protocol, sessions, resume,
    keepalive, latency tracking).
``eew.dsp``
    Pure numerical kernels (numba ``@njit(cache=True)``, each with a plain-NumPy twin):
    ``filters``, ``stalta`` (recursive STA/LTA equal to obspy's), ``chain`` (the fused
    per-packet chain), ``onset`` (AIC), ``earlyp`` (Pd, Pv, Pa, tau_c, tau_p_max),
    ``quality`` (spike/step/boxcar/calibration/clip/flat tests).
``eew.detect``
    Per-channel streaming processors: ``router`` (packets to channels, results out
    through a callback), ``channel`` (state, continuity, resets on gaps), ``ring`` (recent
    samples), ``trigger`` (on/off, dead time, coda re-trigger), ``picker`` (onset
    refinement, rejection, growing-window early-P updates), ``state`` (what a channel
    shares with its picker; the typed counters).
``eew.event``
    ``core`` (the event core: input, ticks, expiry; built from ``corebase`` (shared
    state, predicted arrivals), ``locating`` (location with silent stations, outliers,
    settling), ``evaluation`` (magnitude with P-growth and finite fault, distant tests,
    forecasts, alert decision) and ``association`` (picks to events, new-event search)),
    ``locate`` (EDT/origin-time grid search with silent stations),
    ``traveltime`` (committed tables, ``eew/data``), ``stations``
    (merged channel picks), ``magnitude``, ``groundmotion`` (published GMPE/IPE/GMICE),
    ``forecast`` (targets' intensity and warning time), ``targets``, ``distant`` (teleseism
    and distant-source tests), ``onsite`` (blind-zone alerts), ``lifecycle`` (event
    versions new/update/delete/final), ``incident`` (one incident per earthquake: the
    version chain shared by onsite and source alerts, the alert status), ``shakemap``
    (the forecast model as a function of distance, for ShakeAlert contours and grid).
``eew.formats``
    Native JSON, ShakeAlert v10, QuakeML 1.2, CAP 1.2 (wording and areas in
    ``eew/data/cap_*.toml``), ANSS, and format detection.
``eew.bus``
    The alert bus: publisher (XPUB, last-value cache), CURVE keys, Ed25519 signing,
    verifying subscriber, message gate, handover queue, ``feed`` (one subscriber thread).
``eew.bridge``
    ``eew bridge``: the bus to ActiveMQ over STOMP (ShakeAlert XML), to MQTT (retained
    JSON) and a CAP feed over HTTP (Atom index, Update/Cancel chains).
``eew.assembly``
    The one assembly of the chain (:func:`~eew.assembly.build_chain`).
``eew.parallel``
    ``eew replay --jobs N``, the single run's output on several cores:
    ``messages`` (parent <-> worker), ``worker`` (the workers and their pool), ``parent``
    (windows out, results merged in packet order into the event core).
``eew.partner``
    Cross-border exchange with the partner network (import, relay, merge, export, the
    partner's clock); it knows our side as a :class:`~eew.bus.config.BusSetup`, not the
    daemon.
``eew.daemon``
    ``eew run``: roles station/central/all, supervision, shutdown, health and metrics; the
    configuration file (``eew.daemon.config``).
``eew.archive_server``
    The SeedLink archive server of ``eew serve`` (demo, tests, training), apart from the
    live client.
``eew.evaluate``
    Scenario replay against ``truth.json`` and scorecards (``eew evaluate``).
``eew.simulate``
    Scenario simulator (travel times, stochastic P and S waves, noise, disturbances).
``eew.cli``
    The ``eew`` command: one module per subcommand, imported only when chosen; ``jsonl``
    (JSON Lines output).

Nothing happens at import time and there is no global mutable state.
"""

__version__ = "0.1.0"
