"""The streaming policy (audio/answer_stream.py, audio/turn_end.py) stepped in one thread.

Real speech (espeak-ng) through the real VAD; the decoder is a plain function where the policy
is under test (what it is told was said decides when the answer ends), and the real tiny.en
where the question is what Whisper hears at a pause inside a sentence.
"""

import threading

import pytest

from audio.answer_stream import AnswerStream
from audio.asr import Transcript, Word
from audio.clip import Clip
from audio.streaming import StreamingTranscriber, start_worker
from audio.turn_end import COMPLETE_END_S, OPEN_END_S, UNKNOWN_END_S, sentence_complete
from audio.vad import EndpointConfig, Endpointer, Event
from bench.endpointing import IN_SENTENCE, replay, spoken, ends_early
from conftest import espeak

LEAD_S = 0.5


@pytest.fixture(scope="module")
def sentence(tmp_path_factory):
    """One finished sentence, said with a falling voice, and 3 s of silence after it."""
    speech = espeak(
        "Let me check that for you right now.", tmp_path_factory.mktemp("s") / "s.wav", rate_wpm=160
    ).resampled(16000)
    return Clip.silence(LEAD_S).concat(speech, Clip.silence(3.0))


def saying(*texts: str):
    """A decoder that hears ``texts`` spread over whatever clip it is given."""
    calls = []

    def decode(clip: Clip, offset_s: float) -> Transcript:
        calls.append((offset_s, clip.duration_s))
        step = clip.duration_s / (len(texts) + 1)
        words = [Word(t, offset_s + (i + 0.5) * step, offset_s + (i + 1) * step, 0.9) for i, t in enumerate(texts)]
        return Transcript.from_words(words, clip.duration_s)

    decode.calls = calls
    return decode


def end_wait(stream: AnswerStream, clip: Clip) -> float:
    """Feed ``clip``, running every decode as soon as it is queued; silence heard before the end."""
    ended_s = replay(stream, clip)
    assert stream.done
    return ended_s - stream.recording().speech_end_s


def test_a_finished_sentence_ends_the_answer_after_a_short_silence(sentence):
    stream = AnswerStream(StreamingTranscriber(saying("Let", "me", "check", "that", "now.")))
    assert end_wait(stream, sentence) == pytest.approx(COMPLETE_END_S, abs=0.04)
    assert stream.finish().text == "Let me check that now."


@pytest.mark.parametrize("last", ["and", "um,", "because", "the.", "now,"])
def test_a_speaker_who_stopped_mid_sentence_gets_longer(sentence, last):
    stream = AnswerStream(StreamingTranscriber(saying("Let", "me", "check", last)))
    assert end_wait(stream, sentence) == pytest.approx(OPEN_END_S, abs=0.04)
    stream.close()


def test_while_the_last_words_are_still_being_decoded_the_answer_waits(sentence):
    decode = saying("Let", "me", "check", "that", "now.")
    stream = AnswerStream(StreamingTranscriber(decode))
    for chunk_start in range(0, len(sentence.samples), 512):  # no decode runs: a busy machine
        stream.insert_audio_chunk(sentence.samples[chunk_start : chunk_start + 512])
        if stream.done:
            break
    assert stream.capture.duration_s - stream.recording().speech_end_s == pytest.approx(UNKNOWN_END_S, abs=0.04)
    assert not decode.calls
    assert stream.finish().text == "Let me check that now."  # finish runs what was queued
    assert decode.calls


def _silent_windows_to_end(end_silence_s) -> int:
    endpointer = Endpointer(EndpointConfig(early_speech_s=0.0), end_silence_s=end_silence_s)
    for _ in range(40):
        endpointer.push(0.9)
    for n in range(1, 200):
        if any(e.kind is Event.SPEECH_END for e in endpointer.push(0.0)):
            return n
    return 0


def test_the_endpointer_asks_the_stream_and_falls_back_to_its_fixed_silence():
    assert _silent_windows_to_end(lambda: None) == 22  # 0.7 s of 32 ms windows
    assert _silent_windows_to_end(lambda: 0.3) == 10
    assert _silent_windows_to_end(lambda: 1.5) == 47


def test_a_failing_decoder_fails_the_finish_and_the_stream_is_closed(sentence):
    def broken(clip, offset_s):
        raise RuntimeError("model gone")

    stream = AnswerStream(StreamingTranscriber(broken))
    replay(stream, sentence)
    with pytest.raises(RuntimeError, match="model gone"):
        stream.finish()
    assert stream.decoder.closed


def test_the_callers_worker_decodes_while_audio_arrives_and_is_released_by_close(sentence):
    decode = saying("Let", "me", "check", "that", "now.")
    stream = AnswerStream(StreamingTranscriber(decode))
    assert stream.process_iter() is False  # nothing queued yet
    worker = start_worker(stream.decoder)
    for chunk_start in range(0, len(sentence.samples), 512):
        stream.insert_audio_chunk(sentence.samples[chunk_start : chunk_start + 512])
        if stream.decoder.submitted and not decode.calls:
            threading.Event().wait(0.05)  # the worker, not the feeding thread, runs the decode
        if stream.done:
            break
    assert decode.calls
    stream.close()
    worker.join(timeout=2)
    assert not worker.is_alive()


def test_what_ends_a_sentence():
    said = lambda *texts: [Word(t, i, i + 0.5, 0.9) for i, t in enumerate(texts)]  # noqa: E731
    assert sentence_complete(said("I", "can", "help."))
    assert sentence_complete(said("Is", "that", "okay?"))
    assert not sentence_complete(said("I", "can", "help"))
    assert not sentence_complete(said("I", "can", "help,"))
    assert not sentence_complete(said("I", "can", "and."))  # Whisper's full stop at a pause
    assert not sentence_complete(said("What", "I", "can", "do", "is..."))
    assert not sentence_complete([])


@pytest.mark.parametrize("kind,text", [c for c in IN_SENTENCE if c[0] in ("comma", "and", "mid-phrase")][:5])
def test_a_pause_inside_a_sentence_never_ends_the_answer(transcriber, tmp_path, kind, text):
    # The real tiny.en: it writes "delay." for "delay," heard up to its comma, and "last week."
    # for a phrase that goes on; the voice still says the speaker has not finished.
    case = spoken(kind, text, 1.1, tmp_path)
    stream = AnswerStream(StreamingTranscriber(transcriber))
    replay(stream, case.clip)
    assert not ends_early(stream, case), stream.finish().text
    stream.close()
