"""What the running kiosk holds in memory: the engines (loaded in the background), the trainees
currently at the screen ("visits"), trainer sessions and workshop rounds.

A visit lives in memory only, keyed by an unguessable token the page holds; nothing about it is
reachable by a guessable number. When a trainee walks away, the page's idle timer ends the visit;
if the page is closed instead, the visit expires here. Either way what was judged is already
stored, turn by turn.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from datetime import datetime, timedelta, timezone

from audio.capture import Recording
from audio.clip import Clip, save_wav
from audio.answer_stream import AnswerStream
from audio.tts import Voice
from kiosk.errors import StoreUnavailable
from kiosk.session import CustomerLine, Engines, PracticeSession, TurnRecord, presynthesize_openings
from kiosk.settings import Settings
from kiosk.store import Store, Trainee
from kiosk.web.auth import Throttle, TrainerSessions
from scenarios.library import Library, load_library
from scenarios.model import Scenario

log = logging.getLogger(__name__)

MODEL_VOICE = Voice(name="en-us+m3", rate_wpm=140, pitch=45)
"""The model answer's voice: calm, unhurried (140 wpm sits in the calm 120-150 range)."""
PURGE_EVERY_S = 24 * 3600.0
"""A kiosk that runs for months still applies the retention period: checked once a day."""
VISIT_GRACE_S = 120.0
"""A visit whose page went away (closed tab, power cut) is ended this long after the idle timeout."""


class NotReady(Exception):
    """The speech model is still loading (or failed to load); one sentence for the screen."""


