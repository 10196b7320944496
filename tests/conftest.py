"""Shared fixtures: real audio, a real (headless) ALSA sound device, the real Whisper model.

ALSA's ``file`` plugin gives PortAudio a default device that records from ``in.raw`` and plays
into ``out.raw`` (16 kHz S16_LE mono), so sounddevice runs its real code path with no sound
card. ALSA reads its configuration when PortAudio initialises (on ``import sounddevice``), so
the environment is set here, at import time, before any test module can import it.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

if __name__ != "conftest":
    # Imported a second time under another name (``tests.conftest``), this module would make a
    # second sandbox and point the fixtures at files PortAudio never reads.
    raise ImportError("import test helpers with `from conftest import ...`, not `from tests.conftest ...`")

ROOT = Path(__file__).resolve().parents[1]
SPEECH_DIR = ROOT / "tests" / "data" / "speech"
"""Real recordings with reference values, copied in with their licences (tests/data/speech/README.md)."""

_SANDBOX = Path(tempfile.mkdtemp(prefix="kiosk-tests-"))
ALSA_DIR = _SANDBOX / "alsa"
ALSA_DIR.mkdir()
ALSA_IN, ALSA_OUT = ALSA_DIR / "in.raw", ALSA_DIR / "out.raw"
ALSA_IN.write_bytes(b"")
ASOUNDRC = ALSA_DIR / "asoundrc"
ASOUNDRC.write_text(
    f'pcm.!default {{ type file; slave.pcm "null"; file "{ALSA_OUT}"; infile "{ALSA_IN}"; format "raw" }}\n'
)

os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{ASOUNDRC}"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["XDG_CACHE_HOME"] = str(_SANDBOX / "cache")
os.environ.pop("KIOSK_WHISPER_MODEL", None)
os.environ.pop("KIOSK_SCENARIOS_DIR", None)

from audio.clip import Clip, load  # noqa: E402  (after the environment is set)


def speech_file(name: str) -> Path:
    path = SPEECH_DIR / name
    if not path.is_file():
        pytest.fail(f"missing test recording {path} (see tests/data/speech/README.md)", pytrace=False)
    return path


def speech_manifest() -> list[dict[str, str]]:
    """The recordings' reference values; empty when the file is missing, so collection never
    fails and ``test_speech_manifest_present`` reports it in one line instead."""
    path = SPEECH_DIR / "manifest.tsv"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="session")
def jfk() -> Clip:
    return load(speech_file("jfk.wav"))


@dataclass
class AlsaFileDevice:
    """The headless sound device: write what the microphone hears, read what was played."""

    infile: Path
    outfile: Path

    def feed(self, clip: Clip) -> None:
        self.infile.write_bytes(clip.resampled(16000).to_pcm16())
        self.outfile.write_bytes(b"")

    def played(self) -> np.ndarray:
        return np.frombuffer(self.outfile.read_bytes(), dtype="<i2")


@pytest.fixture
def alsa_device() -> AlsaFileDevice:
    device = AlsaFileDevice(ALSA_IN, ALSA_OUT)
    device.feed(Clip.silence(0.0))
    return device


@pytest.fixture(scope="session")
def transcriber():
    from audio.asr import shared_transcriber

    return shared_transcriber()


@pytest.fixture(scope="session")
def engines(tmp_path_factory):
    from kiosk.session import Engines

    return Engines.load(tts_cache=tmp_path_factory.mktemp("tts"))


@pytest.fixture(scope="session")
def synth(engines):
    return engines.synthesizer


@pytest.fixture(scope="session")
def neural_engines(engines, tmp_path_factory):
    """The same engines with the neural customer voice (Piper), warmed like the kiosk's."""
    from dataclasses import replace

    from audio.tts import Synthesizer

    neural = replace(engines, synthesizer=Synthesizer(tmp_path_factory.mktemp("tts-neural"), "piper"))
    assert neural.synthesizer.engine == "piper", neural.synthesizer.fallback_reason
    neural.warm_up()
    return neural


def run_kiosk(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the real `kiosk` command in a subprocess (as a user would)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or ROOT,
        timeout=timeout,
    )


def espeak(
    text: str, path: Path, rate_wpm: int = 150, pitch: int = 50, amplitude: int = 100, voice: str = "en-us"
) -> Clip:
    """A recording made with the espeak-ng command line (an independent stand-in speaker)."""
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(rate_wpm), "-p", str(pitch), "-a", str(amplitude), "-w", str(path), text],
        check=True,
        capture_output=True,
    )
    return load(path)


# --- Web kiosk, storage and reports (issue 7) ---

GOOD_ANSWER = (
    "I'm so sorry, that is really frustrating. Let me check with the depot now. I can book the "
    "first slot tomorrow, or refund the delivery charge."
)
"""A calm, helpful answer to the late-delivery customer (apology, empathy, options); 68/100."""


@pytest.fixture(scope="session")
def answer_wav(tmp_path_factory) -> Path:
    """GOOD_ANSWER spoken by espeak-ng, with silence either side as a microphone would catch it."""
    folder = tmp_path_factory.mktemp("answer")
    speech = espeak(GOOD_ANSWER, folder / "raw.wav", rate_wpm=160, pitch=40, voice="en-us+m3")
    from audio.clip import save_wav

    return save_wav(Clip.silence(0.5).concat(speech.resampled(16000), Clip.silence(2.5)), folder / "answer.wav")


@pytest.fixture(scope="session")
def judged_session(engines, answer_wav):
    """One real late-delivery session, judged by the real engine: (SessionResult, Baseline)."""
    from audio.capture import record_answer
    from audio.source import chunks_from_clip
    from kiosk.session import PracticeSession, measure_baseline
    from scenarios.library import load_library

    clip = load(answer_wav)
    baseline = measure_baseline(clip, engines)
    session = PracticeSession(load_library().get("late-delivery"), engines, baseline)
    session.answer(record_answer(chunks_from_clip(clip)))
    return session.result(), baseline
