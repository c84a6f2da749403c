"""Evaluate scenario folders: replay, score against the truth, write the scorecard and plots."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eew.acquisition.archive import index_archive
from eew.daemon.config import Settings, load_settings
from eew.errors import DataError
from eew.evaluate.report import totals
from eew.evaluate.run import DEFAULT_PACKET_S, ReplayRun, live_packets, run_packets
from eew.evaluate.score import ScenarioScore, _clean, score_scenario
from eew.evaluate.truth import TRUTH_FILE, Truth, load_truth
from eew.event.locate import TravelTimeStack
from eew.event.traveltime import load_stack
from eew.inventory import Inventory, load_inventory

SCORECARD_FILE = "scorecard.json"


@dataclass
class ScenarioResult:
    """Truth, replay output and scorecard of one scenario."""

    path: Path
    truth: Truth
    run: ReplayRun
    score: ScenarioScore


@dataclass(frozen=True)
class Evaluator:
    """What every scenario evaluation shares: configuration, stations, tables.

    Parameters
    ----------
    settings : Settings
        Configuration of the replay.
    inventory : Inventory
        Station metadata.
    stack : TravelTimeStack
        Travel-time tables (true S arrival at the targets).
    packet_s : float
        Longest packet [s] (see :func:`eew.evaluate.run.live_packets`).
    """

    settings: Settings
    inventory: Inventory
    stack: TravelTimeStack
    packet_s: float = DEFAULT_PACKET_S

    @classmethod
    def default(
        cls, packet_s: float = DEFAULT_PACKET_S, settings: Settings | None = None
    ) -> Evaluator:
        """Build from the repository configuration (or ``settings``)."""
        s = settings if settings is not None else load_settings()
        return cls(s, load_inventory(s.config.stationxml_paths()), load_stack(), packet_s)

    def evaluate(self, scenario_dir: str | Path) -> ScenarioResult:
        """Replay one scenario folder and score it.

        Raises
        ------
        DataError
            No ``truth.json`` in the folder, or unreadable data.
        """
        path = Path(scenario_dir)
        if not (path / TRUTH_FILE).is_file():
            raise DataError(f"{path}: not a scenario folder (no {TRUTH_FILE})")
        truth = load_truth(path)
        idx = index_archive([path])
        run = run_packets(live_packets(idx, self.packet_s), self.settings, self.inventory)
        score = score_scenario(truth, run, self.settings.config.onsite, self.stack, self.packet_s)
        return ScenarioResult(path, truth, run, score)


def scorecard(results: Sequence[ScenarioResult]) -> dict[str, Any]:
    """The ``scorecard.json`` content: every scenario's card and the totals."""
    scores = [r.score for r in results]
    return {
        "schema": "eew-scorecard/1",
        "scenarios": [s.to_dict() for s in scores],
        "total": _clean(totals(scores)),
    }


def write_outputs(results: Sequence[ScenarioResult], out_dir: str | Path) -> list[Path]:
    """Write ``scorecard.json`` and per-scenario ``errors.png`` and ``map.png``.

    Returns
    -------
    list of Path
        The files written.
    """
    from eew.evaluate.plots import plot_errors, plot_map

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    card = out / SCORECARD_FILE
    card.write_text(json.dumps(scorecard(results), indent=1, allow_nan=False) + "\n", "utf-8")
    written = [card]
    for r in results:
        sub = out / r.score.scenario
        written.append(plot_errors(r.score, sub / "errors.png"))
        written.append(plot_map(r.truth, r.run, r.score, sub / "map.png"))
    return written
