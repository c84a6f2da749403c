"""Almaty earthquake early-warning (EEW) pipeline.

The folders follow the data flow; this docstring is the map of who owns what.

Data flow::

    miniSEED archive / SeedLink ──> ingest ──> pipeline ──> dsp kernels ──> detect ──> picks
                                                  (per channel state)           (callback)

Modules
-------
``eew.errors``
    The one exception base (:class:`~eew.errors.EEWError`) and its few subclasses.
``eew.clock``
    Injected clocks: wall clock for the daemon, data clock for replay, manual clock for tests.
``eew.config``
    The typed, frozen configuration schema (single source of every default), TOML loading
    with unknown-key and invariant checks, and the ``--dump`` rendering.
``eew.inventory``
    StationXML loading into per-channel :class:`~eew.inventory.ChannelInfo` records
    (coordinates, sample rate, sensitivity, input unit).
``eew.ingest``
    ``packet``: the :class:`~eew.ingest.packet.Packet` value (one decoded record);
    ``mseed``: splitting and decoding miniSEED records (pymseed/libmseed), with bad-record
    accounting; ``replay``: archive files -> packets merged in arrival order.
``eew.dsp``
    Pure numerical kernels (numba ``@njit(cache=True)``, each with a plain-NumPy twin):
    ``filters`` (Butterworth design, stateful biquads), ``stalta`` (recursive STA/LTA),
    ``chain`` (the fused per-packet chain: gain, baseline, band-pass, STA/LTA, integration
    to velocity/displacement with the 0.075 Hz high-pass, tau_p), ``onset`` (AIC picker),
    ``earlyp`` (Pd, Pv, Pa, tau_c, tau_p_max on a window), ``quality`` (spike/step/boxcar/
    calibration/clip/flat tests).
``eew.detect``
    Per-channel streaming processors: ``channel`` (state, continuity checks, resets on gaps),
    ``trigger`` (on/off state machine, dead time), ``picker`` (onset refinement, rejection,
    growing-window early-P measurements, emission of :class:`~eew.detect.picks.Pick`).
``eew.pipeline``
    The router the daemon and replay share: packets in, picks out through a callback;
    statistics per stage; never publishes anything itself.
``eew.io``
    Serialisation of results (JSON Lines).
``eew.simulate``
    Scenario simulator (travel times, stochastic P and S waves, noise, disturbances).
``eew.cli``
    The ``eew`` command: one module per subcommand (``replay``, ``config``, ``simulate``,
    ``plot``).

Nothing happens at import time and there is no global mutable state.
"""

__version__ = "0.1.0"
