"""Streaming transcription (audio/streaming.py) against batch, on real speech and the real model.

The answers go through the real capture path (record_answer, Silero VAD), through the headless
ALSA microphone where the test is about the capture path itself.
"""

from difflib import SequenceMatcher

import pytest

from audio.capture import record_answer
from audio.clip import Clip, load
from audio.devices import Microphone
from audio.source import chunks_from_clip
from audio.asr import Word
from audio.answer_stream import record_streaming
from audio.streaming import StreamingTranscriber, drop_trailing_hallucination, join, start_worker, within
from audio.wer import normalize_words, word_error_rate
from analysis.turn import score_answer
from bench.mix import mixed_answer
from conftest import espeak


@pytest.fixture(scope="module")
def long_answer():
    """About 31 s of real read speech (LibriSpeech, JFK, PTDB), 1.3 s of silence before it."""
    mix = mixed_answer(30)
    return mix, Clip.silence(1.3).concat(mix.clip, Clip.silence(1.5))


def _aligned_starts(a, b):
    """Start times of the words the two transcripts agree on, pairwise."""
    wa = [normalize_words(w.text) for w in a.words]
    wb = [normalize_words(w.text) for w in b.words]
    pairs = []
    for block in SequenceMatcher(None, [" ".join(w) for w in wa], [" ".join(w) for w in wb]).get_matching_blocks():
        for k in range(block.size):
            pairs.append((a.words[block.a + k].start_s, b.words[block.b + k].start_s))
    return pairs


def test_streaming_is_as_accurate_as_batch_on_a_long_answer(transcriber, long_answer):
    # Paced like a live microphone, so the worker decodes (and promotes) while audio arrives.
    mix, clip = long_answer
    heard: list[str] = []
    stream = StreamingTranscriber(transcriber, on_words=lambda words: heard.append(" ".join(w.text for w in words)))
    worker = start_worker(stream)  # the caller owns the decode worker
    rec = record_answer(chunks_from_clip(clip, realtime=True), on_event=stream.on_event)
    heard_while_speaking = list(heard)
    streamed = stream.finish(rec)
    worker.join(timeout=5)
    assert not worker.is_alive(), "finish releases the caller's worker"
    batch = transcriber.transcribe(rec.speech_clip())
    assert len(stream.segments_s) >= 3, "a 31 s answer must be transcribed in several pieces"
    wer_stream, wer_batch = word_error_rate(mix.reference, streamed.text), word_error_rate(mix.reference, batch.text)
    # At most one word more than batch: a piece decoded with less context before it may hear one
    # word differently (tiny.en, on some CPUs, hears JFK's "ask not" as "asked not" after a cut).
    one_word = 1 / len(normalize_words(mix.reference))
    assert wer_stream <= wer_batch + one_word + 1e-9, (wer_stream, wer_batch, streamed.text)
    # Word times are on the answer's timeline, as batch puts them: the same words start at the
    # same moments (Whisper's own jitter is a few tens of ms).
    pairs = _aligned_starts(streamed, batch)
    assert len(pairs) >= 0.9 * len(batch.words)
    misses = [abs(s - b) for s, b in pairs if abs(s - b) > 0.3]
    assert len(misses) <= 0.05 * len(pairs), misses
    starts = [w.start_s for w in streamed.words]
    assert starts == sorted(starts) and starts[0] >= 0.0
    assert streamed.words[-1].end_s <= streamed.duration_s + 0.05
    assert streamed.duration_s == pytest.approx(rec.speech_clip().duration_s)
    # ``on_words`` saw the answer grow while it was spoken: each call is the start of the answer
    # (a provisional guess may differ in its last words), and the last call before the end
    # holds most of it.
    assert len(heard_while_speaking) >= 2
    final = normalize_words(streamed.text)
    for text in heard_while_speaking:
        words = normalize_words(text)
        assert word_error_rate(" ".join(final[: len(words)]), text) <= 0.1, text
    assert len(normalize_words(heard_while_speaking[-1])) >= 0.6 * len(final)


def test_segments_are_cut_in_pauses_and_cover_the_answer(transcriber, long_answer):
    _, clip = long_answer
    stream = StreamingTranscriber(transcriber)
    rec = record_answer(chunks_from_clip(clip), on_event=stream.on_event)
    stream.finish(rec)
    spans = stream.segments_s
    assert spans[0][0] == pytest.approx(rec.speech_start_s - 0.1, abs=0.01)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:])), "no audio skipped or repeated"
    assert spans[-1][1] == pytest.approx(rec.speech_end_s + 0.2, abs=0.01)


