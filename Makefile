# `make run` and `make test` are all the set-up a fresh machine with Python 3.11 needs:
# each builds .venv on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint demo bench vectors clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/vault relay serve --host 127.0.0.1

demo: $(STAMP)
	$(BIN)/python -m vault.walkthrough

lint: $(STAMP)
	$(BIN)/ruff check vault tests clients benchmarks
	$(BIN)/mypy --strict vault/crypto clients/python/vault_client
	$(BIN)/mypy --strict vault/api

test: lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/crypto.py

vectors: $(STAMP)
	$(BIN)/python tests/vectors/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
