# Two entry points do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench demo clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## The main job: the webhook service with embedded defaults (SQLite queue + store, bundled model, no API key).
run: $(STAMP)
	$(BIN)/triage serve

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

demo: $(STAMP)
	$(BIN)/triage demo

clean:
	rm -rf $(VENV) instance .pytest_cache
