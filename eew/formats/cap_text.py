"""Public-warning texts of CAP messages in Kazakh (kk), Russian (ru), English (en) and Kyrgyz (ky).

All wording, the protective-action instructions by intensity level and the names of the
target areas in each language's script live in two data files,
``eew/data/cap_text.toml`` and ``eew/data/cap_areas.toml``, each entry with its source and
review status, so that native speakers and the civil-protection services can review them
in one place. This module only assembles them.

One **public level** per target drives everything a person reads: the headline, the
severity, the per-place lines and the instruction (:func:`public_level`): the forecast
intensity (MSK-64, MMI where MSK is unknown) plus one standard deviation where the
forecast is uncertain (its upper end), rounded to a whole degree; an intensity that is a
lower bound is shown as "≥" its value.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from eew.errors import DataError
from eew.model.alert import Alert, TargetForecast
from eew.model.timeutil import NS_PER_S

LANGUAGES = ("kk", "ru", "en", "ky")
_DATA = Path(__file__).resolve().parents[1] / "data"
_ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")


@dataclass(frozen=True, slots=True)
class InfoText:
    """The localized texts of one CAP ``info`` block."""

    language: str
    event: str
    headline: str
    description: str
    instruction: str


@dataclass(frozen=True, slots=True)
class Area:
    """A target's CAP area: names by language and a polygon or a radius."""

    names: dict[str, str]
    radius_km: float
    polygon: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, slots=True)
class PublicLevel:
    """The intensity a person is told about at one target.

    Attributes
    ----------
    value : float
        Intensity used (forecast + 1 sigma where uncertain, or the observed lower bound).
    level : int
        ``value`` rounded, 1 to 12.
    scale : str
        ``MSK-64`` or ``MMI``.
    lower_bound : bool
        The intensity is a lower bound (shown as "≥").
    """

    value: float
    level: int
    scale: str
    lower_bound: bool

    @property
    def action_level(self) -> int:
        """Level for severity and instruction: a lower bound counts as at least IV.

        Shaking that is still growing never gets "no action needed".
        """
        return max(self.level, 4) if self.lower_bound else self.level

    def roman(self) -> str:
        """``VIII`` or ``≥ III``."""
        return ("≥ " if self.lower_bound else "") + _ROMAN[self.level - 1]


def _load(name: str) -> dict[str, Any]:
    try:
        with open(_DATA / name, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"cannot read {_DATA / name}: {exc}") from exc


@lru_cache(maxsize=1)
def wording() -> dict[str, Any]:
    """``cap_text.toml`` (checked: every entry has every language)."""
    data = _load("cap_text.toml")
    for key, entry in data["text"].items():
        missing = [lang for lang in LANGUAGES if lang not in entry]
        if missing:
            raise DataError(f"cap_text.toml: text.{key} lacks {missing}")
    for entry in data["instruction"]:
        missing = [lang for lang in LANGUAGES if lang not in entry]
        if missing or "source" not in entry:
            raise DataError(f"cap_text.toml: instruction {entry.get('key')} lacks {missing}")
    return data


@lru_cache(maxsize=1)
def _areas() -> tuple[dict[str, Area], float]:
    data = _load("cap_areas.toml")
    out = {}
    for name, entry in data.get("area", {}).items():
        poly = tuple((float(p[0]), float(p[1])) for p in entry.get("polygon", ()))
        if poly and (len(poly) < 4 or poly[0] != poly[-1]):
            raise DataError(f"cap_areas.toml: polygon of {name!r} is not a closed ring")
        radius = float(entry.get("radius_km", 0.0))
        if not poly and not radius > 0:
            raise DataError(f"cap_areas.toml: {name!r} needs a polygon or radius_km > 0")
        out[name] = Area({lang: str(entry.get(lang, name)) for lang in LANGUAGES}, radius, poly)
    return out, float(data["meta"]["default_radius_km"])


def area_of(target: TargetForecast) -> Area:
    """The CAP area of a target (a default circle if the data file does not list it)."""
    areas, default_km = _areas()
    area = areas.get(target.name)
    if area is not None:
        return area
    return Area(dict.fromkeys(LANGUAGES, target.name), default_km)


def text(key: str, lang: str, **fmt: object) -> str:
    """The ``[text.KEY]`` entry of ``cap_text.toml`` in ``lang``, placeholders filled in."""
    entry = str(wording()["text"][key][lang])
    return entry.format(**fmt) if fmt else entry


_w = text


def roman(intensity: float) -> str:
    """Intensity as a Roman numeral (rounded, I to XII)."""
    return _ROMAN[min(12, max(1, round(intensity))) - 1]


