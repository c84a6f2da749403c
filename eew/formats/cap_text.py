"""Public-warning texts of CAP messages in Kazakh (kk), Russian (ru) and English (en).

Texts are built from the alert only; target names are used as configured. The
Kazakh and Russian wording should be reviewed by the civil-protection service
before operational use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eew.model.alert import Alert, TargetForecast
from eew.model.timeutil import NS_PER_S

LANGUAGES = ("kk", "ru", "en")


@dataclass(frozen=True, slots=True)
class InfoText:
    """The localized texts of one CAP ``info`` block."""

    language: str
    event: str
    headline: str
    description: str
    instruction: str


_W = {
    "event": {"kk": "Жер сілкінісі", "ru": "Землетрясение", "en": "Earthquake"},
    "warn": {
        "kk": "Жер сілкінісі туралы ескерту",
        "ru": "Предупреждение о землетрясении",
        "en": "Earthquake warning",
    },
    "cancel_head": {
        "kk": "Жер сілкінісі туралы ескерту жойылды",
        "ru": "Отбой: предупреждение о землетрясении отменено",
        "en": "Earthquake warning cancelled",
    },
    "cancel_desc": {
        "kk": "Жер сілкінісі туралы ескерту жойылды: оқиға расталмады.",
        "ru": "Предупреждение о землетрясении отменено: событие не подтвердилось.",
        "en": "The earthquake warning has been cancelled: the event was not confirmed.",
    },
    "cancel_instr": {
        "kk": "Ешқандай әрекет қажет емес.",
        "ru": "Никаких действий не требуется.",
        "en": "No action is required.",
    },
    "instruction": {
        "kk": "Еңкейіп, паналап, сілкініс тоқтағанша берік затты ұстап тұрыңыз. "
        "Терезелер мен ауыр жиһаздан аулақ болыңыз. Лифтті пайдаланбаңыз. "
        "Сілкініс кезінде сыртқа жүгірмеңіз.",
        "ru": "Пригнитесь, укройтесь и держитесь, пока не прекратятся толчки. "
        "Держитесь подальше от окон и тяжёлой мебели. Не пользуйтесь лифтом. "
        "Не выбегайте на улицу во время толчков.",
        "en": "Drop, cover and hold on until the shaking stops. "
        "Stay away from windows and heavy furniture. Do not use lifts. "
        "Do not run outside during the shaking.",
    },
    "none": {
        "kk": "Бақыланатын нысандарда сезілетін сілкініс күтілмейді.",
        "ru": "На контролируемых объектах ощутимых сотрясений не ожидается.",
        "en": "No perceptible shaking is expected at the monitored sites.",
    },
    "expected": {
        "kk": "Күтілетін сілкініс",
        "ru": "Ожидаемые сотрясения",
        "en": "Expected shaking",
    },
    "now": {"kk": "қазір", "ru": "уже сейчас", "en": "now"},
}


def roman(intensity: float) -> str:
    """Intensity as a Roman numeral (rounded, I to XII)."""
    n = min(12, max(1, round(intensity)))
    return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")[n - 1]


def public_intensity(t: TargetForecast) -> tuple[float, str]:
    """The intensity shown to the public and its scale: MSK-64, or MMI if MSK is unknown."""
    if math.isfinite(t.intensity_msk):
        return t.intensity_msk, "MSK-64"
    return t.intensity_mmi, "MMI"


def _mag(alert: Alert, lang: str) -> str:
    m = f"{alert.magnitude:.1f}"
    if alert.magnitude_is_lower_bound:
        return {
            "kk": f"магнитудасы кемінде {m} (бағалау өсуде)",
            "ru": f"магнитудой не менее {m} (оценка растёт)",
            "en": f"of magnitude at least {m} (estimate still growing)",
        }[lang]
    return {"kk": f"магнитудасы {m}", "ru": f"магнитудой {m}", "en": f"of magnitude {m}"}[lang]


def _place(alert: Alert, lang: str) -> str:
    lat, lon = alert.latitude_deg, alert.longitude_deg
    ns = {"kk": ("с. е.", "о. е."), "ru": ("с. ш.", "ю. ш."), "en": ("N", "S")}[lang]
    ew = {"kk": ("ш. б.", "б. б."), "ru": ("в. д.", "з. д."), "en": ("E", "W")}[lang]
    sep = "" if lang == "en" else " "
    pos = (
        f"{abs(lat):.2f}°{sep}{ns[lat < 0]} {abs(lon):.2f}°{sep}{ew[lon < 0]}, "
        + {"kk": "тереңдігі", "ru": "глубина", "en": "depth"}[lang]
        + f" {alert.depth_km:.0f} "
        + ("km" if lang == "en" else "км")
    )
    if alert.targets:
        near = min(alert.targets, key=lambda t: t.distance_km)
        d = f"{near.distance_km:.0f}"
        pos += {
            "kk": f", эпицентрден {near.name} нүктесіне дейін {d} км",
            "ru": f", {d} км от {near.name}",
            "en": f", {d} km from {near.name}",
        }[lang]
    return pos


def _target_line(t: TargetForecast, sent_ns: int, lang: str) -> str:
    value, scale = public_intensity(t)
    seconds = (t.s_arrival_time_ns - sent_ns) / NS_PER_S
    when = _W["now"][lang] if seconds < 0.5 else f"{seconds:.0f}"
    intensity = {"kk": "қарқындылығы", "ru": "интенсивность", "en": "intensity"}[lang]
    if seconds >= 0.5:
        when = {"kk": f"{when} с кейін", "ru": f"через {when} с", "en": f"in {when} s"}[lang]
    return f"{t.name} — {intensity} {roman(value)} ({scale}), {when}"


def info_text(alert: Alert, affected: tuple[TargetForecast, ...], lang: str) -> InfoText:
    """Headline, description and instruction of ``alert`` in language ``lang``."""
    if alert.message_type == "delete":
        return InfoText(
            lang,
            _W["event"][lang],
            _W["cancel_head"][lang],
            _W["cancel_desc"][lang],
            _W["cancel_instr"][lang],
        )
    short = f"M{'≥' if alert.magnitude_is_lower_bound else ''}{alert.magnitude:.1f}"
    headline = f"{_W['warn'][lang]}: {short}"
    if affected:
        worst = max(affected, key=lambda t: public_intensity(t)[0])
        headline += f", {worst.name} {roman(public_intensity(worst)[0])}"
    origin = (alert.origin_time_ns // NS_PER_S) % 86400
    hms = f"{origin // 3600:02d}:{origin // 60 % 60:02d}:{origin % 60:02d} UTC"
    when = {"kk": "ошақтағы уақыты", "ru": "время в очаге", "en": "origin time"}[lang]
    head = {
        "kk": f"Жер сілкінісі, {_mag(alert, lang)}, эпицентрі",
        "ru": f"Землетрясение {_mag(alert, lang)}, эпицентр",
        "en": f"Earthquake {_mag(alert, lang)} at",
    }[lang]
    desc = f"{head} {_place(alert, lang)}, {when} {hms}. "
    if affected:
        ordered = sorted(affected, key=lambda t: t.s_arrival_time_ns)
        lines = "; ".join(_target_line(t, alert.sent_time_ns, lang) for t in ordered)
        desc += f"{_W['expected'][lang]}: {lines}."
    else:
        desc += _W["none"][lang]
    return InfoText(lang, _W["event"][lang], headline, desc, _W["instruction"][lang])
