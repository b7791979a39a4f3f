# Two commands on a fresh machine: `make demo` and `make test`. Both bootstrap .venv/ on
# first use; the stamp is named after pyproject.toml's hash, so set-up reruns only when the
# dependencies change.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-16)
# 2 cores: one pytest worker each.
JOBS ?= 2

.PHONY: demo test test-fast bench lint clean setup

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned: the CPU build of exactly this version lies on the machine's
	# disk; letting the resolver choose pulls a multi-gigabyte CUDA build.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e .
	rm -f $(VENV)/.installed-*
	touch $@

demo: $(STAMP)
	$(VENV)/bin/asq-hw demo

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) --durations=15

# The unit tests only: no HDL simulators, no synthesis, nothing slow.
test-fast: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m "not slow and not rtl and not synth"

bench: $(STAMP)
	$(PY) -m asq_hw.bench

# Ruff, then the import contracts of pyproject.toml (layers, no cycles, no torch below).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean:
	rm -rf build .pytest_cache sim_build
