# Two targets are all a new user needs: `make demo` and `make test`.
# Each creates .venv when missing and installs the project (editable) into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench generate lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.py pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,amqp]'
	touch $(STAMP)

# The simulated night on the embedded default (SQLite, processes on loopback); the
# report goes to ./evgrid-demo/. `evgrid demo --help` lists the options.
demo: $(STAMP)
	$(BIN)/evgrid demo

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_codec.py
	$(BIN)/python benchmarks/bench_inbound.py
	$(BIN)/python benchmarks/bench_iec61850.py
	$(BIN)/python benchmarks/bench_scheduler.py
	$(BIN)/python benchmarks/bench_mdm.py

# Regenerate the committed xsdata bindings from our schemas.
generate: $(STAMP)
	$(BIN)/python -m evgrid.cim.regenerate

lint: $(STAMP)
	$(BIN)/ruff check evgrid tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info evgrid-demo
