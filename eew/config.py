"""The processing configuration: the sections of the processing chain.

Inventory, per-channel processing, trigger, picker, rejection, event, alert, onsite and
replay: each section is a frozen dataclass in which every field has exactly one default,
declared here, and a unit in its name (``_s``, ``_hz``, ``_counts``) or in its ``doc``
metadata, and a ``check()`` that raises :class:`ValueError` naming the key. Each stage
receives its own sections, never the whole configuration.

This module sits low in the house: it imports only :mod:`eew.errors` (through
:mod:`eew.schemafields` and :mod:`eew.configfile`). The configuration *file* also holds
the sections of the daemon, the alert bus and the partner exchange, declared in their
packages; the file's schema, its loader (unknown sections or keys, wrong types and
violated invariants raise :class:`~eew.errors.ConfigError` naming the key and the file)
and ``eew config --dump`` are composed at the top, in :mod:`eew.daemon.config`.
``config/eew.toml`` is exactly that dump of the defaults with the location grid pinned
(``[event] grid_*``: unset, the grid follows the inventory), and a test keeps the two in
step.

Relative paths in a configuration file are resolved against the directory of that file;
paths the file does not set resolve against the packaged ``eew/data/config``. Without
``--config`` the file is looked up in the order documented in :mod:`eew.configfile`
(``$EEW_CONFIG``, ``./config/eew.toml``, ``/etc/eew/eew.toml``, the packaged default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eew.configfile import find_config, packaged_config_dir
from eew.schemafields import doc_field as _f
from eew.schemafields import require_positive as _positive


@dataclass(frozen=True)
class InventoryConfig:
    """Where station metadata come from."""

    stationxml: tuple[str, ...] = _f(
        ("../stations/almaty_aews.xml", "../stations/kyrgyzstan_kn.xml"),
        "StationXML files (paths relative to this file)",
    )


@dataclass(frozen=True)
class ProcessingConfig:
    """Per-channel pre-processing (gain, baseline, integration); eew_science.md §1.1."""

    baseline_window_s: float = _f(10.0, "time constant of the running-mean baseline removal [s]")
    highpass_hz: float = _f(0.075, "causal Butterworth high-pass after each integration [Hz]")
    highpass_order: int = _f(2, "poles of that high-pass")
    taup_lowpass_hz: float = _f(1.8, "low-pass on velocity used for tau_p [Hz]")
    taup_time_constant_s: float = _f(
        1.0, "memory of the recursive tau_p (Allen & Kanamori 2003) [s]"
    )
    gap_tolerance_samples: float = _f(
        0.5, "a packet starting further than this from the expected time is a gap/overlap [samples]"
    )
    flat_window_s: float = _f(10.0, "a channel with constant samples for this long is dead [s]")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "baseline_window_s",
            "highpass_hz",
            "taup_lowpass_hz",
            "taup_time_constant_s",
            "gap_tolerance_samples",
            "flat_window_s",
        )
        if self.highpass_order < 1:
            raise ValueError("highpass_order: must be >= 1")
        if self.taup_lowpass_hz <= self.highpass_hz:
            raise ValueError("taup_lowpass_hz: must be above highpass_hz")


@dataclass(frozen=True)
class TriggerConfig:
    """STA/LTA trigger on vertical channels (eew_science.md §7.1, recommended recipe)."""

    components: str = _f("Z", "component letters that may trigger (others are processed only)")
    velocity_band_low_hz: float = _f(1.0, "band-pass low corner for velocity sensors [Hz]")
    velocity_band_high_hz: float = _f(15.0, "band-pass high corner for velocity sensors [Hz]")
    acceleration_band_low_hz: float = _f(2.0, "band-pass low corner for accelerometers [Hz]")
    acceleration_band_high_hz: float = _f(20.0, "band-pass high corner for accelerometers [Hz]")
    band_order: int = _f(2, "Butterworth order of each band-pass edge (2 -> 4 poles)")
    sta_s: float = _f(0.5, "recursive STA time constant [s]")
    lta_s: float = _f(20.0, "recursive LTA time constant [s]")
    warmup_s: float = _f(
        3.0, "no trigger this long after a start or gap; the averages start as plain means [s]"
    )
    on_ratio: float = _f(4.0, "STA/LTA ratio that declares a trigger")
    off_ratio: float = _f(1.5, "STA/LTA ratio that ends a trigger")
    dead_time_s: float = _f(5.0, "no new trigger on a channel this long after the last one [s]")
    retrigger_ratio: float = _f(
        10.0,
        "coda re-trigger: a busy channel triggers again when the STA/LTA ratio exceeds this "
        "factor times its minimum over the reference window (an STA jump; 0 disables) [ratio]",
    )
    retrigger_window_s: float = _f(2.0, "length of the reference window of the coda re-trigger [s]")
    retrigger_gap_s: float = _f(
        0.5, "the reference window ends this long before the tested sample [s]"
    )
    retrigger_busy_s: float = _f(
        30.0,
        "a channel is busy (coda re-trigger armed) this long after its last trigger; longer "
        "windows re-trigger on late phases of the first event (see eew.detect.trigger) [s]",
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "velocity_band_low_hz",
            "velocity_band_high_hz",
            "acceleration_band_low_hz",
            "acceleration_band_high_hz",
            "sta_s",
            "lta_s",
            "on_ratio",
            "off_ratio",
            "warmup_s",
        )
        if self.warmup_s < self.sta_s:
            raise ValueError("warmup_s: must be at least sta_s")
        if self.lta_s <= self.sta_s:
            raise ValueError("lta_s: must be longer than sta_s")
        if self.off_ratio >= self.on_ratio:
            raise ValueError("off_ratio: must be below on_ratio")
        if self.velocity_band_high_hz <= self.velocity_band_low_hz:
            raise ValueError("velocity_band_high_hz: must be above velocity_band_low_hz")
        if self.acceleration_band_high_hz <= self.acceleration_band_low_hz:
            raise ValueError("acceleration_band_high_hz: must be above acceleration_band_low_hz")
        if self.band_order < 1:
            raise ValueError("band_order: must be >= 1")
        if self.dead_time_s < 0:
            raise ValueError("dead_time_s: must be >= 0")
        if self.retrigger_ratio != 0 and self.retrigger_ratio <= 1:
            raise ValueError("retrigger_ratio: must be above 1 (or 0 to disable)")
        if self.retrigger_window_s <= 0:
            raise ValueError("retrigger_window_s: must be > 0")
        if self.retrigger_gap_s < 0:
            raise ValueError("retrigger_gap_s: must be >= 0")
        if self.retrigger_busy_s < 0:
            raise ValueError("retrigger_busy_s: must be >= 0")
        if not self.components or not self.components.isalnum():
            raise ValueError("components: must be component letters such as 'Z' or 'ZNE'")


@dataclass(frozen=True)
class PickerConfig:
    """Onset refinement and the growing early-P window (eew_science.md §1)."""

    decision_delay_s: float = _f(
        0.3, "data after the trigger needed to refine the onset and run the rejection tests [s]"
    )
    aic_before_s: float = _f(2.0, "AIC search window before the trigger [s]")
    noise_window_s: float = _f(5.0, "pre-onset window for noise level and SNR [s]")
    window_max_s: float = _f(4.0, "longest early-P window after the onset [s]")
    extend_window_s: float = _f(
        12.0,
        "beyond window_max_s the window keeps growing up to this while Pd still grows, so the "
        "event core can follow large ruptures up to the S arrival [s]",
    )
    extend_growth: float = _f(
        0.1, "relative Pd growth per update needed to keep extending the window (fraction)"
    )
    update_interval_s: float = _f(0.5, "re-issue the pick with a longer window this often [s]")
    taup_delay_s: float = _f(0.5, "tau_p_max is taken from this long after the onset on [s]")
    min_snr: float = _f(3.0, "minimum peak signal-to-noise ratio of a pick")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "decision_delay_s",
            "aic_before_s",
            "noise_window_s",
            "window_max_s",
            "update_interval_s",
            "min_snr",
        )
        if self.window_max_s < self.decision_delay_s:
            raise ValueError("window_max_s: must be at least decision_delay_s")
        if self.extend_window_s < self.window_max_s:
            raise ValueError("extend_window_s: must be at least window_max_s")
        if self.extend_growth < 0:
            raise ValueError("extend_growth: must be >= 0")
        if self.taup_delay_s < 0 or self.taup_delay_s >= self.window_max_s:
            raise ValueError("taup_delay_s: must be in [0, window_max_s)")


@dataclass(frozen=True)
class RejectionConfig:
    """Tests that tell instrument artefacts from earthquake onsets (eew_science.md §7.2)."""

    glitch_concentration: float = _f(
        0.85,
        "a trigger whose first-difference energy has at least this fraction in 4 samples is a "
        "spike/step/boxcar (fraction, 0-1)",
    )
    clip_counts: float = _f(8_000_000.0, "|sample| at or above this is clipped [counts]")
    clip_hold_s: float = _f(30.0, "picks on a channel are rejected this long after clipping [s]")
    calibration_flag: bool = _f(
        True, "reject triggers in records flagged 'calibration signals present'"
    )
    monochromatic_fraction: float = _f(
        0.95,
        "a window (>= 2 s, >= 3 cycles, steady amplitude, the same on every component of "
        "the sensor) with this fraction of its energy at one frequency is a calibration sine",
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(self, "clip_counts", "clip_hold_s")
        for key in ("glitch_concentration", "monochromatic_fraction"):
            if not 0.0 < getattr(self, key) <= 1.0:
                raise ValueError(f"{key}: must be in (0, 1]")


_FOLLOW = "follows the station inventory"


@dataclass(frozen=True)
class EventConfig:
    """Association and location (eew_science.md §3).

    The location grid's centre and half-widths may be left unset (the default): each unset
    one then follows the station inventory by the rule of :mod:`eew.event.grid`. The
    shipped ``config/eew.toml`` pins the Almaty grid the event core was calibrated with.
    """

    min_picks_event: int = _f(3, "picks (stations) needed to declare an event")
    association_window_s: float = _f(60.0, "unassociated picks are kept this long [s]")
    min_apparent_velocity_km_s: float = _f(
        4.5, "P picks of one event cannot differ by more than distance / this + slack [km/s]"
    )
    pick_slack_s: float = _f(1.0, "timing slack for pick-to-pick and pick-to-event checks [s]")
    association_tolerance_s: float = _f(
        2.0, "a pick joins an event if within this of its predicted P time [s]"
    )
    max_residual_s: float = _f(1.0, "RMS travel-time residual above which an event is rejected [s]")
    edt_sigma_s: float = _f(0.2, "differential-time uncertainty of the EDT likelihood [s]")
    silent_tolerance_s: float = _f(
        1.0, "detection delay allowed before a silent station contradicts a location [s]"
    )
    station_latency_max_s: float = _f(
        10.0, "a station without a pick counts as silent only if its data are this recent [s]"
    )
    grid_center_lat_deg: float | None = _f(None, "centre of the location grid [deg]", _FOLLOW)
    grid_center_lon_deg: float | None = _f(None, "centre of the location grid [deg]", _FOLLOW)
    grid_half_width_km: float | None = _f(
        None, "half width of the location grid east-west [km]", _FOLLOW
    )
    grid_half_height_km: float | None = _f(
        None, "half height of the location grid north-south [km]", _FOLLOW
    )
    grid_step_km: float = _f(10.0, "coarse grid spacing [km]; a 1 km grid refines it")
    teleseism_max_slowness_s_km: float = _f(
        0.118,
        "picks fitting a plane wave faster than 8.5 km/s across the network (faster than the "
        "8.0 km/s Pn of any crustal source in the region, with a margin for pick errors) come "
        "from a teleseismic or deep distant source [s/km]",
    )
    plane_wave_max_rms_s: float = _f(0.2, "RMS misfit below which the picks form a plane wave [s]")
    plane_wave_min_aperture_km: float = _f(
        60.0, "the plane-wave test needs picks spread over at least this distance [km]"
    )
    event_timeout_s: float = _f(40.0, "an event without new pick data for this long is final [s]")
    teleseism_hold_s: float = _f(
        60.0, "after a teleseismic or distant event, new picks are absorbed this long [s]"
    )
    max_nearest_station_km: float = _f(
        80.0, "an event farther than this from its nearest picked station is not alerted [km]"
    )
    depth_prior_km: float = _f(12.0, "most likely depth of crustal events (location prior) [km]")
    depth_prior_sigma_km: float = _f(10.0, "width of that prior [km]")
    distance_prior_km: float = _f(
        100.0, "width of the location prior on the distance from the first-picked station [km]"
    )
    settled_sigma_km: float = _f(
        3.0,
        "a location has settled once its horizontal uncertainty is below this (with "
        "settled_min_picks picks); later picks then move it by no more than its uncertainty [km]",
    )
    settled_min_picks: int = _f(6, "picks a location needs before it can settle")
    regional_max_relative_sigma: float = _f(
        0.1,
        "an event farther than max_nearest_station_km from every station that picked it is "
        "alerted once settled_min_picks picks locate it with a horizontal uncertainty below "
        "this fraction of that distance (a regional source: Wushi, 200 km from the nearest)",
    )
    settled_max_residual_s: float = _f(
        1.0,
        "a pick whose P residual against the settled location exceeds this (an S phase, coda, "
        "a late or clipped station) is left out of the location [s]",
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "association_window_s",
            "min_apparent_velocity_km_s",
            "pick_slack_s",
            "association_tolerance_s",
            "max_residual_s",
            "edt_sigma_s",
            "silent_tolerance_s",
            "station_latency_max_s",
            "grid_step_km",
            "teleseism_max_slowness_s_km",
            "plane_wave_max_rms_s",
            "plane_wave_min_aperture_km",
            "event_timeout_s",
            "teleseism_hold_s",
            "max_nearest_station_km",
            "depth_prior_sigma_km",
            "distance_prior_km",
            "settled_sigma_km",
            "settled_max_residual_s",
            "regional_max_relative_sigma",
        )
        if self.min_picks_event < 2:
            raise ValueError("min_picks_event: must be >= 2")
        if self.settled_min_picks < 4:
            raise ValueError("settled_min_picks: must be >= 4")
        for key in ("grid_half_width_km", "grid_half_height_km"):
            if getattr(self, key) is not None:
                _positive(self, key)
        lat = self.grid_center_lat_deg
        if lat is not None and not -90.0 <= lat <= 90.0:
            raise ValueError("grid_center_lat_deg: must be in [-90, 90]")
        lon = self.grid_center_lon_deg
        if lon is not None and not -180.0 <= lon <= 360.0:
            raise ValueError("grid_center_lon_deg: must be in [-180, 360]")


@dataclass(frozen=True)
class AlertConfig:
    """When an event becomes an alert, and when an alert is re-issued."""

    agency: str = _f("KZ-AEWS", "agency code stamped on every message")
    min_stations: int = _f(
        4,
        "stations that must agree (located with the event, each with a magnitude) before a "
        "public source alert (at least 2: never one station)",
    )
    min_magnitude: float = _f(4.0, "smallest magnitude that is alerted")
    min_intensity_msk: float = _f(
        4.0,
        "a public alert needs at least this forecast MSK-64 intensity at a target; below it "
        "the event is an operators' event message only",
    )
    min_likelihood: float = _f(0.5, "smallest event likelihood (0-1)")
    magnitude_step: float = _f(0.1, "re-issue when the magnitude changes by this much")
    location_step_km: float = _f(5.0, "re-issue when the epicentre moves by this much [km]")
    intensity_step: float = _f(0.5, "re-issue when the largest target intensity changes by this")
    targets_file: str = _f("targets.csv", "target sites (CSV, relative to this file)")
    status: str = _f("actual", "alert status: actual, exercise (drills) or test")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(self, "magnitude_step", "location_step_km", "intensity_step")
        if self.status not in ("actual", "exercise", "test"):
            raise ValueError("status: must be actual, exercise or test")
        if self.min_stations < 2:
            raise ValueError("min_stations: must be >= 2 (never one station)")
        if not 0.0 <= self.min_likelihood <= 1.0:
            raise ValueError("min_likelihood: must be in [0, 1]")


@dataclass(frozen=True)
class OnsiteConfig:
    """Near-field fallback for the blind zone (eew_science.md §1.2, §1.6)."""

    enabled: bool = _f(True, "issue onsite and PLUM-style alerts")
    city_lat_deg: float = _f(43.238, "centre of the city whose stations give onsite alerts [deg]")
    city_lon_deg: float = _f(76.946, "centre of the city [deg]")
    city_radius_km: float = _f(30.0, "stations within this distance are city stations [km]")
    min_stations: int = _f(
        2, "city stations that must pass a threshold together (at least 2: never one station)"
    )
    coincidence_s: float = _f(2.0, "their onsets must lie within this [s]")
    tau_c_min_s: float = _f(1.0, "onsite rule: tau_c at least this [s] and ...")
    pd_min_cm: float = _f(0.2, "... Pd at least this (Wu & Kanamori 2005 use 0.5) [cm]")
    pd_fast_cm: float = _f(
        0.08, "or Pd at least this within the first second of P (fast rule) [cm]"
    )
    pa_min_cm_s2: float = _f(
        80.0, "or observed P-wave acceleration at least this (about MSK VI ahead of S) [cm/s²]"
    )
    plum_radius_km: float = _f(30.0, "observed intensity is forwarded to targets this close [km]")

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "city_radius_km",
            "coincidence_s",
            "tau_c_min_s",
            "pd_min_cm",
            "pd_fast_cm",
            "pa_min_cm_s2",
            "plum_radius_km",
        )
        if self.min_stations < 2:
            raise ValueError("min_stations: must be >= 2 (never one station)")


@dataclass(frozen=True)
class FiniteFaultConfig:
    """Magnitude without saturation: the finite-fault line source (:mod:`eew.event.finder`)."""

    enabled: bool = _f(True, "estimate a line source from the stations' peak accelerations")
    floor_cm_s2: float = _f(
        2.0, "stations with a peak acceleration at or below this are not shaken [cm/s²]"
    )
    min_stations: int = _f(5, "stations above that floor before a line source is estimated")
    settle_s: float = _f(
        10.0,
        "a station's peak is final this long after the S wave from the part of a template line "
        "nearest to it can have arrived; before, from its P wave on, it is a lower bound [s]",
    )
    min_length_km: float = _f(
        30.0,
        "the line source enters the magnitude only from this length on (shorter ones are not "
        "resolved by the station spacing; the P-wave magnitude holds there) [km]",
    )
    saturation_magnitude: float = _f(
        6.5,
        "early-P magnitudes follow the true magnitude up to this and saturate beyond it "
        "(Tsang et al. 2007)",
    )
    saturation_slope: float = _f(
        0.5,
        "beyond saturation_magnitude the P-wave magnitude grows this much per unit of true "
        "magnitude (the issue's line-source scenarios read 0.25-0.5)",
    )
    interval_s: float = _f(1.0, "re-estimate a rupture at most this often [s]")
    coverage_km: float = _f(
        25.0,
        "a template line is observed between its outermost points within this distance of a "
        "station; only its length beyond them carries the Gutenberg-Richter prior [km]",
    )
    max_rupture_velocity_km_s: float = _f(
        3.5, "causality: each side of the line is at most this times the time since origin [km/s]"
    )
    rupture_velocity_km_s: float = _f(
        2.8,
        "rupture speed: when a part of the line broke (station settling, warning times) [km/s]",
    )
    follow_magnitude: float = _f(
        6.0,
        "the line source enters the magnitude of an event whose P-wave magnitude has reached "
        "this (smaller ones do not saturate), and such an event is re-evaluated every "
        "interval_s (its rupture may grow after the last pick)",
    )
    follow_s: float = _f(90.0, "... for this long after origin [s]")
    duration_bound: bool = _f(
        True,
        "an event whose P-wave magnitude has reached follow_magnitude is at least the magnitude "
        "of the source duration that the strong shaking near its epicentre shows "
        "(eew.event.duration: GCMT duration scaling, bracketed duration)",
    )
    duration_radius_km: float = _f(
        40.0, "stations within this epicentral distance measure the duration [km]"
    )
    duration_min_stations: int = _f(3, "the duration needs at least this many of them")
    duration_fraction: float = _f(
        0.2,
        "shaking is strong while a 1-s peak acceleration reaches this fraction of the "
        "station's largest",
    )
    duration_path_s: float = _f(
        8.0,
        "at those stations, strong shaking outlasts the source by at most this (S coda, "
        "path, site) [s]",
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        _positive(
            self,
            "floor_cm_s2",
            "settle_s",
            "saturation_slope",
            "min_length_km",
            "interval_s",
            "max_rupture_velocity_km_s",
            "rupture_velocity_km_s",
            "follow_s",
            "duration_radius_km",
            "duration_path_s",
        )
        if not 0.0 < self.duration_fraction < 1.0:
            raise ValueError("duration_fraction: must be in (0, 1)")
        if self.duration_min_stations < 1:
            raise ValueError("duration_min_stations: must be >= 1")
        if self.min_stations < 3:
            raise ValueError("min_stations: must be >= 3")


@dataclass(frozen=True)
class ReplayConfig:
    """Archive replay."""

    max_packet_samples: int = _f(
        0, "split decoded records longer than this into packets (0: one record = one packet)"
    )

    def check(self) -> None:
        """Raise :class:`ValueError` naming the key if an invariant is violated."""
        if self.max_packet_samples < 0:
            raise ValueError("max_packet_samples: must be >= 0")


@dataclass(frozen=True)
class Config:
    """The processing configuration: every section of the processing chain.

    A value built here (``Config()``) has the defaults; one read from a file comes from
    :func:`eew.daemon.config.load_settings` (``settings.config``).
    """

    inventory: InventoryConfig = field(default_factory=InventoryConfig)
    processing: ProcessingConfig = field(default_factory=ProcessingConfig)
    trigger: TriggerConfig = field(default_factory=TriggerConfig)
    picker: PickerConfig = field(default_factory=PickerConfig)
    rejection: RejectionConfig = field(default_factory=RejectionConfig)
    event: EventConfig = field(default_factory=EventConfig)
    alert: AlertConfig = field(default_factory=AlertConfig)
    onsite: OnsiteConfig = field(default_factory=OnsiteConfig)
    finite_fault: FiniteFaultConfig = field(default_factory=FiniteFaultConfig)
    replay: ReplayConfig = field(default_factory=ReplayConfig)
    #: directory against which relative paths are resolved (not a TOML key)
    base_dir: Path = field(default=Path("."), compare=False, repr=False)
    #: file the configuration came from (not a TOML key)
    source: str = field(default="<defaults>", compare=False, repr=False)
    #: "section.key" names set in that file (not a TOML key)
    set_keys: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def resolve_path(self, key: str, value: str) -> Path:
        """A path given in the file is relative to the file; a default to ``eew/data/config``."""
        base = self.base_dir if key in self.set_keys else default_config_dir()
        return (base / value).resolve()

    def stationxml_paths(self) -> list[Path]:
        """Inventory files (see :meth:`resolve_path` for relative paths)."""
        return [self.resolve_path("inventory.stationxml", p) for p in self.inventory.stationxml]

    def targets_path(self) -> Path:
        """The target-site file (see :meth:`resolve_path` for relative paths)."""
        return self.resolve_path("alert.targets_file", self.alert.targets_file)


#: the names of the processing sections (the fields of :class:`Config` that are sections)
SECTIONS = (
    "inventory",
    "processing",
    "trigger",
    "picker",
    "rejection",
    "event",
    "alert",
    "onsite",
    "finite_fault",
    "replay",
)


def default_config_dir() -> Path:
    """The packaged ``eew/data/config`` folder, where the defaults' relative paths start."""
    return packaged_config_dir()


def default_config_path() -> Path | None:
    """The file read when no path is given (see :func:`eew.configfile.find_config`).

    ``None`` only when not even the packaged default exists (built-in defaults then).
    """
    found = find_config()
    return found.path if found is not None else None
