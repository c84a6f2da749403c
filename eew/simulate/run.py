"""Run a scenario file end to end: load, simulate, write miniSEED, ``truth.json`` and the TOML."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eew.errors import ConfigError
from eew.simulate import engine, writer
from eew.simulate.scenario import Scenario, load_scenario
from eew.simulate.stations import (
    SimChannel,
    default_inventory_paths,
    load_channels,
    select_stations,
)
from eew.simulate.truth import build_truth
from eew.simulate.velocity import default_cache_dir

log = logging.getLogger(__name__)

TRUTH_FILE = "truth.json"
SCENARIO_FILE = "scenario.toml"


def write_simulation(sim: engine.Simulation, out_dir: Path) -> dict[str, Any]:
    """Write every channel and ``truth.json`` into ``out_dir``; return the truth document."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.mseed"):
        old.unlink()
    for data in sim.channels:
        writer.write_channel(data, sim.scenario.start_time, out_dir)
    truth = build_truth(sim)
    (out_dir / TRUTH_FILE).write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return truth


def simulate_scenario(
    scn: Scenario,
    out_dir: Path,
    cache_dir: Path | None = None,
    channels: Sequence[SimChannel] | None = None,
) -> dict[str, Any]:
    """Simulate ``scn`` and write it to ``out_dir``.

    Parameters
    ----------
    scn : Scenario
        Parsed scenario.
    out_dir : pathlib.Path
        Output folder (created; old ``*.mseed`` files in it are removed).
    cache_dir : pathlib.Path, optional
        Travel-time cache (default :func:`~eew.simulate.velocity.default_cache_dir`).
    channels : sequence of SimChannel, optional
        Channels to use instead of reading the scenario's StationXML files (tests).

    Returns
    -------
    dict
        The ``truth.json`` document.
    """
    t_start = time.perf_counter()
    if channels is None:
        paths = scn.stations.inventory or default_inventory_paths()
        for p in paths:
            if not Path(p).exists():
                raise ConfigError(f"{scn.path}: [stations] inventory file {p} does not exist")
        channels = load_channels(list(paths), scn.start_time.ns)
    stations = select_stations(channels, scn.stations.include, scn.stations.channels)
    sim = engine.simulate(scn, stations, cache_dir or default_cache_dir())
    truth = write_simulation(sim, Path(out_dir))
    if scn.path is not None:
        target = Path(out_dir) / SCENARIO_FILE
        if target.resolve() != Path(scn.path).resolve():
            shutil.copyfile(scn.path, target)
    log.info(
        "scenario %s: %d channels in %.1f s",
        scn.name,
        len(sim.channels),
        time.perf_counter() - t_start,
    )
    return truth


def run_scenario_file(
    path: str | Path, out_dir: str | Path, cache_dir: Path | None = None
) -> dict[str, Any]:
    """Load the scenario TOML at ``path`` and simulate it into ``out_dir``."""
    return simulate_scenario(load_scenario(path), Path(out_dir), cache_dir)
