"""Alerts as a person reads them on a terminal: one compact block per alert.

Shared by ``eew subscribe`` (where the countdown ticks) and ``eew replay`` (its report).
The words come from the CAP texts (``eew/data/cap_text.toml``, :mod:`eew.formats.cap_text`)
in the chosen language, and the intensity shown is the CAP *public level* of each target
(:func:`eew.formats.cap_text.public_level`: Roman, "≥" where it is a lower bound), so the
screen, the CAP message and a siren driven from either say the same thing.

A block (English)::

    *** TEST: This is not a real warning. ***
    EARTHQUAKE WARNING  M≥4.9 Mpd  [v0 new, KZ-AEWS ev-1]
      43.21°N 76.96°E, depth 13 km, 5 km from Almaty-Medeu
      origin time 12:00:09 UTC (17:00:09 UTC+5), 4 stations
      Expected shaking:
        Almaty-Medeu     ≥ V  (MSK-64)  in 3 s
        Almaty-Almaly    IV   (MSK-64)  now
      > Drop, cover and hold on until the shaking stops. ...
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from eew.formats.cap_text import area_of, instruction, place, public_level, text, worst
from eew.model.alert import Alert, TargetForecast
from eew.model.intensity import almaty_time
from eew.model.timeutil import NS_PER_S, ns_to_iso

#: targets shown by default: the nearest ones to the epicentre
NEAREST = 5


def choose_targets(
    alert: Alert, names: Sequence[str] | None = None, nearest: int = NEAREST
) -> list[TargetForecast]:
    """The targets a block shows.

    Parameters
    ----------
    alert : Alert
        The alert.
    names : sequence of str, optional
        These targets, in this order (those the alert lacks are left out).
    nearest : int
        Without ``names``: this many targets, nearest to the epicentre first.
    """
    if names:
        by_name = {t.name: t for t in alert.targets}
        return [by_name[n] for n in dict.fromkeys(names) if n in by_name]
    return sorted(alert.targets, key=lambda t: (t.distance_km, t.name))[:nearest]


def seconds_left(target: TargetForecast, now_ns: int) -> int | None:
    """Whole seconds until the S waves reach ``target`` (rounded up); None once they have."""
    left_ns = target.s_arrival_time_ns - now_ns
    if left_ns <= 0:
        return None
    return -(-left_ns // NS_PER_S)


def _clock(time_ns: int) -> str:
    utc = ns_to_iso(time_ns)[11:19]
    return f"{utc} UTC ({almaty_time(time_ns)} UTC+5)"


def _magnitude(alert: Alert) -> str:
    return f"M{'≥' if alert.magnitude_is_lower_bound else ''}{alert.magnitude:.1f} " + (
        alert.magnitude_type
    )


def drill_line(alert: Alert, lang: str = "en") -> str | None:
    """``*** TEST: This is not a real warning. ***``; None for a real alert."""
    if alert.status == "actual":
        return None
    return f"*** {text(alert.status, lang)}: {text('not_real', lang)} ***"


def alert_block(
    alert: Alert,
    now_ns: int,
    targets: Sequence[TargetForecast],
    lang: str = "en",
    width: int | None = None,
) -> list[str]:
    """The lines of one alert's block at ``now_ns`` (the countdowns depend on it).

    Parameters
    ----------
    alert : Alert
        The alert.
    now_ns : int
        Current time [ns since the epoch] for the countdowns.
    targets : sequence of TargetForecast
        The targets shown (see :func:`choose_targets`), in this order.
    lang : str
        ``kk``, ``ru``, ``en`` or ``ky``.
    width : int, optional
        Terminal width: longer lines are cut, the instruction is wrapped. None: no limit.
    """
    tag = f"[v{alert.version} {alert.message_type}, {alert.agency} {alert.event_id}]"
    lines: list[str] = []
    drill = drill_line(alert, lang)
    if drill is not None:
        lines.append(drill)
    advice: str
    if alert.message_type == "delete":
        lines.append(f"{text('cancel_head', lang).upper()}  {tag}")
        lines.append("  " + text("cancel_desc", lang))
        advice = text("cancel_instr", lang)
    else:
        lines.append(f"{text('warn', lang).upper()}  {_magnitude(alert)}  {tag}")
        if alert.kind == "onsite":
            lines.append("  " + text("onsite_head", lang, mag=_magnitude(alert)))
        else:
            lines.append("  " + place(alert, lang))
            lines.append(
                f"  {text('origin', lang, hms=_clock(alert.origin_time_ns))}, "
                f"{len(alert.stations)} stations"
            )
        if alert.message_type == "final":
            lines.append("  " + text("final", lang))
        if targets:
            lines.append(f"  {text('expected', lang)}:")
            lines.extend(_target_rows(targets, now_ns, lang))
        else:
            lines.append("  " + text("none", lang))
        top = worst(tuple(targets))
        if alert.message_type == "final":
            advice = text("after", lang)
        else:
            advice = instruction(top[1].action_level if top is not None else 0, lang)
    if width is None:
        return [*lines, f"  > {advice}"]
    out = [_cut(line, width) for line in lines]
    out.extend(
        textwrap.wrap(advice, max(width - 1, 20), initial_indent="  > ", subsequent_indent="    ")
    )
    return out


def _target_rows(targets: Sequence[TargetForecast], now_ns: int, lang: str) -> list[str]:
    names = [area_of(t).names[lang] for t in targets]
    levels = [public_level(t) for t in targets]
    w_name = min(max(len(n) for n in names), 28)
    w_level = max(len(lvl.roman()) for lvl in levels)
    rows = []
    for name, lvl, t in zip(names, levels, targets, strict=True):
        left = seconds_left(t, now_ns)
        when = text("now", lang) if left is None else text("in_s", lang, s=left)
        rows.append(f"    {name:<{w_name}}  {lvl.roman():<{w_level}}  ({lvl.scale})  {when}")
    return rows


def _cut(line: str, width: int) -> str:
    limit = max(width - 1, 20)  # never write into the last column (no automatic wrap)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def version_line(alert: Alert) -> str:
    """One line per alert version: ``v3 update  +5.2 s  M4.9 Mpd  43.21°N 76.96°E ...``."""
    after = (alert.sent_time_ns - alert.origin_time_ns) / NS_PER_S
    sent = ns_to_iso(alert.sent_time_ns, 1)[11:21]
    head = f"{'v' + str(alert.version):<3} {alert.message_type:<6}  sent {sent}"
    if math.isfinite(after) and alert.message_type != "delete":
        head += f" (origin +{after:.1f} s)"
    if alert.message_type == "delete":
        return f"{head}  cancelled"
    lat, lon = alert.latitude_deg, alert.longitude_deg
    where = f"{abs(lat):.2f}°{'S' if lat < 0 else 'N'} {abs(lon):.2f}°{'W' if lon < 0 else 'E'}"
    return (
        f"{head}  {_magnitude(alert)}  {where} depth {alert.depth_km:.0f} km  "
        f"{len(alert.stations)} stations"
    )