@dataclass
class Visit:
    """One trainee at the kiosk, from entering a name until they finish or walk away."""

    token: str
    trainee: Trainee
    keep_audio: bool
    last_used: float
    practice: PracticeSession | None = None
    session_id: int | None = None
    """The stored session (kiosk.store) of ``practice``."""
    lines: list[CustomerLine] = field(default_factory=list)
    """Every customer line served in this practice, by index (their audio is served by index)."""
    answers: list[Clip] = field(default_factory=list)
    """The trainee's answers, in memory only, for "replay your answer"."""
    saved: bool = True
    """Whether the stored session already has its ending."""
    level_db: float = -100.0
    """Live microphone level while the server records (for the page's meter)."""
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Round:
    """A workshop round: one scenario, several trainees answering the same customer in turn."""

    id: int
    scenario: Scenario
    opening: CustomerLine
    stop: threading.Event = field(default_factory=threading.Event)
    level_db: float = -100.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Kiosk:
    """Everything the routes share. One per process (the sessions are in this process's memory)."""

    def __init__(self, settings: Settings, store: Store, engines: Engines | None = None) -> None:
        self.settings = settings
        self.store = store
        self.engines = engines
        self.library: Library | None = load_library() if engines is not None else None
        self.load_error: str | None = None
        self.trainer_sessions = TrainerSessions()
        self.pin_throttle = Throttle()
        self.visits: dict[str, Visit] = {}
        self.rounds: dict[int, Round] = {}
        self._lock = threading.Lock()
        self._loader: threading.Thread | None = None
        self.last_purge = time.monotonic()
        """`kiosk serve` purges at start; then again a day later, when someone next arrives."""

    # Start-up

    def load_in_background(self, model: str | None = None) -> None:
        """Load the speech model off the request path: the server answers /healthz at once.

        `kiosk serve` calls this before it even imports the web framework, so the two overlap
        (imports about 1.0 s, model and VAD about 1.5 s on this 2-core machine). Calling it
        again does nothing.
        """
        if self.engines is not None or self._loader is not None:
            return
        self._loader = threading.Thread(target=self._load, args=(model,), name="kiosk-load", daemon=True)
        self._loader.start()

    def _load(self, model: str | None) -> None:
        t0 = time.monotonic()
        try:
            library = load_library()
            engines = Engines.load(model, tts_engine=self.settings.tts_engine)
            from audio.vad import SpeechDetector

            SpeechDetector()  # the VAD model, so the first answer does not pay for it
        except Exception as exc:  # noqa: BLE001 - reported by /healthz and on screen, never a traceback
            log.error("the kiosk could not start: %s", exc)
            self.load_error = str(exc)
            return
        self.library, self.engines = library, engines
        log.info("speech model ready in %.1f s", time.monotonic() - t0)
        presynthesize_openings(engines, library.sorted())  # first lines ready before anyone asks

    def ready(self) -> Engines:
        if self.engines is None:
            if self.load_error:
                raise NotReady(f"The kiosk could not load its speech model: {self.load_error}")
            raise NotReady("The kiosk is still starting: try again in a few seconds.")
        return self.engines

    # Visits

    def new_visit(self, trainee: Trainee, keep_audio: bool) -> Visit:
        visit = Visit(secrets.token_urlsafe(24), trainee, keep_audio, time.monotonic())
        with self._lock:
            self.visits[visit.token] = visit
        self.expire_visits()
        if self.settings.retention_days and time.monotonic() - self.last_purge > PURGE_EVERY_S:
            self.last_purge = time.monotonic()
            self.store.purge(self.settings.retention_days)
            self._close_stale()
        return visit

    def visit(self, token: str) -> Visit | None:
        self.expire_visits()
        with self._lock:
            visit = self.visits.get(token)
        if visit is not None:
            visit.last_used = time.monotonic()
        return visit

    def end_visit(self, token: str) -> None:
        with self._lock:
            visit = self.visits.pop(token, None)
        if visit is not None:
            visit.stop.set()
            with visit.lock:
                self.save_ending(visit)

    def end_visits_of(self, trainee_id: int) -> None:
        """A trainee's data is being deleted: whoever is at the screen under that name is sent home."""
        with self._lock:
            tokens = [t for t, v in self.visits.items() if v.trainee.id == trainee_id]
        for token in tokens:
            self.end_visit(token)

    def expire_visits(self) -> None:
        limit = time.monotonic() - self.settings.idle_timeout_s - VISIT_GRACE_S
        with self._lock:
            stale = [t for t, v in self.visits.items() if v.last_used < limit and not v.lock.locked()]
        for token in stale:
            log.info("visit expired without a goodbye")
            self.end_visit(token)

    def save_ending(self, visit: Visit) -> None:
        """Store how the session ended (or that it stopped early), once."""
        if visit.practice is None or visit.session_id is None or visit.saved or not visit.practice.turns:
            return
        self.store.finish_session(visit.session_id, visit.practice.result().to_dict())
        visit.saved = True

    def keep_recording(self, trainee_id: int, record: TurnRecord, clip: Clip) -> str:
        """Save an opted-in answer; the name is the server's own (numbers and a random tag), never
        user input, and is made before the turn is stored so both go in one write."""
        path = self.settings.audio_dir / str(trainee_id) / f"{secrets.token_hex(6)}-{record.index}.wav"
        return str(save_wav(clip, path))

    def judge(
        self,
        practice: PracticeSession,
        recording: Recording,
        trainee: Trainee,
        keep_audio: bool,
        session_id: int | None,
        round_id: int | None = None,
        stream: AnswerStream | None = None,
    ) -> tuple[TurnRecord, int]:
        """Judge one answer and store the turn at once (with the recording only if opted in).

        The stored session is created with its first judged answer (``session_id`` None), in the
        same transaction, so a trainee who picks a scenario and walks away, or a write that fails,
        leaves no empty session in the history. ``stream`` is the ``practice.listen()`` that
        heard the recording live, if any.
        """
        record = practice.answer(recording, stream=stream)
        path = self._kept(trainee.id, record, recording.speech_clip()) if keep_audio else None
        try:
            if session_id is None:
                session_id = self.store.start_session(
                    trainee.id,
                    practice.scenario.id,
                    practice.scenario.title,
                    practice.baseline,
                    round_id,
                    record.to_dict(),
                    path,
                )
            else:
                self.store.add_turn(session_id, record.to_dict(), path)
        except StoreUnavailable:
            # Not stored, so not said: the customer waits for the same answer again, and the
            # trainee's retry becomes this turn instead of a gap in the stored session.
            practice.undo_last_turn()
            if path:
                Path(path).unlink(missing_ok=True)
            raise
        return record, session_id

    def _kept(self, trainee_id: int, record: TurnRecord, clip: Clip) -> str | None:
        """The opted-in recording, or None when the disk refuses it: the judged turn matters more."""
        try:
            return self.keep_recording(trainee_id, record, clip)
        except OSError as exc:
            log.warning("could not keep the recording of turn %d: %s", record.index, exc)
            return None

    def recover(self) -> int:
        """At start: close the sessions a stopped kiosk left open, so the history says "incomplete".

        A SQLite file belongs to this kiosk alone, so every open session in it is from a previous
        run. A shared PostgreSQL database also holds other kiosks' live sessions: only those idle
        past any visit's expiry are closed (and again with the daily purge).
        """
        if self.store.engine.dialect.name == "sqlite":
            return self.store.close_interrupted(datetime.now(timezone.utc))
        return self._close_stale()

    def _close_stale(self) -> int:
        idle = timedelta(seconds=self.settings.idle_timeout_s + VISIT_GRACE_S)
        return self.store.close_interrupted(datetime.now(timezone.utc) - idle)

    def practice_for(self, scenario: Scenario, trainee: Trainee) -> PracticeSession:
        """A fresh session with the engine, judged against this trainee's calm baseline."""
        return PracticeSession(scenario, self.ready(), trainee.baseline)
