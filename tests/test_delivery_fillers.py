"""Fillers from the transcript: hesitation sounds kept by Whisper's filler prompt, and "like" or
"you know" only where they fill, not where they mean something."""

from __future__ import annotations

import pytest

from audio.asr import Transcript, Word
from audio.clip import load
from analysis import rate
from conftest import espeak, speech_file

HESITANT = "Um, I, uh, I think, you know, we could like maybe check that. Um, I would like to help you."


def typed(text: str) -> Transcript:
    return Transcript(text, tuple(Word(w, 0.0, 0.0, 1.0) for w in text.split()), 0.0)


def test_the_filler_prompt_keeps_hesitations_whisper_would_drop(tmp_path, transcriber):
    clip = espeak(HESITANT, tmp_path / "hesitant.wav", rate_wpm=140)
    fillers = rate.find_fillers(transcriber.transcribe(clip, prompt=rate.FILLER_PROMPT))
    assert sum(f in ("um", "umm", "uh") for f in fillers) >= 2, fillers
    assert "you know" in fillers and fillers.count("like") == 1


@pytest.mark.parametrize("name", ["jfk.wav", "libri_2412-153948-0000.wav", "libri_1988-24833-0001.wav"])
def test_the_filler_prompt_invents_none_in_fluent_speech(name, transcriber):
    transcript = transcriber.transcribe(load(speech_file(name)), prompt=rate.FILLER_PROMPT)
    assert rate.find_fillers(transcript) == []


@pytest.mark.parametrize(
    "text, fillers",
    [
        ("I would like to help you", []),
        ("it looks like the parcel is lost", []),
        ("it was like totally lost", ["like"]),
        ("you know what happened", []),
        ("I can, you know, refund it", ["you know"]),
        ("uh let me um check", ["uh", "um"]),
    ],
)
def test_like_and_you_know_only_when_they_fill(text, fillers):
    assert sorted(rate.find_fillers(typed(text))) == sorted(fillers)
