"""Practice history: trainees, their calm baselines, sessions and judged turns (SQLAlchemy Core).

One schema serves a single kiosk (a SQLite file in WAL mode, so the web server's threads can
read while a turn is written) and a chain of stores sharing one PostgreSQL database
(``KIOSK_DB_URL``). Each turn is stored the moment it is judged, as the JSON the session engine
produces (``TurnRecord.to_dict()``), so a kiosk that loses power mid-session loses nothing already
said, and reports can be rebuilt later without the engine. Raw audio is never stored here: only
the path of a recording the trainee opted to keep, which is deleted with their data.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from analysis.delivery import Baseline
from kiosk.errors import StoreError, StoreUnavailable, UnknownTrainee  # noqa: F401 - callers catch them here
from kiosk.store_db import connect, normalise_url, unavailable  # noqa: F401 - normalise_url is public here
from kiosk.store_migrations import SCHEMA_VERSION  # noqa: F401 - callers read it here
from kiosk.store_schema import NAME_MAX, meta, rounds, sessions, trainees, turns

log = logging.getLogger(__name__)

INCOMPLETE = "incomplete"
"""The ending of a session whose kiosk stopped mid-way (killed, switched off at the wall)."""


@dataclass(frozen=True)
class Trainee:
    id: int
    name: str
    created_at: datetime
    last_seen_at: datetime
    baseline: Baseline | None
    keep_audio: bool


@dataclass(frozen=True)
class SessionSummary:
    id: int
    trainee_id: int
    trainee_name: str
    scenario_id: str
    scenario_title: str
    started_at: datetime
    ending: str | None
    score: int | None
    turns: int
    final_anger: int | None
    round_id: int | None


@dataclass(frozen=True)
class RosterRow:
    trainee: Trainee
    sessions: int
    mean_score: float | None
    last_practice_at: datetime | None


@dataclass(frozen=True)
class ScenarioStats:
    scenario_id: str
    scenario_title: str
    sessions: int
    trainees: int
    mean_score: float | None
    resolved: int


@dataclass(frozen=True)
class Purged:
    sessions: int
    trainees: int
    audio_files: int


def name_key(name: str) -> str:
    """Names match whatever the case and spacing: "ana  Lopez" is "Ana Lopez"."""
    return " ".join(name.split()).casefold()


def clean_name(name: str) -> str:
    name = " ".join(str(name).split())
    if not name:
        raise ValueError("Please enter your name or badge number.")
    if len(name) > NAME_MAX:
        raise ValueError(f"That name is too long: at most {NAME_MAX} characters.")
    if any(not ch.isprintable() for ch in name):
        raise ValueError("A name can only contain printable characters.")
    return name


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every time stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def json_safe(value):
    """JSON columns refuse NaN (PostgreSQL) or write invalid JSON (SQLite): NaN becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _trainee(row) -> Trainee:
    baseline = Baseline.from_dict(row.baseline) if row.baseline else None
    return Trainee(row.id, row.name, _utc(row.created_at), _utc(row.last_seen_at), baseline, bool(row.keep_audio))


def _remove_files(paths: list[str | None]) -> int:
    removed = 0
    for path in paths:
        if path:
            try:
                Path(path).unlink()
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("could not delete recording %s: %s", path, exc)
    return removed


def _insert_turn(c, session_id: int, turn: dict, audio_path: str | None) -> None:
    data = json_safe(turn)
    data.get("customer", {}).pop("audio_path", None)  # a cache file of this machine only
    reaction = data.get("reaction", {})
    # A turn has no score of its own: it stores the conversation's score once it was judged.
    score = int(data.get("score_after", data.get("content", {}).get("score", 0)))
    c.execute(
        turns.insert().values(
            session_id=session_id,
            idx=int(data["index"]),
            created_at=_now(),
            customer_text=data.get("customer", {}).get("text", ""),
            transcript=data.get("transcript", {}).get("text", ""),
            score=score,
            anger_before=int(reaction.get("anger_before", 0)),
            anger_after=int(reaction.get("anger_after", 0)),
            data=data,
            audio_path=audio_path,
        )
    )
    # The conversation's score so far keeps an unfinished session (kiosk left mid-way) in the history.
    c.execute(update(sessions).where(sessions.c.id == session_id).values(score=score))


