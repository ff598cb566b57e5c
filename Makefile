# smlmscale: two commands on a fresh machine
#   make demo   creates .venv, installs smlmscale, runs the end-to-end demo on simulated data
#   make test   installs the test extras and runs the default test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
DEMO_DIR ?= demo_out

.PHONY: demo test test-all bench bench-picasso clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/smlmscale demo -o $(DEMO_DIR) --overwrite

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

test-all: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m "slow or not slow"

# SMLMSCALE_BENCH_SMALL=1 make bench: smaller inputs (minutes instead of tens of minutes)
bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest benchmarks -o addopts="" -p no:cacheprovider -s --benchmark-sort=name

# Picasso (picassosr) pins its own NumPy and Qt: the predict benchmark runs it from its own venv
bench-picasso: $(VENV)-picasso/bin/picasso-ready

$(VENV)-picasso/bin/picasso-ready:
	$(PYTHON) -m venv $(VENV)-picasso
	$(VENV)-picasso/bin/python -m pip install --quiet "picassosr==0.11.3" pandas
	touch $@

clean:
	rm -rf $(VENV) $(VENV)-picasso $(DEMO_DIR) .pytest_cache .benchmarks
