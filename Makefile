# `make run` and `make test` are all the set-up a fresh machine with Python 3.11 needs:
# each builds .venv on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The install is editable in "strict" mode (a tree of links to the sources, on sys.path by a
# plain .pth file), so mypy and editors see vault_client too. New or removed files (modules,
# templates, static files, catalogs) need it made again: the stamp's name changes with the
# list of files.
SOURCES := $(shell find vault clients/python/vault_client clients/python/vault_app -type f \
             -not -name '*.pyc' 2>/dev/null | sort | cksum | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(SOURCES)

.PHONY: run test test-fast lint demo bench vectors clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' --config-settings editable_mode=strict
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# A relay on the embedded SQLite (./var/relay) and the member app connected to it
# (./var/member): prints the app's address and opens the browser. Ctrl-C stops both.
# Operators run `vault relay serve`; members run `vault app`.
run: $(STAMP)
	$(BIN)/python -m vault_app.local

demo: $(STAMP)
	$(BIN)/python -m vault.walkthrough

lint: $(STAMP)
	$(BIN)/ruff check vault tests clients benchmarks
	$(BIN)/mypy --strict vault/crypto clients/python/vault_client
	$(BIN)/mypy --strict vault/api
	$(BIN)/mypy --strict clients/python/vault_app

# The schemathesis file runs on its own: it builds part of its cases while collecting, and its
# last test checks what the passes before it saw, so it must not depend on the order of a
# larger run. Then everything else, slow tests included, in JOBS processes (pytest-xdist; a
# file's tests stay in one process, so a module's relay is started once): one per CPU, at
# most 4, as each test may also run a relay, an app or a browser of its own.
SCHEMATHESIS := tests/api/test_schemathesis.py
JOBS ?= $(shell $(PYTHON) -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')
PARALLEL := -n $(JOBS) --dist loadfile

test: lint
	$(BIN)/python -m pytest $(SCHEMATHESIS)
	$(BIN)/python -m pytest --ignore=$(SCHEMATHESIS) $(PARALLEL) --durations=25

# Everything but the tests marked slow (relay processes, fault injection, long journeys,
# fuzzing with many examples): under two minutes, for while you work. `make test` before a commit.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PARALLEL)

bench: $(STAMP)
	$(BIN)/python benchmarks/crypto.py

vectors: $(STAMP)
	$(BIN)/python tests/vectors/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
