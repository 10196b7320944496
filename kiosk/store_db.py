"""Connecting to the kiosk's database: URLs, SQLite's settings, the schema version (created,
upgraded by kiosk.store_migrations, or refused when newer than this kiosk), and turning a
database that cannot be reached, is locked or sits on a full disk into one sentence.

Kept apart from kiosk.store, which holds what is stored; this module holds only how the
connection is made and how its failures read.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from kiosk import store_migrations
from kiosk.errors import StoreError, StoreUnavailable
from kiosk.store_schema import meta, metadata

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a write waits for another process's lock (a trainer's export, a backup tool, a
migration on the shared PostgreSQL) before the kiosk says the database is busy. SQLite readers
never wait (WAL)."""


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// mean the psycopg 3 driver, the one the kiosk installs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def shown(url: str) -> str:
    """A database URL fit for a message: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "the configured database"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    # WAL: the web server's readers never wait for the writer of a turn; the busy wait covers
    # a trainer's export running while a turn is stored.
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={BUSY_TIMEOUT_MS}", "synchronous=NORMAL"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def unavailable(exc: OperationalError) -> StoreUnavailable:
    """A failed read or write as one sentence that says why and that nothing was lost."""
    lines = str(getattr(exc, "orig", exc)).strip().splitlines()
    detail = lines[0] if lines else type(exc).__name__
    lowered = detail.lower()
    if "lock" in lowered or "busy" in lowered:
        why = "another program is holding the database"
    elif "full" in lowered or "no space" in lowered:
        why = "the disk is full"
    else:
        why = "the database cannot be reached"
    return StoreUnavailable(f"could not save: {why} ({detail}); nothing saved before was lost")


def connect(url: str) -> Engine:
    """An engine on ``url`` with the kiosk's tables: created on a fresh database, upgraded on one
    an older kiosk wrote, refused on one a newer kiosk wrote (never guessed at)."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # PostgreSQL would wait for another session's lock forever: give up as SQLite does.
        pg = parsed.get_backend_name() == "postgresql"
        engine = create_engine(
            url, pool_pre_ping=True, connect_args={"options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"} if pg else {}
        )
    except (ArgumentError, NoSuchModuleError, OSError) as exc:
        raise StoreError(f"cannot use the database {shown(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        _check_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise StoreError(f"cannot open the database {shown(url)}: {detail}") from exc
    except StoreError:
        engine.dispose()
        raise
    return engine


def _check_schema(engine: Engine) -> None:
    target = store_migrations.SCHEMA_VERSION
    names = set(inspect(engine).get_table_names())
    if meta.name not in names:
        if names & {t.name for t in metadata.sorted_tables}:
            raise StoreError(
                f"the database {shown(str(engine.url))} has kiosk tables but no "
                "schema version: point KIOSK_DB_URL at a fresh database"
            )
        metadata.create_all(engine)
        with engine.begin() as c:
            c.execute(meta.insert().values(key="schema_version", value=str(target)))
        log.info("created kiosk tables (schema %d)", target)
        return
    with engine.connect() as c:
        found = store_migrations.stored_version(c)
    if found is None or not found.isdigit():
        raise StoreError(
            f"the database {shown(str(engine.url))} has no readable schema version "
            f"({found!r}): point KIOSK_DB_URL at a kiosk database or a fresh one"
        )
    if int(found) > target:
        raise StoreError(
            f"the database {shown(str(engine.url))} has schema version {found}, newer than this "
            f"kiosk's {target}: run the newer kiosk version, or use a fresh database"
        )
    _upgrade(engine, int(found))
    metadata.create_all(engine)  # checkfirst: adds nothing to a complete schema


def _upgrade(engine: Engine, found: int) -> None:
    """Each pending step in its own transaction: a step that fails is rolled back whole, so the
    database stays as the last step that succeeded left it, and the kiosk says so and stops."""
    for step in store_migrations.pending(found, store_migrations.MIGRATIONS):
        try:
            with engine.begin() as c:
                ran = store_migrations.apply_one(c, step)
        except SQLAlchemyError as exc:
            detail = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise StoreError(
                f"could not upgrade the database {shown(str(engine.url))} to schema {step.version} "
                f"({step.what}): {detail}; it was left as it was, at schema {found}"
            ) from exc
        if ran:
            log.info("upgraded the database to schema %d: %s", step.version, step.what)
        found = step.version
