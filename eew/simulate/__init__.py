"""Scenario simulator: synthetic miniSEED with known truth for testing the pipeline.

Data flow::

    scenario.toml ──> scenario (frozen specs) ──> engine ──> writer (miniSEED) + truth.json
                                                    │
        velocity (ALM-1D-v0, TauP tables) ──────────┤
        source (Brune/Boore 2003 spectra, line sources)
        relations (Wu & Zhao 2006 Pd, BSSA14 PGA) ──┤  local, teleseism (phase synthesis)
        noise (Peterson NLNM/NHNM) ─────────────────┤
        disturb (spikes, steps, calibration, gaps, dead, clip, clock offset)

Entry points: :func:`eew.simulate.run.run_scenario_file` (used by ``eew simulate``) and
:func:`eew.simulate.plot.plot_scenario` (``eew plot``). The models and their sources are
described in ``docs/simulator.md``.
"""
