"""Streaming transcription: Whisper works on closed VAD segments while the trainee still talks.

Batch transcription starts only once the answer has ended, so its cost (about 0.04 s per second
of audio with tiny.en on 2 cores, plus a fixed ~0.2 s per 30 s window) lands entirely between
the trainee falling silent and the customer reacting. Here each PAUSE event from
``audio.capture.record_answer`` closes a segment, which a worker thread transcribes at once.
Segments are kept long (``MIN_SEGMENT_S``): cut at every 250 ms pause, tiny.en hallucinated
"Thank you." and "We'll see you next time." at the cuts (WER 13 % against 1 % for batch on the
60 s mix). A segment closed at one pause is decoded at the next, with 2 s of audio before its cut
and everything up to that next pause as context, keeping only its own words, so the words either
side of a cut are heard with their neighbours as in batch. Every decode pays for a 30 s window
whatever its length, so the context is nearly free. At every pause the audio since the last cut
is also decoded *provisionally* (at most one such guess in flight): if the pause turns into the
end of the answer (the endpointer needs 700 ms, the pause fired after 250 ms), the final piece
has had a 450 ms head start; if the trainee speaks on, the guess is dropped. The decode of a
closed segment already runs to the pause after it, so its words past the cut are that pause's
guess: an answer ending there waits for one decode, not a segment's and then a guess's.

Word times are shifted onto the answer's timeline (the clip ``Recording.speech_clip`` returns),
so delivery analysis and the interrupt check read them exactly as they read batch words.

``on_words`` lets the caller start on the text while the trainee is still talking: after every
decode it gets all the words heard so far (the kiosk encodes their sentences for the rubric, so
at the end only the last sentences remain). It runs on the worker, between decodes.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass

from audio.asr import Transcriber, Transcript, Word
from audio.capture import TAIL_KEEP_S, Recording
from audio.clip import Clip
from audio.turn_end import UNKNOWN_END_S, final_pitch_change_st, silence_to_end_s
from audio.vad import Event, VadEvent

log = logging.getLogger(__name__)

LEAD_S = 0.1
"""Audio kept before the first speech; the same margin ``Recording.speech_clip`` keeps."""

MIN_SEGMENT_S = 8.0
"""A pause closes a segment only when this much audio is pending. Measured on the 60 s mix
(bench/mix.py), batch 1.0 % WER, with the text so far as prompt: without the filter below, 2 s
segments 13 %, 4 s 5 %, 8 s 1.6 %; with it, 3 s and 4 s 2.1 %, and 6 s 4.2 % on the 30 s mix
(JFK's noisy words, split at a cut, are misheard without their neighbours). The prompt was then
dropped for speed (below). tests/test_streaming.py holds 8 s to batch + 1 point."""

HALLUCINATION_PROBABILITY = 0.05
HALLUCINATION_TAIL_S = 1.5
"""tiny.en ends a cut segment with an invented "Thank you." or "." whose first word has a
probability of 0.00-0.02 (real words at cuts: 0.3 and up). Such a word in the segment's last
1.5 s, and whatever follows it, is dropped."""

CUT_SLACK_S = 0.15
"""A segment also takes words whose middle lies this far before its cut. Two decodes time the
same word differently by up to ~0.1 s, so a short word at a cut ("she") could fall after the
cut in the decode before it and before the cut in the decode after it, and be lost; a word
taken twice is dropped again by ``join``."""

CONTEXT_S = 2.0
"""Audio before the cut decoded again with each segment, its words discarded: the first words
after a cut are heard with their neighbours, as in batch. Cheap, since every decode pays for a
30 s window anyway."""

# No prompt: giving Whisper the text so far as ``initial_prompt`` made a 3 s segment take 8-11 s
# instead of 1.6-2.4 s on the busy bench machine (measured 3 times each), which no accuracy gain
# at the cuts could pay for.


@dataclass(frozen=True)
class _Piece:
    """Words of one decode, or of one side of a time within it: a decode that runs to a later
    pause serves both the segment before ``before_s`` and the guess at the rest."""

    job: Future[list[Word]]
    before_s: float = math.inf
    from_s: float = -math.inf

    def words(self) -> list[Word]:
        return [w for w in self.job.result() if self.from_s <= (w.start_s + w.end_s) / 2 < self.before_s]


class StreamingTranscriber:
    """Feed it the VAD events of one answer (``on_event``), then ``finish`` with the Recording.

    One instance per answer. It owns no thread: ``on_event`` only queues decodes, and whoever
    calls ``process_iter`` runs them (the caller's one decode worker, see ``start_worker``, or a
    test stepping it). One worker, because the model decodes one clip at a time anyway
    (``Transcriber`` holds a lock) and a second would steal the capture thread's core.
    ``finish`` runs whatever is still queued itself, so without a worker it is batch transcription.

    ``decoder`` is a ``Transcriber`` or any function ``(clip, offset_s) -> Transcript`` (the
    policy tests use a scripted one: they test the policy, not Whisper).
    """

    def __init__(
        self,
        decoder: Transcriber | Callable[[Clip, float], Transcript],
        min_segment_s: float = MIN_SEGMENT_S,
        on_words: Callable[[list[Word]], None] | None = None,
    ) -> None:
        self._decode_clip = (
            decoder.transcribe if isinstance(decoder, Transcriber) else (lambda clip, offset_s: decoder(clip, offset_s))
        )
        self.min_segment_s = min_segment_s
        self.on_words = on_words
        self._jobs: deque[tuple[Future[list[Word]], tuple]] = deque()
        self._ready = threading.Condition()
        self.closed = False
        self.submitted = 0
        """Decodes queued so far (a benchmark steps them on a simulated clock)."""
        self._segments: list[tuple[float, float, _Piece]] = []
        """Committed segments in order: (start, end) in capture time and the words decoding it."""
        self._cut_s: float | None = None
        """Capture time up to which audio belongs to committed segments."""
        self._provisional: tuple[float, _Piece, bool] | None = None
        """(end time, words, shared) of the guess at the audio after the cut up to the latest
        short pause; ``shared`` when its decode is also a committed segment's (never cancelled)."""
        self._boundary_s: float | None = None
        """A pause closing a full segment; it is decoded at the next pause, with what was said in
        between as right-hand context (tiny.en hears "so my" as "so am I" in JFK without it)."""
        self.provisional_used = False
        """Whether the answer's last piece came from a provisional decode (for benchmarks)."""
        self._pause_end_s: float | None = None
        """Where the audio of the latest pause's guess ends (capture time)."""
        self._heard: tuple[float, list[Word], float | None] = (-1.0, [], None)
        """(end of the audio decoded, all words so far, pitch change at its end) after the
        latest decode."""

    @property
    def segments_s(self) -> list[tuple[float, float]]:
        """The (start, end) capture times of the committed segments, for tests and benchmarks."""
        return [(start, end) for start, end, _ in self._segments]

    def on_event(self, event: VadEvent, audio: Clip) -> None:
        """``record_answer``'s ``on_event`` hook; runs in the capture thread, so it only slices."""
        if event.kind is Event.SPEECH_START and self._cut_s is None:
            self._cut_s = max(0.0, event.time_s - LEAD_S)
        elif event.kind is Event.PAUSE and self._cut_s is not None:
            end_s = min(event.time_s + TAIL_KEEP_S, audio.duration_s)
            self._pause_end_s = end_s
            if self._boundary_s is not None:
                # One decode up to this pause serves twice: the segment up to the earlier pause
                # (with the speech since as right-hand context) and, from the same words, the
                # guess at the rest; an answer ending here then waits for one decode, not two.
                self._drop_provisional()
                job = self._submit(audio, end_s)
                boundary_s, self._boundary_s = self._boundary_s, None
                self._commit(_Piece(job, before_s=boundary_s), self._cut_s, boundary_s)
                self._provisional = (end_s, _Piece(job, from_s=boundary_s), True)
            elif self._drop_provisional():  # at most one guess in flight
                self._provisional = (end_s, _Piece(self._submit(audio, end_s)), False)
            if end_s - self._cut_s >= self.min_segment_s:
                self._boundary_s = end_s

    def _submit(self, audio: Clip, end_s: float) -> Future[list[Word]]:
        """Decode the audio after the cut up to ``end_s``, with context before the cut."""
        start = max(0.0, self._cut_s - CONTEXT_S) if self._segments else self._cut_s
        job: Future[list[Word]] = Future()
        with self._ready:
            self._jobs.append((job, (audio.slice_s(start, end_s), start, self._cut_s, end_s)))
            self.submitted += 1
            self._ready.notify()
        return job

    def pending(self) -> int:
        """Decodes queued and not yet taken by ``process_iter``."""
        return len(self._jobs)

    def process_iter(self, wait_s: float = 0.0) -> bool:
        """Run the next queued decode in the calling thread (the caller's decode worker, or the
        test itself); waits up to ``wait_s`` for one. False when there was nothing to run.

        Decodes run in the order they were queued, one at a time: a caller runs one worker."""
        with self._ready:
            if not self._jobs and wait_s > 0 and not self.closed:
                self._ready.wait(wait_s)
            if not self._jobs:
                return False
            job, args = self._jobs.popleft()
        if not job.set_running_or_notify_cancel():
            return True
        try:
            job.set_result(self._decode(*args))
        except BaseException as exc:  # handed to whoever reads the piece (finish re-raises it)
            job.set_exception(exc)
        return True

    def end_silence_s(self) -> float | None:
        """The silence that ends the answer now (the ``Endpointer``'s ``end_silence_s`` hook):
        ``audio.turn_end.silence_to_end_s`` of the words decoded up to the current pause and
        the pitch before it, or UNKNOWN_END_S while that decode has not finished. None before
        any pause."""
        if self._pause_end_s is None:
            return None
        decoded_to_s, words, pitch_change_st = self._heard
        if abs(decoded_to_s - self._pause_end_s) > 1e-6:
            return UNKNOWN_END_S
        return silence_to_end_s(words, pitch_change_st)

    def _drop_provisional(self) -> bool:
        """Cancel the provisional decode; False if it is already running (it cannot be)."""
        if self._provisional is not None:
            _, piece, shared = self._provisional
            if not shared and not piece.job.cancel() and not piece.job.done():
                return False
            self._provisional = None
        return True

    def _commit(self, piece: _Piece, start_s: float, end_s: float) -> None:
        self._segments.append((start_s, end_s, piece))
        self._cut_s = end_s

    def _decode(self, audio: Clip, audio_start_s: float, start_s: float, end_s: float) -> list[Word]:
        """The words of [start_s, end_s) (capture time), from a decode of ``audio`` (which may
        reach either side of it, as context)."""
        words = drop_trailing_hallucination(
            within(self._decode_clip(audio, offset_s=audio_start_s).words, start_s, end_s), end_s
        )
        # Jobs run one at a time in order, so every committed segment before this one is done.
        earlier = [
            piece.words()
            for _, _, piece in list(self._segments)
            if piece.job.done() and not piece.job.cancelled() and piece.job.exception() is None
        ]
        heard = join([*earlier, words])
        self._heard = (end_s, heard, final_pitch_change_st(audio.slice_s(max(0.0, end_s - audio_start_s - 1.5))))
        if self.on_words is not None and words:
            try:
                self.on_words(heard)
            except Exception:  # a head start, not a result: the answer is judged without it
                log.exception("on_words failed")
        return words

    def finish(self, recording: Recording) -> Transcript:
        """The whole answer's transcript, on the timeline of ``recording.speech_clip()``.

        Uses the provisional decode when the answer ended at that pause, otherwise transcribes
        what was said after the last committed segment; waits for the worker and shuts it down.
        Raises whatever a segment's transcription raised.
        """
        try:
            if recording.has_speech:
                if self._cut_s is None:  # events were not seen (e.g. a replayed Recording)
                    self._cut_s = max(0.0, recording.speech_start_s - LEAD_S)
                end_s = min(recording.clip.duration_s, (recording.speech_end_s or 0.0) + TAIL_KEEP_S)
                guess = self._provisional
                if guess is not None and abs(guess[0] - end_s) < 1e-6 and not guess[1].job.cancelled():
                    self._commit(guess[1], self._cut_s, end_s)
                    self._provisional = None
                    self.provisional_used = True
                else:
                    self._drop_provisional()
                    if end_s - self._cut_s >= 0.1:
                        self._commit(_Piece(self._submit(recording.clip, end_s)), self._cut_s, end_s)
            while self.process_iter():  # whatever the caller's worker has not reached yet
                pass
            words = join(piece.words() for _, _, piece in self._segments)
        finally:
            self.close()
        offset_s = max(0.0, recording.speech_start_s - LEAD_S) if recording.has_speech else 0.0
        words = [
            Word(w.text, round(w.start_s - offset_s, 3) + 0.0, round(w.end_s - offset_s, 3) + 0.0, w.probability)
            for w in words
        ]
        return Transcript.from_words(words, recording.speech_clip().duration_s)

    def close(self) -> None:
        """Drop pending work (the answer was abandoned, or finished) and release the caller's
        worker; safe to call more than once."""
        if self._provisional is not None and not self._provisional[2]:
            self._provisional[1].job.cancel()
        self._provisional = None
        with self._ready:
            self.closed = True
            for job, _ in self._jobs:
                job.cancel()
            self._jobs.clear()
            self._ready.notify_all()


def run_worker(stream: StreamingTranscriber) -> None:
    """A decode worker's loop: decodes as the stream queues them, until it is closed. The
    caller starts it on a thread of its own (one per answer)."""
    while not stream.closed:
        stream.process_iter(wait_s=0.5)


def start_worker(stream: StreamingTranscriber) -> threading.Thread:
    """``run_worker`` on a daemon thread (named for stack dumps)."""
    thread = threading.Thread(target=run_worker, args=(stream,), name="stream-asr", daemon=True)
    thread.start()
    return thread


def within(words: list[Word], start_s: float, end_s: float) -> list[Word]:
    """The words of a decode that belong to the segment [start_s, end_s): cuts lie in pauses, so
    a word belongs where its middle falls, with CUT_SLACK_S of slack before the start."""
    return [w for w in words if start_s - CUT_SLACK_S <= (w.start_s + w.end_s) / 2 < end_s]


def join(pieces: Iterable[list[Word]]) -> list[Word]:
    """The pieces' words in order; a word heard on both sides of a cut (its context) is kept
    once: it overlaps the word before it, or it is that word again, starting within 0.3 s."""
    words: list[Word] = []
    for piece in pieces:
        for w in piece:
            if words and (w.start_s < words[-1].end_s - 0.1 or _same_word(w, words[-1])):
                continue
            words.append(w)
    return words


def _same_word(a: Word, b: Word) -> bool:
    return abs(a.start_s - b.start_s) < 0.3 and a.text.strip(".,!?").lower() == b.text.strip(".,!?").lower()


def drop_trailing_hallucination(words: list[Word], end_s: float) -> list[Word]:
    """``words`` up to the first near-certain invention near the end of a segment (see above)."""
    for i, word in enumerate(words):
        if word.probability < HALLUCINATION_PROBABILITY and word.start_s > end_s - HALLUCINATION_TAIL_S:
            return words[:i]
    return words
