# Two commands for a new user: `make demo` and `make test`.
# Everything the project needs is installed here, into .venv, from the package registry.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := waveforms_samples/local_m4.5

.PHONY: venv demo test test-fast test-thorough test-wheel wheel lint bench clean samples

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bridges]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	@echo "=== Replaying the simulated M4.5 under Almaty ($(DEMO)) through the live code path ==="
	$(BIN)/eew replay $(DEMO) --out demo_picks.jsonl --table
	$(BIN)/eew plot $(DEMO) --picks demo_picks.jsonl --out demo_plots
	@echo "=== Picks and alerts as JSON Lines: demo_picks.jsonl; record section and map: demo_plots/*.png ==="
	@echo "=== Live chain: SeedLink server at 10x -> daemon -> signed alert bus -> subscriber ==="
	$(BIN)/python tools/live_demo.py

# regenerate the simulated scenarios of waveforms_samples/ (deterministic; `make samples
# NAMES="verny_m7.5 kemin_m8.0"` for some of them; the great events take minutes each)
samples: $(STAMP)
	$(BIN)/python tools/make_samples.py $(NAMES)

# lint, then every test, the slow ones included (tests/test_packaging.py: wheel install + replay)
test: $(STAMP)
	$(BIN)/ruff check eew tests benchmarks tools
	$(BIN)/mypy eew
	$(BIN)/python -m pytest -m "slow or not slow"

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

# part of `make test`: build the wheel, install it into a fresh venv, replay a scenario with it
test-wheel: $(STAMP)
	$(BIN)/python -m pytest -m slow tests/test_packaging.py

# the wheel a station server installs (`pip install dist/almaty_eew-*.whl`)
wheel: $(STAMP)
	rm -rf build
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist .

# the geometry property tests with the issue's 10 000 examples each, with hypothesis's
# statistics (examples run, time per example); measured figures in tests/README.md
test-thorough: $(STAMP)
	$(BIN)/python -m pytest --hypothesis-profile=thorough --hypothesis-show-statistics \
		--durations=0 tests/test_event_geometry.py

lint: $(STAMP)
	$(BIN)/ruff check eew tests benchmarks tools
	$(BIN)/mypy eew

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_stalta.py
	$(BIN)/python benchmarks/bench_replay.py
	$(BIN)/python benchmarks/bench_decode.py
	$(BIN)/python benchmarks/bench_locate.py
	$(BIN)/python benchmarks/bench_bus.py
	$(BIN)/python benchmarks/bench_seedlink.py
	$(BIN)/python benchmarks/bench_latency.py
	$(BIN)/python benchmarks/bench_startup.py
	$(BIN)/python benchmarks/bench_console.py

clean:
	rm -rf $(VENV) build dist *.egg-info demo_picks.jsonl demo_plots demo_live
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
