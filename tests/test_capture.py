"""audio.capture + audio.devices through a real ALSA device (the `file` plugin), no mocks."""

import numpy as np
import pytest

from audio.capture import Outcome, record_answer
from audio.clip import Clip
from audio.devices import Microphone, list_devices, play
from audio.source import chunks_from_clip
from audio.vad import EndpointConfig


def test_the_headless_device_is_listed():
    devices = list_devices()
    assert any(d.max_input_channels > 0 and d.is_default_input for d in devices)


def test_microphone_delivers_exactly_the_recording(alsa_device, jfk):
    alsa_device.feed(jfk)
    with Microphone() as mic:
        got = []
        for chunk in mic.chunks():
            got.append(chunk.samples)
            if sum(map(len, got)) >= len(jfk.samples):
                break
    heard = np.concatenate(got)[: len(jfk.samples)]
    assert np.max(np.abs(heard - jfk.samples)) < 1.5 / 32768


def test_endpointing_stops_soon_after_the_speaker_stops(alsa_device, jfk):
    # JFK's last word ends at ~10.6 s; then 3 s of silence follow on the "microphone".
    alsa_device.feed(Clip.silence(1.0).concat(jfk, Clip.silence(3.0)))
    levels = []
    with Microphone() as mic:
        rec = record_answer(mic.chunks(), on_level=levels.append)
    assert rec.outcome is Outcome.SPEECH_ENDED
    assert rec.speech_start_s == pytest.approx(1.3, abs=0.4)
    speech_end = rec.speech_end_s
    assert 10.8 < speech_end < 11.9
    # JFK's 1.1 s pauses early on did not end the answer; the final silence did, 0.7 s after
    # the last word (to the 32 ms VAD window).
    consumed_s = len(levels) * 512 / 16000
    assert consumed_s - speech_end <= 0.7 + 0.033
    assert rec.clip.duration_s == pytest.approx(speech_end + 0.2, abs=0.05)
    assert max(levels) > -30 and min(levels) < -90


def test_silence_gives_the_no_speech_outcome(alsa_device):
    alsa_device.feed(Clip.silence(6.0))
    with Microphone() as mic:
        rec = record_answer(mic.chunks(), EndpointConfig(no_speech_timeout_s=4.0))
    assert rec.outcome is Outcome.NO_SPEECH
    assert not rec.has_speech
    assert rec.clip.duration_s == pytest.approx(4.0, abs=0.1)


def test_answers_are_cut_at_the_cap(jfk):
    rec = record_answer(chunks_from_clip(jfk), EndpointConfig(max_answer_s=3.5))  # inside "not"
    assert rec.outcome is Outcome.MAX_LENGTH
    assert rec.clip.duration_s == pytest.approx(3.5, abs=0.05)
    assert rec.speech_end_s == pytest.approx(rec.clip.duration_s)


def test_a_file_that_ends_mid_speech_keeps_all_its_speech(jfk):
    rec = record_answer(chunks_from_clip(jfk.slice_s(0, 4.2)))  # cut inside "what your"
    assert rec.outcome is Outcome.SOURCE_ENDED
    assert rec.has_speech and rec.speech_end_s == pytest.approx(4.2, abs=0.05)


def test_playback_arrives_in_the_output_file(alsa_device):
    tone = Clip((0.25 * np.sin(2 * np.pi * 300 * np.arange(8000) / 16000)).astype(np.float32), 16000)
    play(tone)
    out = alsa_device.played().astype(np.float32) / 32768
    assert len(out) >= 8000
    start = int(np.argmax(np.abs(out) > 0.01))  # the plugin writes a few hundred zeros first
    # The tone's first sample is 0, so the first loud sample is the tone's second.
    np.testing.assert_allclose(out[start : start + 7000], tone.samples[1:7001], atol=2 / 32768)
