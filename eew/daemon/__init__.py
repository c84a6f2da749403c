"""The live daemon behind ``eew run``: SeedLink in, picks and alerts out over the bus.

Implementation overview (see ``docs/operations.md``):

:mod:`eew.daemon.config`
    :class:`Settings`, the whole configuration file composed from the sections each
    package declares (processing: :mod:`eew.config`; ``[daemon]``, ``[seedlink]``,
    ``[upstream]``: :mod:`eew.daemon.schema`; bus and partner), and
    :func:`load_settings`, which reads and checks it (``eew run``, ``eew replay``,
    ``eew evaluate``, ``eew config``).
:mod:`eew.daemon.publish`
    The ``AlertPublisher`` protocol the daemon publishes through, the real
    :class:`eew.bus.Publisher` built from the settings, and ``MemoryPublisher``,
    a test double.
:mod:`eew.daemon.outputs`
    The sink behind the pipeline/event core: routes picks and alerts to the publisher,
    counts everything, logs one line per event, remembers which packet completed an alert.
:mod:`eew.daemon.upstream`
    The central role's intake: pick feeds of station daemons (bus subscribers in threads)
    into one bounded, drop-oldest queue.
:mod:`eew.daemon.health`
    ``DaemonHealth`` snapshots (latency per station, live stations, queues, drops) and the
    optional Prometheus endpoint.
:mod:`eew.daemon.startup`
    Start-up checks: a port in use as one clear error (exit status 75), WARNINGs for the
    sections the role ignores.
:mod:`eew.daemon.warmup`
    Every numba kernel of the chain compiled or loaded from its cache, on synthetic data,
    before the daemon connects to its data.
:mod:`eew.daemon.eventstate`
    ``EventJournal``: our open events persisted; after a restart continued under their
    id or closed with a ``final``.
:mod:`eew.daemon.runner`
    :class:`Daemon`: wires the role's stages as asyncio tasks, supervises them and stops
    cleanly (stop intake, drain, close the publisher, persist the SeedLink state).
:mod:`eew.daemon.logfmt`
    One-line ``key=value`` log formatting, installed by the CLI only.

Nothing here configures logging or starts anything at import.
"""
