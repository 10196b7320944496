"""Audio faults at the kiosk, each on the real sounddevice path (ALSA file device): the trainee
gets one clear sentence, and whatever was heard is still judged.

A headset unplugged mid-answer is simulated the way PortAudio experiences it: the stream is
aborted underneath the reader (ALSA's file plugin itself never fails a read).
"""

from dataclasses import replace

import numpy as np
import pytest

from audio.capture import Outcome, record_answer
from audio.clip import Clip
from audio.devices import Microphone
from audio.source import AudioChunk, chunks_from_clip
from audio.vad import EndpointConfig
from kiosk.session import PracticeSession
from scenarios.library import load_library
from conftest import run_kiosk


@pytest.fixture
def session(engines) -> PracticeSession:
    return PracticeSession(load_library().get("late-delivery"), engines)


def _unplugged_after(mic: Microphone, seconds: float):
    for chunk in mic.chunks():
        yield chunk
        if chunk.end_s >= seconds:
            mic._stream.abort()  # what PortAudio's ALSA host does when the USB device disappears


def test_a_microphone_unplugged_mid_answer_keeps_what_was_said(alsa_device, jfk, session):
    alsa_device.feed(Clip.silence(0.3).concat(jfk))
    with Microphone() as mic:
        recording = record_answer(_unplugged_after(mic, 4.0))
    assert recording.outcome is Outcome.DEVICE_LOST
    assert "unplugged" in recording.error
    assert recording.has_speech and recording.clip.duration_s == pytest.approx(4.0, abs=0.1)
    record = session.answer(recording)
    assert record.outcome == "device_lost"
    assert "americans" in record.analysis.transcript.text.lower()


def test_no_speaker_is_one_line_and_non_zero(tmp_path):
    conf = tmp_path / "asoundrc"
    conf.write_text(
        'pcm.!default { type asym; capture.pcm { type file; slave.pcm "null"; '
        f'file "/dev/null"; infile "{tmp_path / "in.raw"}"; format "raw" }} }}\n'
    )
    (tmp_path / "in.raw").write_bytes(b"")
    result = run_kiosk(
        "practice", "--scenario", "late-delivery", env={"ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{conf}"}
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no speaker or headset found")
    assert "Traceback" not in result.stderr


def test_a_shouted_clipped_answer_is_judged_and_called_out(jfk, session):
    shouted = Clip(np.clip(jfk.samples * 30.0, -1.0, 1.0).astype(np.float32), jfk.sample_rate_hz)
    record = session.answer(record_answer(chunks_from_clip(shouted)))
    delivery = record.analysis.delivery
    assert delivery.clipped
    voice = delivery.lower_voice
    assert voice.status == "needs_work" and "overloaded" in voice.detail
    assert "country" in record.analysis.transcript.text.lower()


def test_an_answer_past_the_cap_is_cut_there_and_judged(jfk, session):
    """Push-to-talk and a trainee who never taps "I've finished": the cap ends it."""
    endless = np.tile(jfk.samples, 3)
    chunks = (AudioChunk(endless[i : i + 1600], 16000, i / 16000) for i in range(0, len(endless), 1600))
    recording = record_answer(chunks, replace(EndpointConfig.for_room(push_to_talk=True), max_answer_s=15.0))
    assert recording.outcome is Outcome.MAX_LENGTH
    assert recording.clip.duration_s == pytest.approx(15.0, abs=0.1)
    record = session.answer(recording)
    assert record.outcome == "max_length" and record.analysis.transcript.words
