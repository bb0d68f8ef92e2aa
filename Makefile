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

$(STAMP): $(BIN)/python setup.py
	$(BIN)/python -m pip install --quiet -e '.[test,postgres,amqp]'
	touch $(STAMP)

# `evgrid demo` (the simulated night) comes with a later milestone; until then the demo
# writes the use-case catalog and its example messages and validates every one.
demo: $(STAMP)
	@echo "make demo: 'evgrid demo' is not built yet. This writes the use-case step catalog"
	@echo "and one example message per CIM step into a temporary folder, then validates them all."
	@tmp=$$(mktemp -d) && $(BIN)/evgrid catalog --out $$tmp && $(BIN)/evgrid validate $$tmp/*.xml \
		&& echo "catalog: $$tmp/catalog.md" ; status=$$?; exit $$status

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_codec.py
	$(BIN)/python benchmarks/bench_iec61850.py
	$(BIN)/python benchmarks/bench_scheduler.py

# Regenerate the committed xsdata bindings from our schemas.
generate: $(STAMP)
	$(BIN)/python -m evgrid.cim.regenerate

lint: $(STAMP)
	$(BIN)/ruff check evgrid tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info evgrid-demo
