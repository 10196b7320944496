"""Streaming transcription: Whisper works on closed VAD segments while the trainee still talks.

Batch transcription starts only once the answer has ended, so its cost (about 0.04 s per second
of audio with tiny.en on 2 cores, plus a fixed ~0.2 s per 30 s window) lands entirely between
the trainee falling silent and the customer reacting. Here each PAUSE event from
``audio.capture.record_answer`` closes a segment, which a worker thread transcribes at once.
Segments are kept long (``MIN_SEGMENT_S``): cut at every 250 ms pause, tiny.en hallucinated
"Thank you." and "We'll see you next time." at the cuts (WER 13 % against 1 % for batch on the
60 s mix). A pause that comes sooner is still used: the audio since the last cut is decoded
*provisionally*. If the trainee speaks on, that result is dropped; if the pause turns into the
end of the answer (the endpointer needs 700 ms, the pause fired after 250 ms), the final piece
has had a 450 ms head start and is often finished by the time the answer ends.

Word times are shifted onto the answer's timeline (the clip ``Recording.speech_clip`` returns),
so delivery analysis and the interrupt check read them exactly as they read batch words.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from audio.asr import Transcriber, Transcript, Word
from audio.capture import TAIL_KEEP_S, Recording
from audio.clip import Clip
from audio.vad import Event, VadEvent

log = logging.getLogger(__name__)

LEAD_S = 0.1
"""Audio kept before the first speech; the same margin ``Recording.speech_clip`` keeps."""

MIN_SEGMENT_S = 8.0
"""A pause closes a segment only when this much audio is pending. Measured on the 60 s mix
(bench/mix.py), batch 1.0 % WER: without the filter below, 2 s segments 13 %, 4 s 5 %, 8 s
1.6 %; with it, 3 s and 4 s 2.1 %, and 6 s 4.2 % on the 30 s mix (JFK's noisy words, split at
a cut, are misheard without their neighbours). tests/test_streaming.py holds 8 s to batch + 1."""

HALLUCINATION_PROBABILITY = 0.05
HALLUCINATION_TAIL_S = 1.5
"""tiny.en ends a cut segment with an invented "Thank you." or "." whose first word has a
probability of 0.00-0.02 (real words at cuts: 0.3 and up). Such a word in the segment's last
1.5 s, and whatever follows it, is dropped."""

PROMPT_CHARS = 200
"""The tail of the text so far, given to Whisper as the prompt for the next segment so casing,
spelling of names and sentence flow carry across the cut."""


class StreamingTranscriber:
    """Feed it the VAD events of one answer (``on_event``), then ``finish`` with the Recording.

    One instance per answer. The worker is a single thread because the model decodes one clip at
    a time anyway (``Transcriber`` holds a lock) and a second one would steal the capture
    thread's core.
    """

    def __init__(self, transcriber: Transcriber, min_segment_s: float = MIN_SEGMENT_S) -> None:
        self.transcriber = transcriber
        self.min_segment_s = min_segment_s
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-asr")
        self._futures: list[Future[list[Word]]] = []
        self._words: list[Word] = []
        """Words of committed segments, in capture time (seconds from the start of capture)."""
        self._cut_s: float | None = None
        """Capture time up to which audio has been committed to the worker."""
        self._provisional: tuple[float, Future[list[Word]]] | None = None
        """(end time, job) decoding the audio after the cut up to the latest short pause."""
        self.segments_s: list[tuple[float, float]] = []
        """The (start, end) capture times of the committed segments, for tests and benchmarks."""
        self.provisional_used = False
        """Whether the answer's last piece came from a provisional decode (for benchmarks)."""

    def on_event(self, event: VadEvent, audio: Clip) -> None:
        """``record_answer``'s ``on_event`` hook; runs in the capture thread, so it only slices."""
        if event.kind is Event.SPEECH_START and self._cut_s is None:
            self._cut_s = max(0.0, event.time_s - LEAD_S)
        elif event.kind is Event.PAUSE and self._cut_s is not None:
            end_s = min(event.time_s + TAIL_KEEP_S, audio.duration_s)
            idle = all(f.done() for f in self._futures) and (
                self._provisional is None or self._provisional[1].done())
            if end_s - self._cut_s >= self.min_segment_s:
                self._promote_provisional()
            self._drop_provisional()
            if end_s - self._cut_s >= self.min_segment_s:
                self._commit(audio, self._cut_s, end_s)
            elif idle:
                # Only on an idle worker: a stale guess must never delay committed work.
                segment = audio.slice_s(self._cut_s, end_s)
                self._provisional = (end_s, self._pool.submit(self._decode, segment, self._cut_s))

    def _promote_provisional(self) -> None:
        """Keep a finished provisional decode of at least half a segment as a segment of its own
        rather than decoding its audio again inside a longer one: the worker's time goes to the
        audio after it, which shortens what is left when the answer ends."""
        if self._provisional is None or self._cut_s is None:
            return
        guess_end_s, job = self._provisional
        if (not job.done() or job.cancelled() or job.exception() is not None
                or guess_end_s - self._cut_s < self.min_segment_s / 2):
            return
        # Safe without the worker: a provisional job only starts on an idle worker, and no
        # segment was committed after it (that would have dropped it), so nothing is queued.
        self.segments_s.append((self._cut_s, guess_end_s))
        self._words.extend(job.result())
        self._cut_s = guess_end_s
        self._provisional = None

    def _drop_provisional(self) -> None:
        if self._provisional is not None:
            self._provisional[1].cancel()
            self._provisional = None

    def _commit(self, audio: Clip, start_s: float, end_s: float) -> None:
        segment = audio.slice_s(start_s, end_s)
        self._cut_s = end_s
        self.segments_s.append((start_s, end_s))
        self._futures.append(self._pool.submit(self._decode_and_keep, segment, start_s))

    def _decode(self, segment: Clip, start_s: float) -> list[Word]:
        # Runs on the worker after every earlier job: self._words holds all committed text so far.
        prompt = " ".join(w.text for w in self._words)[-PROMPT_CHARS:]
        words = list(self.transcriber.transcribe(segment, prompt=prompt, offset_s=start_s).words)
        return drop_trailing_hallucination(words, start_s + segment.duration_s)

    def _decode_and_keep(self, segment: Clip, start_s: float) -> list[Word]:
        words = self._decode(segment, start_s)
        self._words.extend(words)
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
                if guess is not None and abs(guess[0] - end_s) < 1e-6 and not guess[1].cancelled():
                    self.segments_s.append((self._cut_s, end_s))
                    self._futures.append(guess[1])
                    self.provisional_used = True
                    self._provisional = None
                else:
                    self._drop_provisional()
                    if end_s - self._cut_s >= 0.1:
                        self._commit(recording.clip, self._cut_s, end_s)
            results = [future.result() for future in self._futures]
        finally:
            self.close()
        if self.provisional_used:
            self._words.extend(results[-1])
        offset_s = max(0.0, recording.speech_start_s - LEAD_S) if recording.has_speech else 0.0
        words = [Word(w.text, round(w.start_s - offset_s, 3) + 0.0, round(w.end_s - offset_s, 3) + 0.0,
                      w.probability) for w in self._words]
        return Transcript.from_words(words, recording.speech_clip().duration_s)

    def close(self) -> None:
        """Drop pending work (the answer was abandoned); safe to call more than once."""
        self._drop_provisional()
        self._pool.shutdown(wait=False, cancel_futures=True)


def drop_trailing_hallucination(words: list[Word], end_s: float) -> list[Word]:
    """``words`` up to the first near-certain invention near the end of a segment (see above)."""
    for i, word in enumerate(words):
        if word.probability < HALLUCINATION_PROBABILITY and word.start_s > end_s - HALLUCINATION_TAIL_S:
            return words[:i]
    return words
