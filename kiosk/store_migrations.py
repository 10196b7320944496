"""How a database written by an older kiosk is brought up to this kiosk's schema.

An ordered list of steps, each taking the schema from one version to the next. Each step runs
once, in its own transaction, together with the update of the stored version, so a step that
fails leaves the database exactly as it was (PostgreSQL and SQLite both roll back DDL inside a
transaction; see ``apply_one`` for how SQLite's driver is made to open one first). A kiosk never
writes a version it does not know: a database from a newer kiosk is refused, not guessed at.
Version 1 is the first release's schema (tests/data/store/store_v1.db), before any step.

To change the tables: edit kiosk.store_schema (the shape a fresh database gets) and append a
step here that makes the same change to an existing one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection

from kiosk.store_schema import meta


@dataclass(frozen=True)
class Migration:
    version: int
    """The schema version this step produces (the previous step's plus one)."""
    what: str
    """What the step changes, in a few words: logged, and named when the step fails."""
    apply: Callable[[Connection], None]


def _index_open_sessions(c: Connection) -> None:
    # Plain DDL, not the Index of kiosk.store_schema: a step must keep doing what it did when it
    # was written, whatever the tables' definition becomes later.
    c.execute(text("CREATE INDEX ix_sessions_finished_at ON sessions (finished_at)"))


def _session_scorecards(c: Connection) -> None:
    # JSON is TEXT on SQLite and JSON on PostgreSQL, as kiosk.store_schema's JSON columns are.
    kind = "JSON" if c.dialect.name == "postgresql" else "TEXT"
    c.execute(text(f"ALTER TABLE sessions ADD COLUMN scorecard {kind}"))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "index sessions by finish time (the start-up sweep reads only open sessions)", _index_open_sessions),
    Migration(3, "keep each finished session's scorecard (the conversation judged as a whole)", _session_scorecards),
)


SCHEMA_VERSION = MIGRATIONS[-1].version
"""The schema this kiosk writes and reads; what a fresh database is created at."""


def stored_version(c: Connection) -> str | None:
    return c.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()


def pending(found: int, migrations: tuple[Migration, ...]) -> list[Migration]:
    return [m for m in migrations if m.version > found]


def apply_one(c: Connection, step: Migration) -> bool:
    """Run ``step`` inside the caller's transaction unless another kiosk already has; True if run.

    The no-op update comes first for two reasons: it takes the write lock (PostgreSQL's row lock,
    SQLite's reserved lock), so two kiosks starting at once on one database run each step once
    between them; and Python's sqlite3 opens its transaction only before a data change, never
    before DDL, so without it a step's CREATE or ALTER would commit on its own and survive the
    step's failure."""
    c.execute(update(meta).where(meta.c.key == "schema_version").values(value=meta.c.value))
    if int(stored_version(c)) >= step.version:
        return False
    step.apply(c)
    c.execute(update(meta).where(meta.c.key == "schema_version").values(value=str(step.version)))
    return True
