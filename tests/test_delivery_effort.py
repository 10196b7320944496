"""Calm against raised voices, pace and level drift within an answer, and mirroring an angry
customer (issue 5).

espeak-ng stands in for a speaker who can be asked to shout: louder (-a), higher (-p), faster
(-s). Its amplitude is only a gain, so for the vocal-effort cue the raised voice also uses an
espeak variant whose "tone" equaliser tilts the spectrum up by about 10 dB above 1 kHz, the size
of the spectral change published for shouted against normal speech.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audio.clip import Clip, load
from analysis.delivery import VERDICT_RULES, analyze_delivery, customer_voice, judge, measure
from analysis import rate
from scenarios import customer
from conftest import run_kiosk, speech_file
from speech_mix import espeak_with_effort, say, scaled

ANSWER = "I understand this is frustrating, let me check what happened with your order right now."
CALIBRATION = "The quick brown fox jumps over the lazy dog near the quiet river bank this morning."


@pytest.fixture(scope="module")
def espeak_data(tmp_path_factory) -> Path:
    return espeak_with_effort(tmp_path_factory.mktemp("espeak"))


@pytest.fixture(scope="module")
def voices(espeak_data, tmp_path_factory, transcriber):
    d = tmp_path_factory.mktemp("voices")
    clips = {
        "calibration": say(espeak_data, d / "cal.wav", CALIBRATION, "-a", "100", "-p", "50", "-s", "150"),
        "calm": say(espeak_data, d / "calm.wav", ANSWER, "-a", "100", "-p", "50", "-s", "150"),
        "shouted": say(espeak_data, d / "shout.wav", ANSWER, "-a", "200", "-p", "70", "-s", "190", variant="+effort"),
    }
    return {k: (c, transcriber.transcribe(c)) for k, c in clips.items()}


def test_shouting_is_told_apart_on_pitch_level_and_effort(voices):
    calm, shouted = (measure(*voices[k]) for k in ("calm", "shouted"))
    assert shouted.median_f0_hz > calm.median_f0_hz * 2 ** (2 / 12)  # > 2 semitones higher
    assert shouted.level_db > calm.level_db + 4
    assert shouted.spectral_balance_db > calm.spectral_balance_db + 4


def test_the_voice_verdict_against_a_calm_baseline(voices):
    baseline = measure(*voices["calibration"]).as_baseline()
    calm = analyze_delivery(*voices["calm"], baseline)
    shouted = analyze_delivery(*voices["shouted"], baseline)
    assert calm.lower_voice.status == "pass", calm.lower_voice
    assert shouted.lower_voice.status == "needs_work", shouted.lower_voice
    assert shouted.balance_delta_db > 4 and "vocal effort" in shouted.lower_voice.detail
    assert shouted.lower_voice.source == "defuse-lower-voice" and "guide" not in shouted.lower_voice.tip


def test_effort_shows_through_a_turned_down_microphone(voices):
    """Shouting into a microphone 10 dB less sensitive: the level no longer rises, the spectral
    balance still does, so the voice is still judged raised."""
    baseline = measure(*voices["calibration"]).as_baseline()
    clip, transcript = voices["shouted"]
    quiet = analyze_delivery(scaled(clip, -10.0), transcript, baseline)
    assert quiet.level_delta_db < 4
    assert quiet.lower_voice.status == "needs_work", quiet.lower_voice


@pytest.fixture(scope="module")
def customer_lines(espeak_data, tmp_path_factory):
    d = tmp_path_factory.mktemp("customer")
    line = "This is the third time my delivery has not turned up and I want my money back."
    return {
        "calm": say(espeak_data, d / "c0.wav", line, "-a", "75", "-p", "50", "-s", "160"),
        "furious": say(espeak_data, d / "c4.wav", line, "-a", "135", "-p", "78", "-s", "210"),
    }


def test_mirroring_a_furious_customer_angers_them_more(voices, customer_lines):
    angry = customer_voice(customer_lines["calm"], customer_lines["furious"])
    assert angry.raised and angry.level_rise_db > 4
    baseline = measure(*voices["calibration"]).as_baseline()
    shouted = analyze_delivery(*voices["shouted"], baseline, angry)
    calm = analyze_delivery(*voices["calm"], baseline, angry)
    assert shouted.mirroring.status == "needs_work", shouted.mirroring.detail
    assert calm.mirroring.status == "pass", calm.mirroring
    assert (
        customer.delivery_effect(shouted)[0]
        == customer.delivery_effect(analyze_delivery(*voices["shouted"], baseline))[0] + 1
    )


def test_a_calm_customer_cannot_be_mirrored(voices, customer_lines):
    same = customer_voice(customer_lines["calm"], customer_lines["calm"])
    assert not same.raised
    baseline = measure(*voices["calibration"]).as_baseline()
    assert analyze_delivery(*voices["shouted"], baseline, same).mirroring.status == "pass"


def join(*clips: Clip) -> Clip:
    gap = np.zeros(int(0.4 * clips[0].sample_rate_hz), np.float32)
    parts = [p for c in clips for p in (c.samples, gap)]
    return Clip(np.concatenate(parts), clips[0].sample_rate_hz)


def test_speeding_up_toward_the_end_is_a_trend(espeak_data, tmp_path, transcriber):
    first = "Thank you for waiting, I have looked at your account and I can see what went wrong here."
    second = "So what I will do now is book a new delivery slot and refund the charge straight away for you."
    steady = join(
        say(espeak_data, tmp_path / "a.wav", first, "-s", "140"),
        say(espeak_data, tmp_path / "b.wav", second, "-s", "140"),
    )
    rushed = join(
        say(espeak_data, tmp_path / "c.wav", first, "-s", "140"),
        say(espeak_data, tmp_path / "d.wav", second, "-s", "260"),
    )
    assert measure(steady, transcriber.transcribe(steady)).trend == ()
    m = measure(rushed, transcriber.transcribe(rushed))
    assert "sped_up" in m.trend and m.rate_trend_ratio > 1.25
    assert judge(m).speak_slowly.status == "needs_work" and "faster by the end" in judge(m).speak_slowly.detail


def test_getting_louder_is_a_sustained_drift_not_one_loud_word(transcriber):
    clip = scaled(load(speech_file("libri_2412-153948-0000.wav")), -12.0)
    transcript = transcriber.transcribe(clip)
    t = np.arange(clip.samples.size) / clip.sample_rate_hz
    ramp_db = np.clip((t - 4.0) / 5.0, 0, 1) * 9.0  # +9 dB over 4-9 s, held
    louder = Clip(clip.samples * 10 ** (ramp_db / 20), clip.sample_rate_hz)
    one_word = clip.samples.copy()
    word = next(w for w in transcript.words if w.start_s > 8.5)
    span = (t >= word.start_s) & (t <= word.end_s)
    one_word[span] *= 10 ** (10 / 20)
    assert measure(clip, transcript).trend == ()
    got_louder = measure(louder, transcript)
    assert "got_louder" in got_louder.trend
    assert judge(got_louder).lower_voice.status == "needs_work"
    assert judge(got_louder, measure(clip, transcript).as_baseline()).lower_voice.status == "needs_work"
    assert "got_louder" not in measure(Clip(one_word, clip.sample_rate_hz), transcript).trend


@pytest.mark.parametrize(
    "text, words",
    [
        ("In 1813.", ["in", "eighteen", "thirteen"]),
        ("I can refund 25 dollars", ["i", "can", "refund", "twenty", "five", "dollars"]),
        ("1,250 items", ["one", "thousand", "two", "hundred", "fifty", "items"]),
        ("in 1905", ["in", "nineteen", "oh", "five"]),
        ("In 1465, they", ["in", "fourteen", "sixty", "five", "they"]),
        ("3.5 percent", ["three", "point", "five", "percent"]),
    ],
)
def test_numbers_count_as_the_words_said(text, words):
    assert rate.normalize(text) == words


def test_kiosk_analyze_prints_every_delivery_field(tmp_path):
    answer, calm = speech_file("libri_1988-24833-0001.wav"), speech_file("libri_2412-153948-0000.wav")
    result = run_kiosk("analyze", str(answer), "--json", "--baseline", str(calm))
    assert result.returncode == 0, result.stderr
    delivery = json.loads(result.stdout)["delivery"]
    for field in (
        "duration_s",
        "speech_s",
        "wpm",
        "syllables",
        "articulation_rate",
        "median_f0_hz",
        "f0_p10_hz",
        "f0_p90_hz",
        "level_db",
        "spectral_balance_db",
        "snr_db",
        "clipped",
        "pause_count",
        "pause_total_s",
        "fillers",
        "f0_delta_st",
        "level_delta_db",
        "rate_ratio",
        "trend",
        "rate_trend_ratio",
        "level_trend_db",
    ):
        assert field in delivery, field
    assert delivery["f0_delta_st"] < -3  # a man's answer against a woman's baseline
    for verdict in ("speak_slowly", "lower_voice"):
        assert delivery[verdict]["status"] in ("pass", "needs_work", "unknown")
        assert delivery[verdict]["source"] == VERDICT_RULES[verdict]


def test_a_voice_that_overloads_the_microphone_is_flagged(transcriber):
    """Real speech driven 20 dB into the converter's limit: clipped, and told to lower the voice
    even with no baseline; the same speech at its own level is not clipped."""
    clip = load(speech_file("libri_1988-24833-0001.wav"))
    transcript = transcriber.transcribe(clip)
    overloaded = Clip(np.clip(scaled(clip, 20.0).samples, -1.0, 1.0), clip.sample_rate_hz)
    loud = analyze_delivery(overloaded, transcript)
    assert loud.clipped and loud.lower_voice.status == "needs_work"
    assert "overloaded the microphone" in loud.lower_voice.detail
    assert not analyze_delivery(clip, transcript).clipped


def test_the_kiosk_customer_voice_is_raised_when_angry(synth):
    """The customer's own TTS voice (audio.tts.Voice.with_anger) measured the way mirroring needs:
    furious is a raised voice against calm, mildly annoyed is not yet."""
    from audio.tts import Voice

    line = "I have waited all week for this parcel and nobody has called me back."
    calm = synth.synthesize(line, Voice().with_anger(0))
    assert customer_voice(calm, synth.synthesize(line, Voice().with_anger(4))).raised
    assert not customer_voice(calm, synth.synthesize(line, Voice().with_anger(1))).raised
