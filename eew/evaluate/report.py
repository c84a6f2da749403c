"""Readable scorecard tables and the totals over scenarios."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from eew.evaluate.score import (
    INTENSITY_TOLERANCE,
    LARGE_MAGNITUDE,
    MAGNITUDE_CHECK_S,
    RUPTURE_END_CHECK_S,
    EventScore,
    MagnitudeCheck,
    ScenarioScore,
)

#: the magnitude after the rupture ends is right within this of the true one (issue 11)
RUPTURE_END_TOLERANCE = 0.3
#: targets whose warning times are printed in the table (all go to the JSON)
TABLE_TARGETS = ("Almaty-Almaly", "Talgar", "Konaev", "Bishkek")


def _f(v: float, fmt: str = "{:.1f}") -> str:
    return "-" if v is None or not math.isfinite(v) else fmt.format(v)


def _median(values: list[float]) -> float:
    vals = [v for v in values if math.isfinite(v)]
    return float(np.median(vals)) if vals else math.nan


def totals(scores: Sequence[ScenarioScore]) -> dict[str, Any]:
    """Summary over scenarios (counts and medians of the per-event numbers).

    Parameters
    ----------
    scores : sequence of ScenarioScore
        One per scenario.
    """
    events = [e for s in scores for e in s.events]
    alertable = [e for e in events if e.alertable]
    detected = [e for e in alertable if e.detected]
    inside = [e for e in detected if e.inside_network]
    return {
        "scenarios": len(scores),
        "true_events": len(events),
        "alertable_events": len(alertable),
        "alertable_detected": len(detected),
        "missed": sorted(
            f"{s.scenario}/{e.id}"
            for s in scores
            for e in s.events
            if e.alertable and not e.detected
        ),
        "public_alert_decisions_right": sum(s.public_alert_right for s in scores),
        "public_alert_wrong": sorted(s.scenario for s in scores if not s.public_alert_right),
        "false_alerts": sum(len(s.false_alerts) for s in scores),
        "duplicate_alerts": sum(s.duplicate_alerts for s in scores),
        "onsite_alerts": sum(s.onsite_alerts for s in scores),
        "false_onsite_alerts": sum(s.false_onsite_alerts for s in scores),
        "median_first_alert_after_origin_s": _median(
            [e.first_alert_after_origin_s for e in detected]
        ),
        "median_first_alert_after_p4_s": _median([e.first_alert_after_p4_s for e in detected]),
        "max_first_alert_after_p4_s": max(
            (e.first_alert_after_p4_s for e in detected if math.isfinite(e.first_alert_after_p4_s)),
            default=math.nan,
        ),
        "median_first_epicentral_error_inside_km": _median(
            [e.first_alert_epicentral_error_km for e in inside]
        ),
        "median_epicentral_error_inside_km": _median(
            [e.median_epicentral_error_km for e in inside]
        ),
        "median_abs_magnitude_error_at_p4_3s": _median(
            [abs(e.magnitude_at_p4_3s - e.magnitude) for e in detected]
        ),
        **magnitude_totals(events),
        **intensity_totals(events),
    }


def magnitude_totals(events: Sequence[EventScore]) -> dict[str, Any]:
    """Magnitude figures at the checkpoints of :data:`MAGNITUDE_CHECK_S`.

    Per checkpoint: events with an estimate, median |dM| against the final and the
    released magnitude; how many alertable M >= 7 events read at least M7.0 by 10 s; and,
    for those with a finite rupture (a moment-release series), the median |dM| against the
    true magnitude :data:`~eew.evaluate.score.RUPTURE_END_CHECK_S` after the rupture ends
    and how many are then within :data:`RUPTURE_END_TOLERANCE` (no estimate yet: not within).
    """
    out: dict[str, Any] = {}
    for t in MAGNITUDE_CHECK_S:
        checks = [c for e in events for c in e.magnitude_checks if c.after_origin_s == t]
        have = [c for c in checks if math.isfinite(c.estimate)]
        key = f"{t:g}s"
        out[f"events_with_magnitude_at_{key}"] = len(have)
        out[f"median_abs_magnitude_error_at_{key}"] = _median([abs(c.error) for c in have])
        out[f"median_abs_released_magnitude_error_at_{key}"] = _median(
            [abs(c.error_released) for c in have]
        )
    # the alertable ones: a teleseism or a deep distant event is not expected to read M7
    large = [e for e in events if e.alertable and e.magnitude >= LARGE_MAGNITUDE]
    out["large_events"] = len(large)
    out["large_events_m7_by_10s"] = sum(
        1
        for e in large
        for c in e.magnitude_checks
        if c.after_origin_s == 10.0 and math.isfinite(c.estimate) and c.estimate >= 7.0
    )
    # RUPTURE_END_CHECK_S after the rupture ends, against the true magnitude (M >= 7)
    ends = [e.rupture_end_check for e in large if e.rupture_end_check]
    have = [c for c in ends if math.isfinite(c.estimate)]
    out["rupture_end_events"] = len(ends)
    out["median_abs_magnitude_error_after_rupture_end"] = _median([abs(c.error) for c in have])
    out["rupture_end_within_0_3"] = sum(abs(c.error) <= RUPTURE_END_TOLERANCE for c in have)
    return out


def intensity_totals(events: Sequence[EventScore]) -> dict[str, Any]:
    """Fraction of forecast MSK intensities within the tolerance of the observed ones.

    Pooled over every event's targets, for the first and the final estimate.
    """
    first = [(t.predicted_msk, t.observed_msk) for e in events for t in e.targets]
    final = [(t.final_predicted_msk, t.observed_msk) for e in events for t in e.targets]

    def frac(pairs: list[tuple[float, float]]) -> tuple[int, float]:
        ok = [(p, o) for p, o in pairs if math.isfinite(p) and math.isfinite(o)]
        if not ok:
            return 0, math.nan
        return len(ok), sum(abs(p - o) <= INTENSITY_TOLERANCE for p, o in ok) / len(ok)

    n1, f1 = frac(first)
    n2, f2 = frac(final)
    return {
        "intensity_targets_first": n1,
        "intensity_within_1_msk_first": f1,
        "intensity_targets_final": n2,
        "intensity_within_1_msk_final": f2,
    }


def format_scenario(s: ScenarioScore) -> str:
    """A few readable lines per scenario: one per true event plus the false-alert counts."""
    lines = [f"{s.scenario} ({s.description})" if s.description else s.scenario]
    hdr = (
        f"  {'event':<6} {'M':>4} {'in':>3} {'det':>3} {'t1-T0':>6} {'t1-P4':>6} {'dEpi1':>6} "
        f"{'dZ1':>5} {'M1':>5} {'M@P4+3':>6} {'|dM|max':>7} {'medEpi':>6} {'M>6.5':>6} "
        f"{'onsite':>6}"
    )
    lines.append(hdr)
    for e in s.events:
        lines.append(_event_row(e))
    for e in s.events:
        if e.detected and e.targets:
            warn = {t.name: t for t in e.targets}
            parts = [
                f"{n} {_f(warn[n].true_warning_s)} s (pred {_f(warn[n].predicted_warning_s)})"
                for n in TABLE_TARGETS
                if n in warn
            ]
            lines.append(f"  {e.id}: warning " + "; ".join(parts))
    for e in s.events:
        lines.extend(_event_extra(e))
    lines.append(
        f"  source alerts {s.source_alerts}, false {len(s.false_alerts)}, duplicates "
        f"{s.duplicate_alerts}, events found {s.events_found}/{len(s.events)} (declared "
        f"{s.events_declared}), onsite alerts {s.onsite_alerts} (false "
        f"{s.false_onsite_alerts}), picks {s.picks}"
    )
    lines.append(
        f"  public alert: expected {'yes' if s.public_alert_expected else 'no'}, sent "
        f"{'yes' if s.public_alert_sent else 'no'} "
        f"({'right' if s.public_alert_right else 'WRONG'})"
    )
    return "\n".join(lines)


def _seen(c: MagnitudeCheck) -> str:
    """The part of the released moment whose P waves had reached 1 and 4 stations."""
    if not (math.isfinite(c.seen_by_one) or math.isfinite(c.seen_by_four)):
        return ""
    return f", at 1/4 stations {_f(c.seen_by_one, '{:.2f}')}/{_f(c.seen_by_four, '{:.2f}')}"


def _event_extra(e: EventScore) -> list[str]:
    """Magnitude at the checkpoints and the intensity score of one event (if any)."""
    out = []
    if any(math.isfinite(c.estimate) for c in e.magnitude_checks):
        parts = [
            f"{c.after_origin_s:g} s {_f(c.estimate, '{:.2f}')} (released "
            f"{_f(c.released, '{:.2f}')}{_seen(c)})"
            for c in e.magnitude_checks
        ]
        out.append(f"  {e.id}: M at " + "; ".join(parts))
    c = e.rupture_end_check
    if c is not None:
        out.append(
            f"  {e.id}: M {RUPTURE_END_CHECK_S:g} s after the rupture ends ("
            f"{c.after_origin_s:.1f} s) {_f(c.estimate, '{:.2f}')} (true "
            f"{c.true_magnitude:.2f}, error {_f(c.error, '{:+.2f}')})"
        )
    if e.intensity_targets:
        scored = [t for t in e.targets if math.isfinite(t.observed_msk)]
        worst = max(
            (t for t in scored if math.isfinite(t.final_predicted_msk)),
            key=lambda t: abs(t.final_predicted_msk - t.observed_msk),
        )
        out.append(
            f"  {e.id}: MSK within +-{INTENSITY_TOLERANCE:g} at {e.intensity_targets} targets: "
            f"first {_f(100 * e.intensity_within_1_first, '{:.0f}')} %, final "
            f"{_f(100 * e.intensity_within_1_final, '{:.0f}')} % (worst {worst.name}: "
            f"forecast {worst.final_predicted_msk:.1f}, observed {worst.observed_msk:.1f})"
        )
    return out


def _event_row(e: EventScore) -> str:
    big = e.magnitude >= LARGE_MAGNITUDE
    onsite = e.onsite_after_first_p_data_s
    return (
        f"  {e.id[:6]:<6} {e.magnitude:>4.1f} {'y' if e.inside_network else 'n':>3} "
        f"{('yes' if e.detected else 'NO') if e.alertable else ('y' if e.detected else '-'):>3} "
        f"{_f(e.first_alert_after_origin_s):>6} {_f(e.first_alert_after_p4_s):>6} "
        f"{_f(e.first_alert_epicentral_error_km):>6} {_f(e.first_alert_depth_error_km):>5} "
        f"{_f(e.first_alert_magnitude, '{:.2f}'):>5} {_f(e.magnitude_at_p4_3s, '{:.2f}'):>6} "
        f"{_f(e.max_magnitude_error_after_p4_3s, '{:.2f}'):>7} "
        f"{_f(e.median_epicentral_error_km):>6} "
        f"{_f(e.magnitude_over_6_5_after_origin_s) if big else '':>6} {_f(onsite, '{:.2f}'):>6}"
    )


def format_totals(t: dict[str, Any]) -> str:
    """The total line block."""
    return "\n".join(
        [
            f"TOTAL over {t['scenarios']} scenarios: {t['alertable_detected']}/"
            f"{t['alertable_events']} alertable events alerted"
            + (f" (missed: {', '.join(t['missed'])})" if t["missed"] else ""),
            f"  public-alert decision right in {t['public_alert_decisions_right']}/"
            f"{t['scenarios']} scenarios"
            + (
                f" (wrong: {', '.join(t['public_alert_wrong'])})" if t["public_alert_wrong"] else ""
            ),
            f"  false source alerts {t['false_alerts']}, duplicates {t['duplicate_alerts']}, "
            f"onsite alerts {t['onsite_alerts']} (false {t['false_onsite_alerts']})",
            f"  first alert: median {_f(t['median_first_alert_after_origin_s'])} s after origin, "
            f"median {_f(t['median_first_alert_after_p4_s'])} s / max "
            f"{_f(t['max_first_alert_after_p4_s'])} s after P at the 4th station",
            f"  epicentral error inside the network: first alert median "
            f"{_f(t['median_first_epicentral_error_inside_km'])} km, per-event median "
            f"{_f(t['median_epicentral_error_inside_km'])} km; |dM| at P4+3 s median "
            f"{_f(t['median_abs_magnitude_error_at_p4_3s'], '{:.2f}')}",
            "  |dM| against the final (released) magnitude: "
            + "; ".join(
                f"{k:g} s {_f(t[f'median_abs_magnitude_error_at_{k:g}s'], '{:.2f}')} "
                f"({_f(t[f'median_abs_released_magnitude_error_at_{k:g}s'], '{:.2f}')}, "
                f"{t[f'events_with_magnitude_at_{k:g}s']} events)"
                for k in MAGNITUDE_CHECK_S
            )
            + f"; alertable M>=7 events at M7.0 or more by 10 s: {t['large_events_m7_by_10s']}/"
            f"{t['large_events']}",
            f"  {RUPTURE_END_CHECK_S:g} s after the rupture ends, alertable M>=7 events: |dM| "
            f"median {_f(t['median_abs_magnitude_error_after_rupture_end'], '{:.2f}')}, within "
            f"{RUPTURE_END_TOLERANCE:g} of the true magnitude {t['rupture_end_within_0_3']}/"
            f"{t['rupture_end_events']}",
            f"  target MSK within +-{INTENSITY_TOLERANCE:g} of the observed: first estimate "
            f"{_f(100 * t['intensity_within_1_msk_first'], '{:.0f}')} % of "
            f"{t['intensity_targets_first']}, final "
            f"{_f(100 * t['intensity_within_1_msk_final'], '{:.0f}')} % of "
            f"{t['intensity_targets_final']}",
        ]
    )


LEGEND = (
    "columns: in = inside the network; det = alerted (NO: missed alertable event); "
    "t1-T0, t1-P4 = first alert after origin / after true P at the 4th station [s]; "
    "dEpi1, dZ1, M1 = epicentral [km] and depth [km] error and magnitude of the first "
    "alert; M@P4+3 = published magnitude 3 s after P4; |dM|max = largest magnitude error "
    "from then on; medEpi = median epicentral error of the alert messages [km]; "
    "M>6.5 = first magnitude above 6.5 after origin [s] (M>=7); onsite = onsite alert "
    "after the end of the packet with the first P at a city station [s]"
)
