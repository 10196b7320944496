"""The practice session: customer line -> trainee answer -> analysis -> customer reaction, repeated.

UI-agnostic: the terminal commands, the demo and the web kiosk all drive this one class, so a
turn is analysed the same way whichever door the trainee came in by.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from audio.asr import Transcriber, Transcript, Word, shared_transcriber
from audio.capture import Recording
from audio.answer_stream import AnswerStream
from audio.streaming import StreamingTranscriber, start_worker
from audio.vad import EndpointConfig
from audio.tts import MAX_ANGER, Synthesizer, Voice
from audio.clip import Clip, load
from analysis.content import ContentResult, Rubric, ScoringContext, score_content, typed_transcript
from analysis.delivery import Baseline, CustomerVoice, Signal, customer_voice, measure_signal
from analysis.feedback import Tip, make_tips
from analysis.offer_fit import warm_remedies
from analysis.scorecard import Scorecard, TurnCard, build_scorecard, called_for_goals, stage_of
from analysis.turn import TurnAnalysis, analyze_turn, score_answer
from scenarios import customer
from scenarios.library import load_library
from scenarios.model import LINE_KINDS, Scenario
from scenarios.rubric import load_rubric
from scenarios.scorecard import load_rules

log = logging.getLogger(__name__)

MIN_SPEECH_S = 0.4
"""An answer shorter than this is treated as no answer (a cough, a click)."""
_LINE_MEASURES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="line-voice")
"""Measures each customer line's raised voice while it plays, off the answer's critical path."""
_SIGNAL_MEASURES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="signal")
"""Measures an answer's pitch and level while its last words are being transcribed."""
_MODEL_ANSWERS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-answer")
"""Scores each scenario's model answer once, while the customer's opening line plays."""
_model_answer_cache: dict[tuple[str, str], ContentResult] = {}
_model_answer_lock = threading.Lock()

CALIBRATION_TEXT = (
    "Good morning. I would like to check the opening hours of the store on "
    "Saturday, and whether there is parking nearby."
)
"""Read once, calmly, to measure the trainee's own baseline pitch, level and pace."""


MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas() -> None:
    """Let glibc keep at most MALLOC_ARENAS malloc arenas instead of up to 8 per core.

    Each thread that allocates (stream worker, pitch, pre-synthesis, web threads) otherwise gets
    its own arena, and memory freed in one is not reused by another: measured over a 10, 30 and
    60 s answer, peak RSS 584 MB with the default and 529 MB with two arenas, at no measurable
    cost in speed. Same as MALLOC_ARENA_MAX=2, set from inside so every way of starting the
    kiosk gets it. A no-op where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "mallopt"):
            libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)
    except OSError:
        pass


class AnswerError(Exception):
    """The answer could not be judged (no speech, nothing recognisable). One sentence for the
    trainee; the turn is not counted and they may answer again."""


@dataclass(frozen=True)
class Engines:
    """The heavy, shared parts: loaded once per process and reused by every session."""

    transcriber: Transcriber
    synthesizer: Synthesizer
    rubric: Rubric

    @classmethod
    def load(cls, model: str | None = None, tts_cache: str | Path | None = None, tts_engine: str = "espeak") -> Engines:
        """``tts_engine`` is the customer's voice (audio.tts.ENGINES); "piper" without the
        neural voice installed falls back to espeak-ng (``synthesizer.fallback_reason``)."""
        limit_malloc_arenas()
        engines = cls(shared_transcriber(model), Synthesizer(tts_cache, tts_engine), load_rubric())
        engines.warm_up()
        return engines

    def warm_up(self) -> None:
        """Run one tiny decode, one espeak-ng synthesis and one scoring now: CTranslate2
        allocates its buffers on the first call, espeak-ng loads its voices on the first line
        (2 s on a busy machine) and the rubric loads its embedding model and its examples'
        vectors (from the disk cache; computing them the first time on a machine takes
        seconds); any of these would otherwise land on the first trainee's answer or the first
        customer line. The neural voice (model load and onnxruntime's first run, 1.1 s) is
        left to its first line, which for `kiosk serve` is the start-up synthesis of the
        openings, after the kiosk is ready (``presynthesize_openings``): long before a
        trainee has typed a name and read the calibration sentence."""
        with ThreadPoolExecutor(max_workers=1) as pool:  # CTranslate2 leaves the other core free
            rubric = pool.submit(_warm_scoring, self.rubric)
            self.transcriber.transcribe(Clip.silence(0.5))
            self.synthesizer.warm_up(neural=False)  # beside the rubric, after the decode
            rubric.result()


def _warm_scoring(rubric: Rubric) -> None:
    """One scoring (the rubric's example vectors), then every scenario's remedies and misses,
    which offer_fit compares each offer with (about a hundred sentences: seconds the first time
    on a machine, then read from the encoder's disk cache)."""
    score_content(Transcript.from_words([Word("Hello.", 0.0, 0.5, 1.0)], 0.5), rubric)
    warm_remedies(
        t for s in load_library().scenarios.values() for t in (*s.resolution.remedies, *s.resolution.not_remedies)
    )


def presynthesize_openings(engines: Engines, scenarios: list[Scenario]) -> None:
    """Synthesize every scenario's opening line into the cache, so a customer's first words are
    ready whichever scenario is chosen (the neural voice takes ~0.3 s a line; espeak-ng 10 ms).
    Run at start-up, off the request path; a line that fails is synthesized again on demand."""
    for scenario in scenarios:
        try:
            engines.synthesizer.synthesize_to_file(
                scenario.line("opening"),
                engines.synthesizer.voice_for(scenario.persona.voice).with_anger(scenario.persona.anger),
            )
        except Exception as exc:  # noqa: BLE001 - synthesized again on demand
            log.warning("could not pre-synthesize %s: %s", scenario.id, exc)


@dataclass(frozen=True)
class CustomerLine:
    text: str
    kind: str
    anger: int
    voice: Voice
    audio_path: str
    """The cached WAV of this line (serve it, play it, or read it)."""


@dataclass(frozen=True)
class TurnRecord:
    index: int
    customer: CustomerLine
    """The line this answer responded to."""
    outcome: str
    """How the recording ended (audio.capture.Outcome value)."""
    analysis: TurnAnalysis
    reaction: customer.Reaction
    processing_s: float
    """From the end of the recording to the reaction being ready."""
    card: TurnCard
    """What this answer added to the conversation and what it broke."""
    score_after: int
    """The conversation's score once this answer was judged."""

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "customer": asdict(self.customer),
            "outcome": self.outcome,
            **self.analysis.to_dict(),
            "reaction": self.reaction.to_dict(),
            "processing_s": round(self.processing_s, 3),
            "card": self.card.to_dict(),
            "score_after": self.score_after,
        }


@dataclass(frozen=True)
class SessionResult:
    scenario_id: str
    scenario_title: str
    turns: tuple[TurnRecord, ...]
    anger_curve: tuple[int, ...]
    """Anger at the start and after each answer."""
    ending: str | None
    """resolved / escalated / walked_out, or None if the session stopped early."""
    scorecard: Scorecard
    """The conversation judged as a whole: goals, items earned once with the answer and words
    that earned them, penalties where they happened."""
    tips: tuple[Tip, ...]
    model_answer: str
    """The scenario's model answer, shown beside the tips."""

    @property
    def score(self) -> int:
        """0-100, from the scorecard."""
        return self.scorecard.score

    def to_dict(self) -> dict:
        card = self.scorecard
        return {
            "scenario_id": self.scenario_id,
            "scenario_title": self.scenario_title,
            "ending": self.ending,
            "score": card.score,
            "anger_curve": list(self.anger_curve),
            "scorecard": {
                "score": card.score,
                "items": [asdict(i) for i in card.items],
                "penalties": [asdict(p) for p in card.penalties],
                "goals": [asdict(g) for g in card.goals],
            },
            "tips": [t.to_dict() for t in self.tips],
            "model_answer": self.model_answer,
            "turns": [t.to_dict() for t in self.turns],
        }


def analyze_answer(
    clip: Clip,
    engines: Engines,
    context: ScoringContext = ScoringContext(),
    baseline: Baseline | None = None,
    transcript: Transcript | None = None,
    customer: CustomerVoice | None = None,
    signal: Signal | None = None,
) -> TurnAnalysis:
    """Transcribe and analyse one answer clip (the whole clip: trim it first if needed).

    ``transcript`` is the clip's transcript when streaming already made it, ``signal`` its
    audio measures when they were taken while it was transcribed."""
    if transcript is None:
        transcript = engines.transcriber.transcribe(clip)
    if not transcript.words:
        raise AnswerError("I couldn't make out any words: please try again a little closer to the microphone")
    return analyze_turn(clip, transcript, engines.rubric, context, baseline, customer, signal)


def model_answer_content(scenario: Scenario, rubric: Rubric) -> ContentResult:
    """The scenario's model answer scored like a trainee's (once per process and scenario): the
    goals it meets are the goals the scenario calls for, and its words are the tips' examples."""
    key = (scenario.id, scenario.model_answer)
    with _model_answer_lock:
        cached = _model_answer_cache.get(key)
    if cached is None:
        cached = score_answer(typed_transcript(scenario.model_answer), rubric, scenario.scoring_context())[0]
        with _model_answer_lock:
            _model_answer_cache[key] = cached
    return cached


def measure_baseline(clip: Clip, engines: Engines) -> Baseline:
    """The trainee's calm baseline from a recording of CALIBRATION_TEXT."""
    return analyze_answer(clip, engines).delivery.as_baseline()


class PracticeSession:
    """One trainee working through one scenario, turn by turn."""

    def __init__(self, scenario: Scenario, engines: Engines, baseline: Baseline | None = None) -> None:
        self.scenario = scenario
        self.engines = engines
        self.baseline = baseline
        self.state, opening = customer.start(scenario)
        self.turns: list[TurnRecord] = []
        self.current_line = self._voice_line(opening, "opening", self.state.anger)
        self._line_voice = self._measure_line()
        self._model_answer = _MODEL_ANSWERS.submit(model_answer_content, scenario, engines.rubric)
        self.rules = load_rules(engines.rubric)
        self._before_turns: list[tuple[customer.CustomerState, Future[CustomerVoice | None]]] = []
        """The customer's state and line-voice measure before each turn, for ``undo_last_turn``."""
        self.presynthesis: threading.Thread | None = None
        """The background synthesis of the next lines started by the last ``listen``."""
        self._answered = threading.Event()

    @property
    def finished(self) -> bool:
        return self.state.ending is not None

    @property
    def base_voice(self) -> Voice:
        """The persona's calm voice on the kiosk's engine (the neural one where it can play it)."""
        return self.engines.synthesizer.voice_for(self.scenario.persona.voice)

    def _voice_line(self, text: str, kind: str, anger: int) -> CustomerLine:
        voice = self.base_voice.with_anger(anger)
        path = self.engines.synthesizer.synthesize_to_file(text, voice)
        return CustomerLine(text, kind, anger, voice, str(path))

    def _measure_line(self) -> Future[CustomerVoice | None]:
        """How raised the current line is against the same words in the customer's calm voice
        (for the mirroring verdict), measured in the background while the line plays."""
        line = self.current_line

        def measure() -> CustomerVoice | None:
            try:
                calm = self.engines.synthesizer.synthesize(line.text, self.base_voice)
                return customer_voice(calm, load(line.audio_path))
            except Exception:  # without it only mirroring goes unjudged: never break the turn
                log.exception("could not measure the customer's line")
                return None

        return _LINE_MEASURES.submit(measure)

    def listen(self, config: EndpointConfig = EndpointConfig()) -> AnswerStream:
        """Start hearing the answer about to be captured: feed the returned stream its audio
        (``insert_audio_chunk``, or ``audio.answer_stream.record_streaming``) and pass it to
        ``answer(..., stream=)``.

        The session owns the threads of the turn: a decode worker for the stream (so the answer
        is transcribed while it is spoken), and a background synthesis of the lines the
        customer may say next, so the reaction's audio is already cached when the answer has
        been judged. After each decode the words heard so far are scored, so the rubric's
        sentence vectors of all but the last sentences are ready when the answer ends.
        """
        self._answered = threading.Event()
        self.presynthesis = threading.Thread(
            target=self._presynthesize, args=(self._answered,), name="presynth", daemon=True
        )
        self.presynthesis.start()
        stream = AnswerStream(StreamingTranscriber(self.engines.transcriber, on_words=self._prescore), config)
        start_worker(stream.decoder)
        return stream

    def _prescore(self, words: list[Word]) -> None:
        """Score the answer so far and drop the result: what is kept is the sentence vectors
        the embedding model remembers (analysis.semantic), the slow part of scoring."""
        score_answer(
            Transcript.from_words(words, words[-1].end_s), self.engines.rubric, self.scenario.scoring_context()
        )

    def likely_lines(self) -> list[tuple[str, int]]:
        """(text, anger) of every line the customer could say after the next answer, nearest
        anger first: anger moves at most customer.MAX_STEP per answer."""
        said = self.state.said
        texts = list(
            dict.fromkeys(self.scenario.say(kind, said.count(kind)) for kind in LINE_KINDS if kind != "opening")
        )
        angers = sorted(
            range(
                max(0, self.state.anger - customer.MAX_STEP), min(MAX_ANGER, self.state.anger + customer.MAX_STEP) + 1
            ),
            key=lambda a: abs(a - self.state.anger),
        )
        return [(text, anger) for anger in angers for text in texts]

    def _presynthesize(self, answered: threading.Event) -> None:
        try:
            for text, anger in self.likely_lines():
                if answered.is_set():  # the reaction needs the engine now (one synthesis at a time)
                    return
                self.engines.synthesizer.synthesize_to_file(text, self.base_voice.with_anger(anger))
        except Exception:  # a cache miss later is slower, not wrong: never break the turn for it
            log.exception("pre-synthesis of the customer's next lines failed")

    def answer(
        self, recording: Recording, customer_end_s: float | None = None, stream: AnswerStream | None = None
    ) -> TurnRecord:
        """Judge one recorded answer and let the customer react.

        ``customer_end_s`` is when the customer stopped talking on the recording's clock (for
        the interrupt check); None when capture began after the customer had finished.
        ``stream`` is the ``listen()`` object that saw this recording's VAD events: most of the
        transcription is then already done. Without it (uploads) the answer is transcribed now.
        """
        if self.finished:
            if stream is not None:
                stream.close()
            raise AnswerError("this conversation has already ended")
        t0 = time.monotonic()
        self._answered.set()
        clip = recording.speech_clip()
        if not recording.has_speech or clip.duration_s < MIN_SPEECH_S:
            if stream is not None:
                stream.close()
            raise AnswerError("I didn't hear anything: please answer the customer out loud")
        offset = max(0.0, recording.speech_start_s - 0.1)
        context = self.scenario.scoring_context(None if customer_end_s is None else customer_end_s - offset)
        signal = _SIGNAL_MEASURES.submit(measure_signal, clip)  # needs no words: start it now
        transcript = stream.finish(recording) if stream is not None else None
        analysis = analyze_answer(
            clip, self.engines, context, self.baseline, transcript, self._line_voice.result(), signal.result()
        )
        return self.react(analysis, recording.outcome.value, t0)

    def react(self, analysis: TurnAnalysis, outcome: str = "typed", t0: float | None = None) -> TurnRecord:
        """Let the customer react to an analysed answer and add it to the conversation (``answer``
        does this for a recording; a typed answer's analysis comes here directly)."""
        t0 = time.monotonic() if t0 is None else t0
        answered = self.current_line
        self._before_turns.append((self.state, self._line_voice))
        stage = stage_of(len(self.turns), self.state.accepted, self.scenario.safety)
        self.state, reaction = customer.react(self.scenario, self.state, analysis)
        self.current_line = self._voice_line(reaction.line, reaction.kind, reaction.anger_after)
        self._line_voice = self._measure_line()
        card = self.scorecard(
            [*(t.analysis for t in self.turns), analysis], [*(t.card.stage for t in self.turns), stage]
        )
        record = TurnRecord(
            len(self.turns), answered, outcome, analysis, reaction, time.monotonic() - t0, card.turns[-1], card.score
        )
        self.turns.append(record)
        log.info(
            "turn %d: conversation scores %d, anger %d -> %d",
            record.index,
            card.score,
            reaction.anger_before,
            reaction.anger_after,
        )
        return record

    def scorecard(self, analyses: list[TurnAnalysis] | None = None, stages: list[str] | None = None) -> Scorecard:
        """The conversation's scorecard over ``analyses`` given in ``stages`` (default: the
        answers judged so far)."""
        if analyses is None:
            analyses, stages = [t.analysis for t in self.turns], [t.card.stage for t in self.turns]
        goals = self.rules.goals
        called_for = called_for_goals(goals, self._model_answer.result(), self.scenario.safety)
        return build_scorecard(
            analyses, stages, goals, called_for, frozenset(self.scenario.focus), self.rules.delivery_points
        )

    def examples(self) -> dict[str, str]:
        """Goal id -> the words of this scenario's model answer that meet it."""
        model = self._model_answer.result()
        found = {}
        for goal in self.rules.goals:
            for item_id in goal.items:
                f = model.finding(item_id)
                if f is not None and f.hit and f.evidence:
                    found.setdefault(goal.id, f.evidence[0].quote)
        return found

    def undo_last_turn(self) -> TurnRecord:
        """Take back the last judged turn, as if it had never been said: the customer waits again
        on the line that turn answered, with that line's voice measure, so a retry is judged
        exactly as the first attempt was (mirroring included). The web kiosk calls it when the
        store refuses the turn: not stored, so not said."""
        if not self.turns:
            raise ValueError("no turn to undo")
        record = self.turns.pop()
        self.state, self._line_voice = self._before_turns.pop()
        self.current_line = record.customer
        return record

    def result(self) -> SessionResult:
        curve = (self.scenario.persona.anger, *(t.reaction.anger_after for t in self.turns))
        card = self.scorecard()
        tips = make_tips([t.analysis for t in self.turns], card, self.engines.rubric, self.rules.goals, self.examples())
        return SessionResult(
            self.scenario.id,
            self.scenario.title,
            tuple(self.turns),
            curve,
            self.state.ending,
            card,
            tips,
            self.scenario.model_answer,
        )