class Store:
    """The kiosk's database. Thread-safe: every method opens its own short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect, create the tables on a fresh database, refuse one of another schema version."""
        return cls(connect(url))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self):
        """A transaction whose failure to reach the disk is one clear sentence (StoreUnavailable).

        The transaction is rolled back whole, so what was stored before stays exactly as it was.
        """
        try:
            with self.engine.begin() as c:
                yield c
        except OperationalError as exc:
            raise unavailable(exc) from exc

    @contextmanager
    def _read(self):
        try:
            with self.engine.connect() as c:
                yield c
        except OperationalError as exc:
            raise unavailable(exc) from exc

    @property
    def schema_version(self) -> int:
        with self._read() as c:
            return int(c.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar())

    # Trainees

    def find_trainee(self, name: str) -> Trainee | None:
        with self._read() as c:
            row = c.execute(select(trainees).where(trainees.c.name_key == name_key(name))).first()
        return _trainee(row) if row else None

    def trainee(self, trainee_id: int) -> Trainee:
        with self._read() as c:
            row = c.execute(select(trainees).where(trainees.c.id == trainee_id)).first()
        if row is None:
            raise UnknownTrainee(trainee_id)
        return _trainee(row)

    def find_or_create_trainee(self, name: str, keep_audio: bool = False) -> tuple[Trainee, bool]:
        """The trainee with this name or badge (marked seen), or a new one; True when new."""
        name = clean_name(name)
        now = _now()
        with self._write() as c:
            row = c.execute(select(trainees).where(trainees.c.name_key == name_key(name))).first()
            if row is not None:
                c.execute(update(trainees).where(trainees.c.id == row.id).values(last_seen_at=now))
                return _trainee(row), False
        try:
            with self._write() as c:
                new_id = c.execute(
                    trainees.insert().values(
                        name=name, name_key=name_key(name), created_at=now, last_seen_at=now, keep_audio=keep_audio
                    )
                ).inserted_primary_key[0]
        except IntegrityError:  # another kiosk of the chain created the same name just now
            return self.find_or_create_trainee(name, keep_audio)
        return self.trainee(new_id), True

    def set_baseline(self, trainee_id: int, baseline: Baseline) -> None:
        with self._write() as c:
            c.execute(
                update(trainees)
                .where(trainees.c.id == trainee_id)
                .values(baseline=json_safe(baseline.to_dict()), baseline_at=_now())
            )

    def set_keep_audio(self, trainee_id: int, keep: bool) -> None:
        with self._write() as c:
            c.execute(update(trainees).where(trainees.c.id == trainee_id).values(keep_audio=keep))

    def delete_trainee(self, trainee_id: int) -> int:
        """Everything about one trainee, recordings included; returns the files deleted."""
        with self._write() as c:
            ids = select(sessions.c.id).where(sessions.c.trainee_id == trainee_id)
            paths = list(c.execute(select(turns.c.audio_path).where(turns.c.session_id.in_(ids))).scalars())
            c.execute(delete(turns).where(turns.c.session_id.in_(ids)))
            c.execute(delete(sessions).where(sessions.c.trainee_id == trainee_id))
            if c.execute(delete(trainees).where(trainees.c.id == trainee_id)).rowcount == 0:
                raise UnknownTrainee(trainee_id)
        return _remove_files(paths)

    def roster(self) -> list[RosterRow]:
        per = (
            select(
                sessions.c.trainee_id,
                func.count(sessions.c.id).label("n"),
                func.avg(sessions.c.score).label("mean"),
                func.max(sessions.c.started_at).label("last"),
            )
            .where(sessions.c.score.is_not(None))
            .group_by(sessions.c.trainee_id)
            .subquery()
        )
        query = (
            select(trainees, per.c.n, per.c.mean, per.c.last)
            .outerjoin(per, per.c.trainee_id == trainees.c.id)
            .order_by(trainees.c.name_key)
        )
        with self._read() as c:
            return [
                RosterRow(_trainee(r), r.n or 0, None if r.mean is None else round(float(r.mean), 1), _utc(r.last))
                for r in c.execute(query)
            ]

    # Sessions and turns

    def start_session(
        self,
        trainee_id: int,
        scenario_id: str,
        scenario_title: str,
        baseline: Baseline | None = None,
        round_id: int | None = None,
        first_turn: dict | None = None,
        audio_path: str | None = None,
    ) -> int:
        """A new session; with ``first_turn`` the session and its first answer are one transaction,
        so a write that fails half-way never leaves an empty session in the history."""
        with self._write() as c:
            session_id = c.execute(
                sessions.insert().values(
                    trainee_id=trainee_id,
                    round_id=round_id,
                    scenario_id=scenario_id,
                    scenario_title=scenario_title,
                    started_at=_now(),
                    baseline=json_safe(baseline.to_dict()) if baseline else None,
                )
            ).inserted_primary_key[0]
            if first_turn is not None:
                _insert_turn(c, session_id, first_turn, audio_path)
        return session_id

    def add_turn(self, session_id: int, turn: dict, audio_path: str | None = None) -> None:
        """Store one judged turn (``TurnRecord.to_dict()``) the moment it exists."""
        with self._write() as c:
            _insert_turn(c, session_id, turn, audio_path)

    def finish_session(self, session_id: int, result: dict) -> None:
        """Record the end of a session (``SessionResult.to_dict()``: ending, score, curve, tips,
        scorecard)."""
        result = json_safe(result)
        with self._write() as c:
            c.execute(
                update(sessions)
                .where(sessions.c.id == session_id)
                .values(
                    finished_at=_now(),
                    ending=result.get("ending"),
                    score=result.get("score"),
                    anger_curve=result.get("anger_curve"),
                    tips=result.get("tips"),
                    scorecard=result.get("scorecard"),
                )
            )

    def close_interrupted(self, idle_before: datetime) -> int:
        """Mark sessions left unfinished by a kiosk that stopped (killed, power cut) as "incomplete".

        Only sessions with nothing written since ``idle_before`` are touched, so a kiosk sharing a
        PostgreSQL database never closes another kiosk's live session. Their turns stay as they
        were; a session row with no turn at all (the kiosk stopped between creating it and storing
        its first answer) holds nothing and is removed. Returns the sessions marked.
        """
        last_turn = select(func.max(turns.c.created_at)).where(turns.c.session_id == sessions.c.id).scalar_subquery()
        activity = func.coalesce(last_turn, sessions.c.started_at)
        open_ = sessions.c.finished_at.is_(None) & (activity < idle_before)
        has_turns = select(turns.c.id).where(turns.c.session_id == sessions.c.id).exists()
        with self._write() as c:
            c.execute(delete(sessions).where(open_ & ~has_turns))
            marked = c.execute(update(sessions).where(open_).values(ending=INCOMPLETE, finished_at=activity)).rowcount
        if marked:
            log.warning("marked %d interrupted sessions as incomplete", marked)
        return marked

    def sessions(
        self, trainee_id: int | None = None, round_id: int | None = None, newest_first: bool = True
    ) -> list[SessionSummary]:
        n_turns = (
            select(turns.c.session_id, func.count().label("n"), func.max(turns.c.idx).label("last"))
            .group_by(turns.c.session_id)
            .subquery()
        )
        last_turn = turns.alias("last_turn")
        query = (
            select(sessions, trainees.c.name, n_turns.c.n, last_turn.c.anger_after)
            .join(trainees, trainees.c.id == sessions.c.trainee_id)
            .outerjoin(n_turns, n_turns.c.session_id == sessions.c.id)
            .outerjoin(last_turn, (last_turn.c.session_id == sessions.c.id) & (last_turn.c.idx == n_turns.c.last))
        )
        if trainee_id is not None:
            query = query.where(sessions.c.trainee_id == trainee_id)
        if round_id is not None:
            query = query.where(sessions.c.round_id == round_id)
        order = sessions.c.started_at.desc() if newest_first else sessions.c.started_at
        with self._read() as c:
            return [
                SessionSummary(
                    r.id,
                    r.trainee_id,
                    r.name,
                    r.scenario_id,
                    r.scenario_title,
                    _utc(r.started_at),
                    r.ending,
                    r.score,
                    r.n or 0,
                    r.anger_after,
                    r.round_id,
                )
                for r in c.execute(query.order_by(order, sessions.c.id))
            ]

    def session_report(self, session_id: int) -> dict:
        """A stored session in the shape of ``SessionResult.to_dict()``, plus who and when."""
        with self._read() as c:
            s = c.execute(
                select(sessions, trainees.c.name)
                .join(trainees, trainees.c.id == sessions.c.trainee_id)
                .where(sessions.c.id == session_id)
            ).first()
            if s is None:
                raise KeyError(session_id)
            stored = c.execute(
                select(turns.c.data, turns.c.audio_path).where(turns.c.session_id == session_id).order_by(turns.c.idx)
            ).all()
        turn_data = [{**row.data, "audio_kept": row.audio_path is not None} for row in stored]
        curve = s.anger_curve
        if curve is None and turn_data:  # left before the end: rebuild the curve from the turns
            curve = [turn_data[0]["reaction"]["anger_before"], *(t["reaction"]["anger_after"] for t in turn_data)]
        return {
            "id": s.id,
            "trainee": {"id": s.trainee_id, "name": s.name},
            "started_at": _utc(s.started_at).isoformat(timespec="seconds"),
            "round_id": s.round_id,
            "scenario_id": s.scenario_id,
            "scenario_title": s.scenario_title,
            "ending": s.ending,
            "score": s.score or 0,
            "anger_curve": curve or [],
            "tips": s.tips or [],
            "scorecard": s.scorecard,
            "baseline": s.baseline,
            "turns": turn_data,
        }

    def turn_audio(self, session_id: int, index: int) -> str | None:
        """Where the kept recording of one answer is (0-based ``index``), or None when the trainee
        did not opt in or there is no such answer: trainer pages play it from here."""
        with self._read() as c:
            return c.execute(
                select(turns.c.audio_path).where((turns.c.session_id == session_id) & (turns.c.idx == index))
            ).scalar()

    def scenario_stats(self) -> list[ScenarioStats]:
        query = (
            select(
                sessions.c.scenario_id,
                func.max(sessions.c.scenario_title).label("title"),
                func.count(sessions.c.id).label("n"),
                func.count(sessions.c.trainee_id.distinct()).label("people"),
                func.avg(sessions.c.score).label("mean"),
                func.count(sessions.c.id).filter(sessions.c.ending == "resolved").label("resolved"),
            )
            .where(sessions.c.score.is_not(None))
            .group_by(sessions.c.scenario_id)
            .order_by(sessions.c.scenario_id)
        )
        with self._read() as c:
            return [
                ScenarioStats(
                    r.scenario_id,
                    r.title,
                    r.n,
                    r.people,
                    None if r.mean is None else round(float(r.mean), 1),
                    r.resolved,
                )
                for r in c.execute(query)
            ]

    def create_round(self, scenario_id: str, scenario_title: str) -> int:
        with self._write() as c:
            return c.execute(
                rounds.insert().values(scenario_id=scenario_id, scenario_title=scenario_title, created_at=_now())
            ).inserted_primary_key[0]

    def export_turns(self) -> Iterator[dict]:
        """One row per judged turn, oldest first: what a trainer's spreadsheet needs."""
        query = (
            select(
                trainees.c.name,
                sessions.c.id.label("session_id"),
                sessions.c.started_at,
                sessions.c.scenario_id,
                sessions.c.ending,
                sessions.c.round_id,
                turns.c.idx,
                turns.c.score,
                turns.c.anger_before,
                turns.c.anger_after,
                turns.c.transcript,
                turns.c.data,
                sessions.c.tips,
                sessions.c.scorecard,
            )
            .join(sessions, sessions.c.id == turns.c.session_id)
            .join(trainees, trainees.c.id == sessions.c.trainee_id)
            .order_by(sessions.c.started_at, sessions.c.id, turns.c.idx)
        )
        with self._read() as c:
            for r in c.execute(query):
                yield {
                    "trainee": r.name,
                    "session": r.session_id,
                    "started_at": _utc(r.started_at).isoformat(timespec="seconds"),
                    "scenario": r.scenario_id,
                    "round": r.round_id,
                    "turn": r.idx + 1,
                    "score": r.score,
                    "anger_before": r.anger_before,
                    "anger_after": r.anger_after,
                    "ending": r.ending,
                    "transcript": r.transcript,
                    "data": r.data,
                    "tips": r.tips,
                    "scorecard": r.scorecard,
                }

    def purge(self, older_than_days: int, now: datetime | None = None) -> Purged:
        """Delete sessions older than the retention period, and trainees not seen since then."""
        cutoff = (now or _now()) - timedelta(days=older_than_days)
        with self._write() as c:
            old = select(sessions.c.id).where(sessions.c.started_at < cutoff)
            paths = list(c.execute(select(turns.c.audio_path).where(turns.c.session_id.in_(old))).scalars())
            c.execute(delete(turns).where(turns.c.session_id.in_(old)))
            n_sessions = c.execute(delete(sessions).where(sessions.c.started_at < cutoff)).rowcount
            n_trainees = c.execute(
                delete(trainees).where(
                    trainees.c.last_seen_at < cutoff, ~trainees.c.id.in_(select(sessions.c.trainee_id))
                )
            ).rowcount
            c.execute(
                delete(rounds).where(
                    rounds.c.created_at < cutoff,
                    ~rounds.c.id.in_(select(sessions.c.round_id).where(sessions.c.round_id.is_not(None))),
                )
            )
        files = _remove_files(paths)
        log.info("purged %d sessions and %d trainees older than %s", n_sessions, n_trainees, cutoff)
        return Purged(n_sessions, n_trainees, files)
