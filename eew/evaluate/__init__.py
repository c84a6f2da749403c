"""Scenario evaluation: replay simulated scenarios and score alerts against their truth.

* :mod:`eew.evaluate.run` - the replay wiring (pipeline + event core, 1-s live packets);
* :mod:`eew.evaluate.truth` - ``truth.json`` and network geometry;
* :mod:`eew.evaluate.score` - the per-scenario scorecard;
* :mod:`eew.evaluate.report` - tables and totals;
* :mod:`eew.evaluate.plots` - PNG plots;
* :mod:`eew.evaluate.scenario` - evaluate folders and write the outputs (``eew evaluate``).
"""
