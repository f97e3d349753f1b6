# Two set-up commands (see README): `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-slow lint typecheck bench fuzz clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(VENV)/.installed $@

## Install Vigil and run the main job on the embedded default (SQLite + local files).
demo: $(VENV)/.installed
	$(BIN)/vigil demo

## Install everything (incl. test-only system packages) and run the test suite, except the
## tests marked slow (Spark, Ray clusters, served hubs, kill-and-resume): those are `make test-slow`,
## CI's second step (.ci/run runs both).
test: $(VENV)/.installed-dev
	bash scripts/install-system-deps.sh
	$(BIN)/pytest -n 2 --dist loadfile -m "not slow"

test-slow: $(VENV)/.installed-dev
	bash scripts/install-system-deps.sh
	$(BIN)/pytest -n 2 --dist loadfile -m slow

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

## Every benchmark once in its quick form (gen_*.py are data generators, not benchmarks).
bench: $(VENV)/.installed-dev
	for b in benchmarks/*.py; do case $$b in benchmarks/gen_*) continue;; esac; \
		$(BIN)/python $$b --quick || exit 1; done

## Long fuzz run of every parser (tests/fuzz): FUZZ_CASES cases each (default 10,000), one
## parser after the other; one JSON line per parser goes to fuzz-report.jsonl (see docs/fuzzing.md).
FUZZ_CASES ?= 10000
fuzz: $(VENV)/.installed-dev
	rm -f fuzz-report.jsonl
	VIGIL_FUZZ_CASES=$(FUZZ_CASES) VIGIL_FUZZ_REPORT=$(CURDIR)/fuzz-report.jsonl \
		$(BIN)/pytest tests/fuzz -n 0 -q
	cat fuzz-report.jsonl

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
