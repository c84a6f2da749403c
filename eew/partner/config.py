"""The ``[partner]`` configuration section: one partner network's exchange settings.

Declared in the style of :mod:`eew.daemon.schema` (one default and one documented unit per
field, ``check()`` raising :class:`ValueError` naming the key) and importing nothing from
the rest of the package, so the configuration schema can hold it as a field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from eew.schemafields import doc_field as _f
from eew.schemafields import require_positive as _positive

#: same rule as :func:`eew.bus.keys.check_agency` (kept here: no import of zmq)
_AGENCY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
_ENDPOINT_PREFIXES = ("tcp://", "ipc://", "inproc://")
#: what happens to partner picks while a clock offset of theirs is known
#: (:mod:`eew.partner.clock`)
CLOCK_POLICIES = ("report", "correct", "discard")
#: keys that must be finite numbers (merge_max_distance_km = inf: no cap)
_FINITE = (
    "merge_model_sigma_km",
    "merge_model_sigma_s",
    "merge_unknown_sigma_km",
    "merge_unknown_sigma_s",
    "clock_warn_s",
    "clock_significance",
    "clock_window_s",
)


@dataclass(frozen=True)
class PartnerConfig:
    """Exchange with one partner network (section ``[partner]``).

    Import: we subscribe to the partner's export endpoint(s), verify every message with
    the partner's Ed25519 key, feed its picks to our event core and re-publish its alerts
    on our bus. Export: a second publisher of ours, on ``export_endpoint``, carries only
    our own picks and alerts to the partner. Paths are relative to the configuration file.
    """

    enabled: bool = _f(False, "exchange with the partner network")
    agency: str = _f("KG-MES", "the partner's agency code (its topics and signatures)")
    endpoints: tuple[str, ...] = _f((), "the partner's export endpoints, tcp://HOST:PORT")
    trusted_key_file: str = _f("", "the partner's Ed25519 public key (AGENCY.ed25519)")
    curve_key_file: str = _f("", "our CURVE certificate with secret key; empty: no CURVE")
    curve_server_key_file: str = _f("", "public CURVE certificate of the partner's publisher")
    inventory_file: str = _f("", "StationXML of the partner's stations (e.g. kyrgyzstan_kn.xml)")
    import_picks: bool = _f(True, "feed the partner's picks to our association and location")
    import_alerts: bool = _f(True, "re-publish the partner's alerts on our bus (merged)")
    export_picks: bool = _f(True, "send our own picks to the partner")
    export_alerts: bool = _f(True, "send our own alerts to the partner")
    export_endpoint: str = _f("tcp://*:5581", "where the partner's subscriber connects to us")
    export_curve_allowed_keys_dir: str = _f(
        "", "the partner's public CURVE certificates (*.key); empty: export without CURVE"
    )
    max_clock_skew_s: float = _f(30.0, "drop partner messages sent further from our clock [s]")
    queue_size: int = _f(10_000, "partner picks waiting for the event core; full: oldest dropped")
    merge_origin_s: float = _f(5.0, "same event if the origin times differ by at most this [s]")
    merge_distance_km: float = _f(30.0, "same event if the epicentres are this close [km]")
    merge_confidence: float = _f(
        0.999, "beyond those: same event if the chi-square test (3 dof) passes at this probability"
    )
    merge_model_sigma_km: float = _f(5.0, "model error added to each epicentre axis [km, 1 sigma]")
    merge_model_sigma_s: float = _f(1.0, "model error added to the origin times [s, 1 sigma]")
    merge_unknown_sigma_km: float = _f(30.0, "epicentre uncertainty of a solution without one [km]")
    merge_unknown_sigma_s: float = _f(5.0, "origin-time uncertainty of a solution without one [s]")
    merge_max_distance_km: float = _f(
        150.0, "never the same event if the epicentres are further [km]"
    )
    clock_policy: str = _f(
        "correct", "a known partner clock offset: correct, report or discard their picks"
    )
    clock_warn_s: float = _f(0.5, "a partner clock offset beyond this is reported and acted on [s]")
    clock_significance: float = _f(
        3.0, "a clock offset is acted on only if this many standard errors from 0"
    )
    clock_min_picks: int = _f(4, "picks of each network in one shared event to measure the offset")
    clock_window_s: float = _f(10.0, "largest clock offset looked for (pick to predicted P) [s]")
    clock_heartbeat_window: int = _f(30, "heartbeats over which the partner's wall clock is judged")
    memory_messages: int = _f(100_000, "imported pick/alert ids remembered (loop prevention)")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        if not _AGENCY_RE.match(self.agency):
            raise ValueError("agency: use letters, digits, '-' and '_' (at most 32)")
        _positive(
            self,
            "max_clock_skew_s",
            "queue_size",
            "merge_origin_s",
            "merge_distance_km",
            "memory_messages",
            "merge_model_sigma_km",
            "merge_model_sigma_s",
            "merge_unknown_sigma_km",
            "merge_unknown_sigma_s",
            "merge_max_distance_km",
            "clock_warn_s",
            "clock_significance",
            "clock_window_s",
            "clock_heartbeat_window",
        )
        if not 0.0 < self.merge_confidence < 1.0:
            raise ValueError("merge_confidence: must be a probability in (0, 1)")
        if self.clock_policy not in CLOCK_POLICIES:
            raise ValueError(f"clock_policy: one of {', '.join(CLOCK_POLICIES)}")
        if not self.clock_window_s > self.clock_warn_s:
            raise ValueError("clock_window_s: must be > clock_warn_s")
        if self.clock_min_picks < 2:
            raise ValueError("clock_min_picks: must be >= 2")
        for key in _FINITE:
            if not math.isfinite(getattr(self, key)):
                raise ValueError(f"{key}: must be finite")
        if math.isnan(self.max_clock_skew_s):
            raise ValueError("max_clock_skew_s: must be a number (inf disables the check)")
        for e in (*self.endpoints, self.export_endpoint):
            if not e.startswith(_ENDPOINT_PREFIXES):
                key = "export_endpoint" if e == self.export_endpoint else "endpoints"
                raise ValueError(f"{key}: {e!r} is not a ZMQ endpoint")
        if bool(self.curve_key_file) != bool(self.curve_server_key_file):
            raise ValueError("curve_key_file: goes together with curve_server_key_file")
        if not self.enabled:
            return
        importing = self.import_picks or self.import_alerts
        if importing and not self.endpoints:
            raise ValueError("endpoints: needed to import picks or alerts")
        if importing and not self.trusted_key_file:
            raise ValueError("trusted_key_file: needed to verify the partner's messages")
        if self.import_picks and not self.inventory_file:
            raise ValueError("inventory_file: needed to import picks (station coordinates)")

    @property
    def exporting(self) -> bool:
        """Whether anything is exported (the export publisher is needed)."""
        return self.enabled and (self.export_picks or self.export_alerts)

    @property
    def importing(self) -> bool:
        """Whether anything is imported (the partner feed is needed)."""
        return self.enabled and (self.import_picks or self.import_alerts)
