# Two commands for a new user: `make demo` and `make test`.
# Everything the project needs is installed here, into .venv, from the package registry.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := waveforms_samples/obspy_rjob

.PHONY: venv demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/eew replay $(DEMO) --inventory $(DEMO)/stationxml.xml --out demo_picks.jsonl
	@echo "--- picks (demo_picks.jsonl) ---"
	@cat demo_picks.jsonl

test: $(STAMP)
	$(BIN)/ruff check eew tests benchmarks
	$(BIN)/python -m pytest -m "slow or not slow"

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check eew tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_stalta.py
	$(BIN)/python benchmarks/bench_replay.py

clean:
	rm -rf $(VENV) build *.egg-info demo_picks.jsonl
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
