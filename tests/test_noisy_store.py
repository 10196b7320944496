"""Endpointing on a shop floor: background voices, steady noise, push-to-talk.

The noise is real speech: four other recordings from tests/data/speech summed as the babble of a
busy store, and noise with the long-term spectrum of speech for the steady case. The trainee is
the JFK recording, placed 2 s into the capture.
"""

import numpy as np
import pytest

from audio.capture import Outcome, record_answer
from audio.clip import Clip, load
from audio.source import chunks_from_clip
from audio.vad import EndpointConfig
from conftest import speech_file

RATE = 16000
LEAD_S = 2.0
BACKGROUND = ["libri_1988-24833-0001.wav", "libri_2412-153948-0000.wav", "lj_LJ002-0020.wav", "lj_LJ002-0035.wav"]
NOISY = EndpointConfig.for_room(noisy=True)


def _active_rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x[np.abs(x) > 0.01]))))


def babble(n: int, seed: int = 0) -> np.ndarray:
    """Four other speakers at once, at unit RMS."""
    rng = np.random.default_rng(seed)
    out = np.zeros(n, np.float32)
    for name in BACKGROUND:
        voice = load(speech_file(name)).samples
        out += np.roll(np.tile(voice, n // len(voice) + 1)[:n], int(rng.integers(n)))
    return out / np.sqrt(np.mean(np.square(out)))


def speech_shaped(reference: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Steady noise with the reference's smoothed long-term spectrum, at unit RMS."""
    rng = np.random.default_rng(seed)
    size = 1 << 17
    spectrum = np.abs(np.fft.rfft(np.resize(reference, size)))
    spectrum = np.convolve(spectrum, np.ones(64) / 64, "same")
    noise = np.fft.irfft(spectrum * np.exp(2j * np.pi * rng.random(len(spectrum))), size)
    noise = np.resize(noise, n).astype(np.float32)
    return noise / np.sqrt(np.mean(np.square(noise)))


@pytest.fixture(scope="module")
def trainee(jfk) -> np.ndarray:
    return jfk.samples


def store(trainee: np.ndarray, noise: np.ndarray, snr_db: float, with_trainee: bool = True) -> Clip:
    """The trainee 2 s into a 16 s capture, over ``noise`` at ``snr_db`` below their voice."""
    mix = noise[: 16 * RATE] * _active_rms(trainee) * 10 ** (-snr_db / 20)
    if with_trainee:
        mix[int(LEAD_S * RATE) : int(LEAD_S * RATE) + len(trainee)] += trainee
    return Clip(mix.astype(np.float32), RATE)


@pytest.fixture(scope="module")
def clean(trainee):
    silence = np.zeros(16 * RATE, np.float32)
    return record_answer(chunks_from_clip(store(trainee, silence, 0.0)))


def test_background_voices_start_an_answer_in_the_quiet_room_setting(trainee):
    """Why the setting exists: Silero rightly hears other people as speech."""
    recording = record_answer(chunks_from_clip(store(trainee, babble(16 * RATE), 10, with_trainee=False)))
    assert recording.has_speech


@pytest.mark.parametrize("snr_db", [20, 10, 5])
def test_background_voices_alone_do_not_start_an_answer_in_a_noisy_store(trainee, snr_db):
    recording = record_answer(chunks_from_clip(store(trainee, babble(16 * RATE), snr_db, with_trainee=False)), NOISY)
    assert recording.outcome is Outcome.NO_SPEECH


@pytest.mark.parametrize("snr_db", [20, 10])
@pytest.mark.parametrize("noise_kind", ["babble-0", "babble-1", "babble-2", "speech_shaped"])
def test_the_trainee_is_endpointed_over_store_noise(trainee, clean, noise_kind, snr_db):
    """The answer is never cut short; in loud chatter its end may run on by up to 1.5 s, and
    the first soft syllable may sink under the gate (the transcript still starts from there)."""
    if noise_kind == "speech_shaped":
        noise = speech_shaped(trainee, 16 * RATE)
    else:
        noise = babble(16 * RATE, seed=int(noise_kind.split("-")[1]))
    recording = record_answer(chunks_from_clip(store(trainee, noise, snr_db)), NOISY)
    assert recording.outcome is Outcome.SPEECH_ENDED
    assert -0.2 < recording.speech_start_s - clean.speech_start_s < 1.1
    assert -0.4 < recording.speech_end_s - clean.speech_end_s < 1.6


def test_push_to_talk_waits_through_a_long_pause(trainee):
    """Two seconds of thought mid-answer would end it normally; with push-to-talk only the
    trainee's tap (here: the source ending) does."""
    gap = np.zeros(2 * RATE, np.float32)
    answer = Clip(np.concatenate([gap, trainee, gap, trainee, gap]), RATE)
    normal = record_answer(chunks_from_clip(answer))
    assert normal.outcome is Outcome.SPEECH_ENDED and normal.speech_end_s < 2 + len(trainee) / RATE + 0.5
    held = record_answer(chunks_from_clip(answer), EndpointConfig.for_room(push_to_talk=True))
    assert held.outcome is Outcome.SOURCE_ENDED
    assert held.speech_end_s == pytest.approx(4 + 2 * len(trainee) / RATE, abs=0.7)
    assert held.speech_clip().duration_s > 2 * len(trainee) / RATE


def test_an_uploaded_answer_is_not_cut_at_a_thinking_pause(trainee, tmp_path):
    """The browser decides where an upload ends (its 1.5 s quiet or the trainee's tap), so the
    server must keep a 1.2 s pause that its own live endpointing would have ended the answer on."""
    import io
    import wave

    from kiosk.web.answers import recording_from_upload

    pause = np.zeros(int(1.2 * RATE), np.float32)
    answer = np.concatenate([pause, trainee, pause, trainee, pause])
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(RATE)
        w.writeframes((np.clip(answer, -1, 1) * 32767).astype("<i2").tobytes())
    recording = recording_from_upload(buf.getvalue(), tmp_path)
    assert recording.speech_clip().duration_s > 2 * len(trainee) / RATE


def test_the_room_settings_come_from_the_settings_file(tmp_path):
    from kiosk.settings import load_settings

    (tmp_path / "settings.toml").write_text("noisy_store = true\npush_to_talk = true\n")
    settings = load_settings(env={"KIOSK_DATA_DIR": str(tmp_path)})
    assert settings.noisy_store and settings.push_to_talk
    assert not load_settings(env={"KIOSK_DATA_DIR": str(tmp_path)}, push_to_talk="off").push_to_talk
