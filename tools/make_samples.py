"""Regenerate the simulated scenarios in ``waveforms_samples/`` (run from the repository root).

    python tools/make_samples.py            # all scenarios
    python tools/make_samples.py local_m4.5 # some of them

Each scenario folder gets its ``scenario.toml``, one miniSEED file per channel and
``truth.json``; ``waveforms_samples/README.md`` is rewritten from the table below. The
output is deterministic (fixed seeds). The whole set must stay under 25 MB: Steim-2 costs
about 1-3 bytes per sample, so records are short and large events use a subset of channels.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "waveforms_samples"
LIMIT_BYTES = 25 * 1024 * 1024

# name -> (one-line description, scenario TOML body without the [scenario] name line)
SCENARIOS: dict[str, tuple[str, str]] = {
    "local_m4.5": ("M4.5 at 10 km depth under the network, 3 km south of central Almaty", """
seed = 45
start_time = 2024-05-01T12:00:00Z
length_s = 60.0
[stations]
include = ["AW.*"]
[[source]]
origin_time = 2024-05-01T12:00:10Z
latitude_deg = 43.21
longitude_deg = 76.95
depth_km = 10.0
magnitude = 4.5
"""),
    "verny_m7.0": ("Verny-1887-type M7.0 at 15 km directly under the city, 50 km line source "
                   "(blind zone: S-P under 4 s in town)", """
seed = 1887
start_time = 2024-05-03T04:35:00Z
length_s = 60.0
[stations]
include = ["AW.*"]
channels = ["HHZ", "HN?"]
[[source]]
origin_time = 2024-05-03T04:35:05Z
latitude_deg = 43.22
longitude_deg = 76.93
depth_km = 15.0
magnitude = 7.0
strike_deg = 75.0
length_km = 50.0
nucleation_fraction = 0.5
"""),
    "verny_m7.5": ("Verny-1887-type M7.5 under the city: 97 x 24.5 km thrust (Wells & Coppersmith "
                  "1994 length and width) dipping 45 deg SSE, hypocentre at 18 km, rupturing up "
                  "towards Almaty and both ways along strike", """
seed = 18875
start_time = 2024-05-13T04:35:00Z
length_s = 65.0
[stations]
include = ["AW.*"]
channels = ["HN?"]
[[source]]
origin_time = 2024-05-13T04:35:05Z
latitude_deg = 43.15
longitude_deg = 76.90
depth_km = 18.0
magnitude = 7.5
strike_deg = 75.0
length_km = 97.0
nucleation_fraction = 0.5
width_km = 24.5
dip_deg = 45.0
nucleation_dip_fraction = 0.7
subevent_spacing_km = 8.0
expect_public_alert = true
"""),
    "kemin_m8.0": ("Kemin-1911-type M8.0, 35 km south of Almaty: 190 x 35.5 km rupture (Wells & "
                  "Coppersmith 1994) dipping 60 deg S, rupturing mostly east", """
seed = 1911
start_time = 2024-05-10T23:25:43Z
length_s = 95.0
[stations]
include = ["AW.*"]
channels = ["HN?"]
[[source]]
origin_time = 2024-05-10T23:25:48Z
latitude_deg = 42.88
longitude_deg = 76.95
depth_km = 20.0
magnitude = 8.0
strike_deg = 80.0
length_km = 190.0
nucleation_fraction = 0.35
width_km = 35.5
dip_deg = 60.0
nucleation_dip_fraction = 0.6
subevent_spacing_km = 15.0
expect_public_alert = true
"""),
    "chilik_m8.2": ("Chilik-1889-type M8.2, 140 km east of Almaty: 250 x 41 km rupture (Wells & "
                   "Coppersmith 1994) dipping 60 deg S, 75 km west and 175 km east", """
seed = 1889
start_time = 2024-05-14T22:14:00Z
length_s = 85.0
[stations]
include = ["AW.*"]
channels = ["HN?"]
[[source]]
origin_time = 2024-05-14T22:14:05Z
latitude_deg = 43.15
longitude_deg = 78.60
depth_km = 22.0
magnitude = 8.2
strike_deg = 80.0
length_km = 250.0
nucleation_fraction = 0.3
width_km = 41.0
dip_deg = 60.0
nucleation_dip_fraction = 0.55
subevent_spacing_km = 18.0
expect_public_alert = true
"""),
    "kyrgyz_m5.5": ("M5.5 at 12 km depth in Kyrgyzstan north of Issyk-Kul, AW and KN networks",
                    """
