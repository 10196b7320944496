"""audio.vad: streaming Silero equals faster-whisper's batch VAD; the endpointer's rules."""

import numpy as np
import pytest

from audio.vad import WINDOW_SAMPLES, EndpointConfig, Endpointer, Event, SpeechDetector


def test_streaming_probabilities_equal_the_batch_model(jfk):
    from faster_whisper.vad import get_vad_model

    audio = np.pad(jfk.samples, (0, WINDOW_SAMPLES - len(jfk.samples) % WINDOW_SAMPLES))
    batch = np.ravel(get_vad_model()(audio))
    detector = SpeechDetector()
    # Feed in uneven pieces, as a sound card would.
    pieces = np.array_split(audio, 37)
    streamed = np.concatenate([detector.probabilities(p) for p in pieces])
    assert len(streamed) == len(batch)
    assert np.max(np.abs(streamed - batch)) < 1e-5


def test_speech_is_detected_in_speech_and_not_in_silence(jfk):
    probs = SpeechDetector().probabilities(jfk.samples)
    t = np.arange(len(probs)) * WINDOW_SAMPLES / 16000
    assert probs[(t > 0.4) & (t < 2.0)].mean() > 0.7  # "And so my fellow Americans"
    assert SpeechDetector().probabilities(np.zeros(16000, np.float32)).max() < 0.2


def _run(probs, config=EndpointConfig()):
    ep, events = Endpointer(config), []
    for p in probs:
        events += ep.push(p)
    return events


WIN = WINDOW_SAMPLES / 16000


def _fired_at(probs, config=EndpointConfig()):
    ep = Endpointer(config)
    for n, p in enumerate(probs, 1):
        if any(e.kind is Event.SPEECH_END for e in ep.push(p)):
            return n * WIN
    return None


def test_end_of_speech_fires_after_the_configured_silence():
    probs = [0.0] * 10 + [0.9] * 100 + [0.0] * 40  # 3.2 s of speech
    events = _run(probs, EndpointConfig(end_silence_ms=700, pause_ms=250))
    kinds = [e.kind for e in events]
    assert kinds == [Event.SPEECH_START, Event.PAUSE, Event.SPEECH_END]
    assert events[0].time_s == pytest.approx(10 * WIN)
    assert events[-1].time_s == pytest.approx(110 * WIN)  # end of speech, not when it fired
    assert 0.7 <= _fired_at(probs) - 110 * WIN < 0.7 + WIN


def test_a_short_answer_gets_a_longer_grace_to_continue():
    short = [0.9] * 40 + [0.0] * 37  # 1.3 s of speech, then a 1.2 s pause
    assert _fired_at(short + [0.9] * 60 + [0.0] * 40) is not None
    assert Event.SPEECH_END not in [e.kind for e in _run(short)]
    assert _fired_at(short + [0.0] * 40) == pytest.approx((40 + 47) * WIN, abs=WIN)  # 1.5 s


def test_a_click_does_not_start_an_answer():
    events = _run([0.0] * 10 + [0.9] * 3 + [0.0] * 300, EndpointConfig(no_speech_timeout_s=5))
    assert [e.kind for e in events] == [Event.NO_SPEECH]


def test_short_pauses_do_not_end_the_answer():
    probs = [0.9] * 50 + [0.1] * 12 + [0.9] * 50 + [0.0] * 30  # 384 ms pause < 700 ms
    kinds = [e.kind for e in _run(probs)]
    assert kinds.count(Event.SPEECH_END) == 1 and kinds.count(Event.PAUSE) == 2


def test_hysteresis_keeps_speech_between_thresholds():
    probs = [0.9] * 80 + [0.4] * 30 + [0.0] * 30  # 0.4 is above neg_threshold 0.35
    events = _run(probs)
    assert events[-1].kind is Event.SPEECH_END and events[-1].time_s == pytest.approx(110 * WIN)


def test_length_cap():
    events = _run([0.9] * 200, EndpointConfig(max_answer_s=3.0))
    assert events[-1].kind is Event.MAX_LENGTH
    assert events[-1].time_s == pytest.approx(3.0, abs=WIN)