def public_level(t: TargetForecast) -> PublicLevel:
    """The public level of a target (see the module docstring)."""
    if math.isfinite(t.intensity_msk):
        value, scale = t.intensity_msk, "MSK-64"
    else:
        value, scale = t.intensity_mmi, "MMI"
    if not math.isfinite(value):
        return PublicLevel(0.0, 1, scale, True)
    if not t.intensity_is_lower_bound and math.isfinite(t.intensity_sigma):
        value += t.intensity_sigma
    # a lower bound is shown as "at least" the whole degree below it (never overstated)
    level = math.floor(value + 1e-9) if t.intensity_is_lower_bound else round(value)
    return PublicLevel(value, min(12, max(1, level)), scale, t.intensity_is_lower_bound)


def instruction(level: int, lang: str) -> str:
    """The protective-action instruction for a public level."""
    best = max(
        (e for e in wording()["instruction"] if int(e["min_level"]) <= level),
        key=lambda e: int(e["min_level"]),
    )
    return str(best[lang])


def place(alert: Alert, lang: str) -> str:
    """Where: ``43.21°N 76.96°E, depth 13 km, 5 km from Medeu`` in ``lang``."""
    lat, lon = alert.latitude_deg, alert.longitude_deg
    n, s, e, w = _w("north", lang).split("|")
    sep = "" if lang == "en" else " "
    pos = (
        f"{abs(lat):.2f}°{sep}{s if lat < 0 else n} {abs(lon):.2f}°{sep}{w if lon < 0 else e}, "
        + _w("depth", lang, km=f"{alert.depth_km:.0f}")
    )
    if alert.targets:
        near = min(alert.targets, key=lambda t: t.distance_km)
        pos += ", " + _w("from", lang, name=area_of(near).names[lang], km=f"{near.distance_km:.0f}")
    return pos


def _target_line(t: TargetForecast, sent_ns: int, lang: str) -> str:
    lvl = public_level(t)
    seconds = (t.s_arrival_time_ns - sent_ns) / NS_PER_S
    when = _w("now", lang) if seconds < 0.5 else _w("in_s", lang, s=f"{seconds:.0f}")
    name = area_of(t).names[lang]
    return f"{name} — {_w('intensity', lang)} {lvl.roman()} ({lvl.scale}), {when}"


def worst(affected: tuple[TargetForecast, ...]) -> tuple[TargetForecast, PublicLevel] | None:
    """The affected target with the highest public level, and that level."""
    if not affected:
        return None
    t = max(affected, key=lambda t: (public_level(t).action_level, public_level(t).value))
    return t, public_level(t)


def info_text(alert: Alert, affected: tuple[TargetForecast, ...], lang: str) -> InfoText:
    """Headline, description and instruction of ``alert`` in language ``lang``."""
    marker = "" if alert.status == "actual" else f"[{_w(alert.status, lang)}] "
    not_real = "" if alert.status == "actual" else _w("not_real", lang) + " "
    if alert.message_type == "delete":
        return InfoText(
            lang,
            _w("event", lang),
            marker + _w("cancel_head", lang),
            not_real + _w("cancel_desc", lang),
            _w("cancel_instr", lang),
        )
    short = f"M{'≥' if alert.magnitude_is_lower_bound else ''}{alert.magnitude:.1f}"
    headline = f"{marker}{_w('warn', lang)}: {short}"
    top = worst(affected)
    if top is not None:
        headline += f", {area_of(top[0]).names[lang]} {top[1].roman()}"
    origin = (alert.origin_time_ns // NS_PER_S) % 86400
    hms = f"{origin // 3600:02d}:{origin // 60 % 60:02d}:{origin % 60:02d} UTC"
    m = f"{alert.magnitude:.1f}"
    mag = _w("mag_lower", lang, mag=m) if alert.magnitude_is_lower_bound else _w("mag", lang, mag=m)
    if alert.kind == "onsite":
        desc = f"{not_real}{_w('onsite_head', lang, mag=mag)}. "
    else:
        desc = (
            f"{not_real}{_w('head', lang, mag=mag)} {place(alert, lang)}, "
            f"{_w('origin', lang, hms=hms)}. "
        )
    if alert.message_type == "final":
        desc += _w("final", lang) + " "
    if affected:
        ordered = sorted(affected, key=lambda t: t.s_arrival_time_ns)
        lines = "; ".join(_target_line(t, alert.sent_time_ns, lang) for t in ordered)
        desc += f"{_w('expected', lang)}: {lines}."
    else:
        desc += _w("none", lang)
    if alert.message_type == "final":
        instr = _w("after", lang)
    else:
        instr = instruction(top[1].action_level if top is not None else 0, lang)
    return InfoText(lang, _w("event", lang), headline, desc, instr)