seed = 55
start_time = 2024-05-04T08:00:00Z
length_s = 60.0
[stations]
channels = ["HHZ", "HN?", "HHN", "HHE"]
[[source]]
origin_time = 2024-05-04T08:00:05Z
latitude_deg = 42.80
longitude_deg = 77.60
depth_km = 12.0
magnitude = 5.5
"""),
    "small_m3": ("M3.0 at 8 km depth near Talgar, below any alert threshold", """
seed = 3
start_time = 2024-05-05T22:10:00Z
length_s = 40.0
[stations]
include = ["AW.*"]
[[source]]
origin_time = 2024-05-05T22:10:05Z
latitude_deg = 43.33
longitude_deg = 77.15
depth_km = 8.0
magnitude = 3.0
"""),
    "double_m5": ("Two M5.0 events 20 s apart, east and west of the city (overlapping wave "
                  "trains)", """
seed = 505
start_time = 2024-05-06T14:00:00Z
length_s = 70.0
[stations]
include = ["AW.*"]
channels = ["HHZ", "HN?"]
[[source]]
id = "east"
origin_time = 2024-05-06T14:00:10Z
latitude_deg = 43.05
longitude_deg = 77.30
depth_km = 10.0
magnitude = 5.0
[[source]]
id = "west"
origin_time = 2024-05-06T14:00:30Z
latitude_deg = 43.35
longitude_deg = 76.55
depth_km = 12.0
magnitude = 5.0
"""),
    "noise_30min": ("30 min of ambient noise on three stations with every disturbance and no "
                    "earthquake", """
seed = 1800
start_time = 2024-05-07T00:00:00Z
length_s = 1800.0
[stations]
include = ["AW.ALMY", "AW.TALG", "AW.KAST"]
channels = ["HH?", "HNZ"]
[[disturbance]]
kind = "spike"
target = "AW.ALMY..HHZ"
time_s = 120.0
amplitude_counts = 2000000.0
[[disturbance]]
kind = "spike"
target = "AW.TALG..HHN"
time_s = 900.5
amplitude_counts = -800000.0
[[disturbance]]
kind = "step"
target = "AW.KAST..HHZ"
time_s = 300.0
amplitude_counts = 150000.0
[[disturbance]]
kind = "calibration"
target = "AW.TALG..HHZ"
time_s = 600.0
duration_s = 60.0
frequency_hz = 1.0
amplitude_counts = 300000.0
[[disturbance]]
kind = "gap"
target = "AW.ALMY"
time_s = 1000.0
duration_s = 30.0
[[disturbance]]
kind = "dead"
target = "AW.KAST..HNZ"
time_s = 0.0
[[disturbance]]
kind = "clip"
target = "AW.ALMY..HHE"
time_s = 1400.0
duration_s = 3.0
frequency_hz = 2.0
[[disturbance]]
kind = "clock_offset"
target = "AW.TALG"
offset_s = 1.5
"""),
    "teleseism_m7.5": ("Teleseism: M7.5 off north-east Japan (about 48 deg), plane P wave "
                       "crossing the network within a few seconds", """
seed = 75
start_time = 2024-05-08T06:08:20Z
length_s = 120.0
[stations]
include = ["AW.*"]
channels = ["HH?"]
[[source]]
kind = "teleseism"
origin_time = 2024-05-08T06:00:00Z
latitude_deg = 38.3
longitude_deg = 142.4
depth_km = 30.0
magnitude = 7.5
"""),
    "hindu_kush_m7.0": ("Deep distant regional event: Hindu Kush M7.0 at 200 km depth, about "
                        "900 km SW (P and S in the window)", """
seed = 200
start_time = 2024-05-09T10:01:35Z
length_s = 150.0
[stations]
include = ["AW.*"]
channels = ["HH?"]
[[source]]
origin_time = 2024-05-09T10:00:00Z
latitude_deg = 36.5
longitude_deg = 70.8
depth_km = 200.0
magnitude = 7.0
stress_drop_bar = 100.0
"""),
    "bishkek_m6.0": ("M6.0 at 10 km depth by Bishkek, 10-20 km from KN.KBK and KN.CHM: the "
                     "partner's stations see it first (their P waves are kept, not taken for "
                     "calibration sines)", """
seed = 600
start_time = 2024-05-11T07:00:02Z
length_s = 43.0
[stations]
channels = ["HHZ", "HN?", "HHN", "HHE"]
[[source]]
origin_time = 2024-05-11T07:00:05Z
latitude_deg = 42.80
longitude_deg = 74.75
depth_km = 10.0
magnitude = 6.0
expect_public_alert = true
"""),
    "wushi_m7.0": ("Wushi-2024-type M7.0 at 13 km depth, 260 km SE of Almaty (41.26N 78.63E), 49 "
                  "km line source: felt in Almaty (about MSK IV), S waves there about 70 s after "
                  "origin", """
