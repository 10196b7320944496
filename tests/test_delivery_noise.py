"""Real speech in speech-shaped noise (issue 9): measures hold up at 20 and 10 dB SNR, and at
5 dB the volume verdict says plainly that the room is too noisy instead of guessing."""

from __future__ import annotations

import pytest

from audio.clip import load
from analysis.delivery import analyze_delivery, measure
from conftest import SHARED_SPEECH, speech_file
from speech_mix import with_noise

FILES = ["libri_1988-24833-0001.wav", "ptdb_F01_sa1.wav"]


@pytest.fixture(scope="module")
def clean(transcriber):
    out = {}
    for name in FILES:
        clip = load(speech_file(name))
        out[name] = (clip, measure(clip, transcriber.transcribe(clip)))
    return out


@pytest.mark.parametrize("snr_db", [20, 10])
@pytest.mark.parametrize("name", FILES)
def test_pitch_and_pace_survive_moderate_noise(name, snr_db, clean, transcriber):
    clip, calm = clean[name]
    noisy_clip = with_noise(clip, SHARED_SPEECH, name, snr_db)
    noisy = analyze_delivery(noisy_clip, transcriber.transcribe(noisy_clip), calm.as_baseline())
    assert noisy.median_f0_hz == pytest.approx(calm.median_f0_hz, rel=0.03)      # about half a semitone
    assert noisy.wpm == pytest.approx(calm.wpm, rel=0.15)
    assert noisy.snr_db == pytest.approx(snr_db, abs=3.0)
    assert noisy.level_delta_db == pytest.approx(0.0, abs=1.5)
    assert noisy.lower_voice.status == "pass", noisy.lower_voice


@pytest.mark.parametrize("name", FILES)
def test_too_noisy_to_judge_the_volume_at_5_db(name, clean, transcriber):
    clip, calm = clean[name]
    noisy_clip = with_noise(clip, SHARED_SPEECH, name, 5)
    noisy = analyze_delivery(noisy_clip, transcriber.transcribe(noisy_clip), calm.as_baseline())
    assert noisy.snr_db < 10
    assert noisy.lower_voice.status == "unknown"
    assert noisy.lower_voice.detail.startswith("too noisy to judge your volume")