def test_a_short_answer_is_decoded_at_its_last_pause(transcriber, alsa_device, tmp_path):
    # Through the real microphone path. One phrase, shorter than a segment, with no pause inside:
    # its only pause is the one that turns into the end, and the decode started there is the
    # transcript (a 450 ms head start on the endpointer).
    speech = espeak("Let me check with the depot for you right now", tmp_path / "a.wav", rate_wpm=160)
    alsa_device.feed(Clip.silence(0.5).concat(speech.resampled(16000), Clip.silence(2.5)))
    stream = StreamingTranscriber(transcriber)
    with Microphone() as mic:
        rec = record_answer(mic.chunks(), on_event=stream.on_event)
    streamed = stream.finish(rec)
    assert stream.provisional_used
    assert streamed.text == transcriber.transcribe(rec.speech_clip()).text
    assert word_error_rate("let me check with the depot for you right now", streamed.text) <= 0.1


def test_an_abandoned_stream_can_be_closed(transcriber, long_answer):
    _, clip = long_answer
    stream = StreamingTranscriber(transcriber)
    record_answer(chunks_from_clip(clip.slice_s(0.0, 20.0)), on_event=stream.on_event)
    stream.close()
    stream.close()


def test_a_streamed_turn_and_the_customer_lines_ready_before_it(engines, answer_wav):
    from scenarios.library import load_library
    from kiosk.session import PracticeSession

    session = PracticeSession(load_library().get("late-delivery"), engines)
    stream = session.listen()
    candidates = session.likely_lines()
    session.presynthesis.join(timeout=120)  # a trainee who speaks for a while
    voice = session.base_voice
    assert all(engines.synthesizer.cache_path(text, voice.with_anger(anger)).is_file() for text, anger in candidates)
    rec = record_streaming(chunks_from_clip(load(answer_wav)), stream)
    turn = session.answer(rec, stream=stream)
    assert "sorry" in turn.analysis.transcript.text.lower()
    assert turn.analysis.content.score > 0
    # The customer's reaction was among the lines synthesized while the trainee spoke.
    assert (turn.reaction.line, turn.reaction.anger_after) in candidates
    # Scoring the answer piece by piece while it was spoken (to have its sentence vectors
    # ready) changes nothing: a fresh scoring of the same transcript gives the same result.
    fresh, offers = score_answer(turn.analysis.transcript, engines.rubric, session.scenario.scoring_context())
    assert fresh == turn.analysis.content and offers == turn.analysis.offers


def test_only_an_improbable_word_at_a_segment_end_is_dropped():
    # Probabilities as tiny.en gave them at a cut after "...not busy sleeping." (27.9 s).
    words = [
        Word("busy", 26.4, 26.7, 0.99),
        Word("sleeping.", 26.7, 27.2, 0.98),
        Word("Thank", 27.38, 27.4, 0.01),
        Word("you.", 27.4, 27.46, 0.98),
    ]
    assert [w.text for w in drop_trailing_hallucination(words, 27.9)] == ["busy", "sleeping."]
    # The same improbable word early in a segment is Whisper's business, not a cut's artefact.
    assert drop_trailing_hallucination(words, 40.0) == words


def test_a_short_word_at_a_cut_is_kept_once_whichever_decode_times_it():
    # tiny.en on the 60 s mix, cut at 20.872 s: the decode before the cut put "she" just after it,
    # the decode after it (which starts 2 s earlier, as context) just before it. It used to be
    # lost, which alone put streaming 1 point behind batch.
    cut = 20.872
    before = [Word("said", 20.30, 20.62, 0.9), Word("she", 20.86, 20.98, 0.8)]
    after = [Word("said", 20.28, 20.60, 0.9), Word("she", 20.70, 20.84, 0.8), Word("softly.", 20.90, 21.40, 0.9)]
    first, second = within(before, 18.0, cut), within(after, cut, 24.0)
    assert [w.text for w in join([first, second])] == ["said", "she", "softly."]
    # ...and when both decodes put it on their own side of the cut, it is still said once.
    both = within([Word("said", 20.30, 20.62, 0.9), Word("she", 20.70, 20.80, 0.8)], 18.0, cut)
    assert [w.text for w in join([both, second])] == ["said", "she", "softly."]