seed = 2024
start_time = 2024-01-22T18:08:59Z
length_s = 100.0
[stations]
channels = ["HHZ", "HNN", "HNE"]
[[source]]
origin_time = 2024-01-22T18:09:04Z
latitude_deg = 41.26
longitude_deg = 78.63
depth_km = 13.0
magnitude = 7.0
strike_deg = 235.0
length_km = 49.0
nucleation_fraction = 0.5
expect_public_alert = true
"""),
    "regional_m4.5": ("Unfelt regional M4.5 at 10 km depth 140 km SW of Almaty in Kyrgyzstan "
                      "(42.30N 75.70E): an event for operators, no public alert", """
seed = 451
start_time = 2024-05-12T15:00:02Z
length_s = 50.0
[stations]
channels = ["HHZ", "HN?"]
[[source]]
origin_time = 2024-05-12T15:00:05Z
latitude_deg = 42.30
longitude_deg = 75.70
depth_km = 10.0
magnitude = 4.5
expect_public_alert = false
"""),
    "city_glitch": ("One city station's glitches (spike, boxcar, a 3-s burst on every channel) "
                    "and nothing else: no event, no alert", """
seed = 38
start_time = 2025-03-05T09:00:00Z
length_s = 50.0
[stations]
include = ["AW.ALMY", "AW.AUEZ", "AW.BOST", "AW.MEDE", "AW.ZHET", "AW.KTOB", "AW.KAMN"]
channels = ["HHZ", "HN?"]
[[disturbance]]
kind = "spike"
target = "AW.ALMY..HHZ"
time_s = 15.0
amplitude_counts = 3000000.0
[[disturbance]]
kind = "step"
target = "AW.ALMY..HNZ"
time_s = 25.0
amplitude_counts = 400000.0
[[disturbance]]
kind = "step"
target = "AW.ALMY..HNZ"
time_s = 25.4
amplitude_counts = -400000.0
[[disturbance]]
kind = "clip"
target = "AW.ALMY"
time_s = 40.0
duration_s = 3.0
frequency_hz = 4.0
amplitude_counts = 3000000.0
"""),
}


def write_readme(sizes: dict[str, int]) -> None:
    """Rewrite ``waveforms_samples/README.md`` with one line per scenario."""
    lines = [
        "# Waveform samples",
        "",
        "Simulated scenarios with known truth, made by `tools/make_samples.py` with",
        "`eew simulate` (see `docs/simulator.md`). Each folder holds `scenario.toml`, one",
        "miniSEED file per channel (512-byte Steim-2 records, counts) and `truth.json` (source,",
        "per-station P and S times, distances and peak ground motion). The stations are the",
        "synthetic placeholder AW network and KNET from `stations/`. `obspy_rjob/` is a real",
        "record kept separately. Look at any of them with `eew plot waveforms_samples/NAME`.",
        "",
        "| folder | size | what it is |",
        "|---|---|---|",
    ]
    for name, (desc, _) in SCENARIOS.items():
        lines.append(f"| `{name}/` | {sizes.get(name, 0) / 1e6:.1f} MB | {desc} |")
    lines.append("")
    (OUT / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(names: list[str]) -> int:
    """Simulate the named scenarios (all if none) and report sizes and run times."""
    from eew.simulate.run import run_scenario_file

    todo = names or list(SCENARIOS)
    for name in todo:
        desc, body = SCENARIOS[name]
        folder = OUT / name
        folder.mkdir(parents=True, exist_ok=True)
        toml = folder / "scenario.toml"
        toml.write_text(f'[scenario]\nname = "{name}"\ndescription = "{desc}"\n'
                        + body.lstrip(), encoding="utf-8")
        t0 = time.perf_counter()
        truth = run_scenario_file(toml, folder)
        print(f"{name}: {len(truth['channels'])} channels in {time.perf_counter() - t0:.1f} s")
    sizes = {n: sum(p.stat().st_size for p in (OUT / n).iterdir())
             for n in SCENARIOS if (OUT / n).is_dir()}
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file()
                and "obspy_rjob" not in p.parts)
    write_readme(sizes)
    for n, s in sizes.items():
        print(f"  {n:18s} {s / 1e6:6.2f} MB")
    print(f"total (without obspy_rjob): {total / 1e6:.2f} MB")
    if total > LIMIT_BYTES:
        print("error: samples exceed 25 MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
