"""kiosk.store against a real SQLite file and a real PostgreSQL (a throwaway cluster per test run)."""

import glob
import json
import shutil
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from kiosk.store import INCOMPLETE, SCHEMA_VERSION, Purged, Store, StoreError, UnknownTrainee, clean_name, normalise_url


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL cluster on a unix socket in a temp dir (initdb + pg_ctl, about 1 s)."""
    bin_dir = _pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries absent (Debian package postgresql; `make test` installs it)")
    root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") and _is_root() else []
    if as_postgres:
        shutil.chown(root, "postgres")
    subprocess.run(
        [
            *as_postgres,
            bin_dir / "initdb",
            "-D",
            root / "data",
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            bin_dir / "pg_ctl",
            "-D",
            root / "data",
            "-w",
            "-l",
            root / "log",
            "-o",
            f"-k {root} -p 5499 -c listen_addresses='' -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    yield f"postgresql://postgres@/postgres?host={root}&port=5499"
    subprocess.run(
        [*as_postgres, bin_dir / "pg_ctl", "-D", root / "data", "-m", "immediate", "stop"], capture_output=True
    )
    shutil.rmtree(root, ignore_errors=True)


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = Store.open(f"sqlite:///{tmp_path / 'data' / 'kiosk.db'}")
    else:
        url = request.getfixturevalue("postgres_url")
        s = Store.open(url)
    yield s
    if request.param == "postgresql":  # one cluster for the run: leave it empty for the next test
        from kiosk.store_schema import metadata

        metadata.drop_all(s.engine)
        with s.engine.begin() as c:
            c.execute(text("DROP TABLE IF EXISTS kiosk_meta"))
    s.close()


def test_names_and_badges_match_whatever_the_case_and_spacing(store):
    ana, new = store.find_or_create_trainee("  Ana   López ")
    assert new and ana.name == "Ana López"
    again, new = store.find_or_create_trainee("ana lópez")
    assert not new and again.id == ana.id
    badge, new = store.find_or_create_trainee("10442")
    assert new and badge.id != ana.id
    assert [r.trainee.name for r in store.roster()] == ["10442", "Ana López"]
    with pytest.raises(ValueError, match="too long"):
        clean_name("x" * 41)
    with pytest.raises(ValueError, match="enter your name"):
        clean_name("   ")


def test_a_real_session_round_trips_with_its_measures_and_quotes(store, judged_session, tmp_path):
    result, baseline = judged_session
    trainee, _ = store.find_or_create_trainee("Ana")
    store.set_baseline(trainee.id, baseline)
    assert store.trainee(trainee.id).baseline == baseline
    session_id = store.start_session(trainee.id, result.scenario_id, result.scenario_title, baseline)
    recording = tmp_path / "turn0.wav"
    recording.write_bytes(b"RIFF")
    store.add_turn(session_id, result.turns[0].to_dict(), str(recording))
    # Stored before the end: an abandoned session is still in the history, with a running score.
    partial = store.session_report(session_id)
    assert partial["ending"] is None and partial["score"] == result.turns[0].score_after
    assert partial["anger_curve"] == list(result.anger_curve)
    store.finish_session(session_id, result.to_dict())
    report = store.session_report(session_id)
    expected = json.loads(json.dumps(result.to_dict()))  # what a JSON round trip of the result gives
    assert report["ending"] == expected["ending"] and report["score"] == expected["score"]
    assert report["tips"] == expected["tips"] and report["scorecard"] == expected["scorecard"]
    turn = report["turns"][0]
    assert turn["transcript"] == expected["turns"][0]["transcript"]
    assert turn["delivery"]["f0_contour_hz"] == expected["turns"][0]["delivery"]["f0_contour_hz"]
    assert turn["content"] == expected["turns"][0]["content"]
    assert "audio_path" not in turn["customer"] and turn["audio_kept"]
    assert report["baseline"] == baseline.to_dict() and report["trainee"]["name"] == "Ana"
    [summary] = store.sessions(trainee.id)
    assert (summary.turns, summary.final_anger) == (1, result.anger_curve[-1])
    [row] = store.export_turns()
    assert row["trainee"] == "Ana" and "depot" in row["transcript"].lower()
    # Deleting the trainee removes every row and the recording they opted to keep.
    assert store.delete_trainee(trainee.id) == 1
    assert not recording.exists()
    assert store.roster() == [] and list(store.export_turns()) == []
    with pytest.raises(KeyError):
        store.session_report(session_id)
    with pytest.raises(UnknownTrainee):
        store.delete_trainee(trainee.id)


def test_results_per_scenario(store):
    for name, score, ending in (("A", 80, "resolved"), ("B", 40, "walked_out"), ("A", 60, "resolved")):
        t, _ = store.find_or_create_trainee(name)
        sid = store.start_session(t.id, "late-delivery", "The sofa")
        store.finish_session(sid, {"ending": ending, "score": score, "anger_curve": [3, 1], "tips": []})
    t, _ = store.find_or_create_trainee("C")
    store.start_session(t.id, "faulty-kettle", "Kettle")  # never answered: not a result
    [stats] = store.scenario_stats()
    assert (stats.scenario_id, stats.sessions, stats.trainees, stats.mean_score, stats.resolved) == (
        "late-delivery",
        3,
        2,
        60.0,
        2,
    )


def test_retention_purges_old_sessions_and_forgotten_trainees(store, tmp_path):
    old, _ = store.find_or_create_trainee("Old")
    sid = store.start_session(old.id, "late-delivery", "The sofa")
    recording = tmp_path / "old.wav"
    recording.write_bytes(b"RIFF")
    store.add_turn(
        sid,
        {
            "index": 0,
            "customer": {"text": "Where is it?"},
            "transcript": {"text": "sorry"},
            "content": {"score": 50},
            "reaction": {"anger_before": 3, "anger_after": 2},
        },
        str(recording),
    )
    recent, _ = store.find_or_create_trainee("Recent")
    store.start_session(recent.id, "late-delivery", "The sofa")
    assert store.purge(30) == Purged(0, 0, 0) and recording.exists()
    assert store.purge(30, now=datetime.now(timezone.utc) + timedelta(days=29)).sessions == 0
    with store.engine.begin() as c:  # "Old" practised 40 days ago
        c.execute(
            text("UPDATE sessions SET started_at = :t WHERE id = :i"),
            {"t": datetime.now(timezone.utc) - timedelta(days=40), "i": sid},
        )
        c.execute(
            text("UPDATE trainees SET last_seen_at = :t WHERE id = :i"),
            {"t": datetime.now(timezone.utc) - timedelta(days=40), "i": old.id},
        )
    assert store.purge(30) == Purged(1, 1, 1)
    assert not recording.exists()
    assert [r.trainee.name for r in store.roster()] == ["Recent"]


TURN = {
    "index": 0,
    "customer": {"text": "Where is my sofa?"},
    "transcript": {"text": "I'm sorry"},
    "content": {"score": 60},
    "reaction": {"anger_before": 3, "anger_after": 2},
}


def _age(store, table: str, column: str, row_id: int, days: int) -> None:
    with store.engine.begin() as c:
        c.execute(
            text(f"UPDATE {table} SET {column} = :t WHERE id = :i"),
            {"t": datetime.now(timezone.utc) - timedelta(days=days), "i": row_id},
        )


def test_purge_removes_only_what_is_past_retention(store, tmp_path, judged_session):
    result, baseline = judged_session
    regular, _ = store.find_or_create_trainee("Regular")  # practised long ago and last week
    store.set_baseline(regular.id, baseline)
    old_round, new_round = store.create_round("late-delivery", "The sofa"), store.create_round("x", "X")
    _age(store, "rounds", "created_at", old_round, 40)
    _age(store, "rounds", "created_at", new_round, 40)  # old, but a recent session uses it
    files = {}
    for days, round_id in ((40, old_round), (5, new_round)):
        sid = store.start_session(regular.id, "late-delivery", "The sofa", baseline, round_id)
        files[days] = tmp_path / f"{days}.wav"
        files[days].write_bytes(b"RIFF")
        store.add_turn(sid, result.turns[0].to_dict(), str(files[days]))
        store.finish_session(sid, result.to_dict())
        _age(store, "sessions", "started_at", sid, days)
    keep = store.session_report(sid)
    quiet, _ = store.find_or_create_trainee("Gone Quiet")  # nothing since 40 days ago
    _age(store, "sessions", "started_at", store.start_session(quiet.id, "late-delivery", "The sofa"), 40)
    _age(store, "trainees", "last_seen_at", quiet.id, 40)
    assert store.purge(30) == Purged(2, 1, 1)
    assert not files[40].exists() and files[5].exists()
    assert [r.trainee.name for r in store.roster()] == ["Regular"]
    assert store.trainee(regular.id).baseline == store.find_trainee("regular").baseline is not None
    [left] = store.sessions()
    assert store.session_report(left.id) == keep  # the recent session, byte for byte
    assert left.round_id == new_round
    with store.engine.connect() as c:
        assert sorted(c.execute(text("SELECT id FROM rounds")).scalars()) == [new_round]
        assert c.execute(text("SELECT count(*) FROM turns")).scalar() == 1
    assert store.purge(30) == Purged(0, 0, 0)  # nightly runs are idempotent


def test_a_session_and_its_first_answer_are_one_write(store):
    ana, _ = store.find_or_create_trainee("Ana")
    with pytest.raises(KeyError):  # the turn fails half-way…
        store.start_session(ana.id, "late-delivery", "The sofa", first_turn={"transcript": {"text": "hi"}})
    assert store.sessions() == []  # …so there is no empty session
    sid = store.start_session(ana.id, "late-delivery", "The sofa", first_turn=TURN)
    [summary] = store.sessions()
    assert (summary.id, summary.turns, summary.score) == (sid, 1, 60)


def test_sessions_left_open_are_closed_as_incomplete_and_keep_their_turns(store):
    ana, _ = store.find_or_create_trainee("Ana")
    spoke = store.start_session(ana.id, "late-delivery", "The sofa")
    store.add_turn(spoke, TURN)
    silent = store.start_session(ana.id, "late-delivery", "The sofa")  # no answer stored yet
    done = store.start_session(ana.id, "late-delivery", "The sofa")
    store.add_turn(done, TURN)
    store.finish_session(done, {"ending": "resolved", "score": 60, "anger_curve": [3, 2], "tips": []})
    assert store.close_interrupted(datetime.now(timezone.utc) - timedelta(hours=1)) == 0  # still live
    assert store.close_interrupted(datetime.now(timezone.utc) + timedelta(seconds=1)) == 1
    by_id = {s.id: s for s in store.sessions()}
    assert silent not in by_id
    assert by_id[spoke].ending == INCOMPLETE and by_id[spoke].turns == 1
    assert by_id[done].ending == "resolved"
    assert store.session_report(spoke)["anger_curve"] == [3, 2]


def test_a_postgresql_table_locked_by_another_session_is_one_sentence_not_a_hang(postgres_url):
    import psycopg
    from concurrent.futures import ThreadPoolExecutor

    from kiosk.errors import StoreUnavailable

    store = Store.open(postgres_url)
    try:
        ana, _ = store.find_or_create_trainee("Ana")
        sid = store.start_session(ana.id, "late-delivery", "The sofa")
        pool = ThreadPoolExecutor(1)  # a hang fails the test, not the run
        with psycopg.connect(postgres_url) as other:  # another program's session
            other.execute("LOCK TABLE turns IN ACCESS EXCLUSIVE MODE")  # e.g. a migration, a dump
            blocked = pool.submit(store.add_turn, sid, TURN)
            with pytest.raises(StoreUnavailable, match="another program is holding the database"):
                blocked.result(timeout=60)
        pool.shutdown()  # the lock is gone: it returns
        store.add_turn(sid, TURN)  # lock released: it works
        assert store.sessions()[0].turns == 1
    finally:
        from kiosk.store_schema import metadata

        metadata.drop_all(store.engine)
        with store.engine.begin() as c:
            c.execute(text("DROP TABLE IF EXISTS kiosk_meta"))
        store.close()


def test_a_database_of_another_schema_version_is_refused(store):
    url = store.engine.url.render_as_string(hide_password=False)
    assert store.schema_version == SCHEMA_VERSION
    with store.engine.begin() as c:
        c.execute(text("UPDATE kiosk_meta SET value = '99' WHERE key = 'schema_version'"))
    with pytest.raises(StoreError, match=f"schema version 99, newer than this kiosk's {SCHEMA_VERSION}"):
        Store.open(url)


def test_unreachable_or_unknown_databases_are_one_clear_line(tmp_path):
    with pytest.raises(StoreError, match=r"cannot open the database postgresql\+psycopg://kiosk:\*\*\*@"):
        Store.open(f"postgresql://kiosk:secret@/kiosk?host={tmp_path}&port=1")
    with pytest.raises(StoreError, match="cannot use the database"):
        Store.open("nosuchdb://x")
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"


def test_sqlite_runs_in_wal_mode(tmp_path):
    s = Store.open(f"sqlite:///{tmp_path / 'k.db'}")
    with s.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    s.close()


def test_trainees_and_purge_commands(tmp_path):
    from conftest import run_kiosk

    env = {"KIOSK_DATA_DIR": str(tmp_path)}
    s = Store.open(f"sqlite:///{tmp_path / 'kiosk.db'}")
    old, _ = s.find_or_create_trainee("Old Timer")
    sid = s.start_session(old.id, "late-delivery", "The sofa")
    s.finish_session(sid, {"ending": "resolved", "score": 70, "anger_curve": [3, 1], "tips": []})
    with s.engine.begin() as c:
        past = datetime.now(timezone.utc) - timedelta(days=100)
        c.execute(text("UPDATE sessions SET started_at = :t"), {"t": past})
        c.execute(text("UPDATE trainees SET last_seen_at = :t"), {"t": past})
    s.close()
    listed = run_kiosk("trainees", "--json", env=env)
    assert listed.returncode == 0 and json.loads(listed.stdout)[0]["name"] == "Old Timer"
    kept = run_kiosk("purge", "--days", "365", env=env)
    assert kept.returncode == 0 and "Purged 0 sessions" in kept.stdout
    purged = run_kiosk("purge", "--days", "90", env=env)
    assert purged.returncode == 0 and "Purged 1 sessions, 1 trainees" in purged.stdout
    assert "Nobody has practised yet." in run_kiosk("trainees", env=env).stdout


# Upgrading a database an older kiosk wrote (kiosk.store_migrations)

V1_FIXTURE = Path(__file__).parent / "data" / "store" / "store_v1.db"
"""Written by the first release (schema 1) with scripts/store_fixture.py; see its README."""


def _columns(engine) -> dict[str, set[str]]:
    """The columns each kiosk table has in this database."""
    from sqlalchemy import inspect

    from kiosk.store_schema import metadata

    return {
        t.name: {c["name"] for c in inspect(engine).get_columns(t.name)}
        for t in metadata.sorted_tables
        if t.name != "kiosk_meta"
    }


def _rows(engine, columns: dict[str, set[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every kiosk table except the version row, in a stable order, in the given
    columns of each table (default: all it has; a step may add columns)."""
    from sqlalchemy import select

    from kiosk.store_schema import metadata

    columns = columns or _columns(engine)
    with engine.connect() as c:
        return {
            t.name: sorted(
                tuple(str(v) for v in row)
                for row in c.execute(select(*(col for col in t.columns if col.name in columns[t.name])))
            )
            for t in metadata.sorted_tables
            if t.name in columns
        }


def _indexes(engine) -> set[str]:
    from sqlalchemy import inspect

    return {ix["name"] for ix in inspect(engine).get_indexes("sessions")}


@pytest.fixture(params=["sqlite", "postgresql"])
def v1_url(request, tmp_path):
    """A database exactly as the first release left it: the fixture file itself on SQLite; on
    PostgreSQL the same rows in the first release's tables (today's, less what later steps add)."""
    from sqlalchemy import create_engine, select

    from kiosk.store_schema import meta, metadata

    if request.param == "sqlite":
        assert V1_FIXTURE.is_file(), V1_FIXTURE
        shutil.copy(V1_FIXTURE, tmp_path / "kiosk.db")
        yield f"sqlite:///{tmp_path / 'kiosk.db'}"
        return
    url = normalise_url(request.getfixturevalue("postgres_url"))
    source, pg = create_engine(f"sqlite:///{V1_FIXTURE}"), create_engine(url)
    metadata.create_all(pg)
    with source.connect() as read, pg.begin() as write:
        write.execute(text("DROP INDEX ix_sessions_finished_at"))
        write.execute(text("ALTER TABLE sessions DROP COLUMN scorecard"))
        v1_columns = _columns(source)
        for table in metadata.sorted_tables:
            kept = [col for col in table.columns if col.name in v1_columns.get(table.name, {col.name})]
            rows = [dict(r._mapping) for r in read.execute(select(*kept))]
            if rows:
                write.execute(table.insert(), rows)
        assert write.execute(select(meta.c.value)).scalar() == "1"
    source.dispose()
    yield url
    metadata.drop_all(pg)
    pg.dispose()


def test_the_fixture_was_written_by_the_first_release():
    import sqlite3

    with sqlite3.connect(f"file:{V1_FIXTURE}?mode=ro", uri=True) as db:
        assert db.execute("SELECT value FROM kiosk_meta WHERE key = 'schema_version'").fetchone() == ("1",)


def test_a_first_release_database_upgrades_with_its_history_intact(v1_url):
    from sqlalchemy import create_engine

    from analysis.delivery import Baseline

    raw = create_engine(v1_url)
    v1_columns = _columns(raw)
    before = _rows(raw, v1_columns)
    assert "ix_sessions_finished_at" not in _indexes(raw) and "scorecard" not in v1_columns["sessions"]
    store = Store.open(v1_url)
    try:
        assert store.schema_version == SCHEMA_VERSION == 3
        assert "ix_sessions_finished_at" in _indexes(raw) and "scorecard" in _columns(raw)["sessions"]
        assert _rows(raw, v1_columns) == before  # not one row changed
        roster = {r.trainee.name: r for r in store.roster()}
        assert set(roster) == {"Ana López", "10442", "Sam"}
        assert roster["Ana López"].trainee.baseline == Baseline(196.5, -23.4, 138.0, -6.2)
        assert roster["10442"].trainee.baseline == Baseline(112.0, -19.8, 151.5, -4.9)
        assert roster["Sam"].trainee.baseline is None and roster["Ana López"].trainee.keep_audio
        by_scenario = {s.scenario_id: s for s in store.sessions()}
        assert {k: (s.ending, s.turns, s.score) for k, s in by_scenario.items()} == {
            "late-delivery": ("resolved", 2, 70),
            "faulty-kettle": ("walked_out", 1, 10),
            "no-receipt-return": (None, 2, 60),
        }
        assert by_scenario["faulty-kettle"].round_id is not None
        report = store.session_report(by_scenario["late-delivery"].id)
        assert [t["audio_kept"] for t in report["turns"]] == [True, True] and report["scorecard"] is None
        assert [t["transcript"]["text"] for t in report["turns"]] == [
            "I'm sorry, let me check.",
            "I can send a new one today.",
        ]
        assert len(list(store.export_turns())) == 5
    finally:
        store.close()
    Store.open(v1_url).close()  # opened again: no step runs twice
    raw.dispose()


def test_a_failed_upgrade_leaves_the_database_as_it_was(v1_url, monkeypatch):
    from sqlalchemy import create_engine

    from kiosk import store_migrations
    from kiosk.store_migrations import Migration

    def half_done(c) -> None:
        c.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        c.execute(text("INSERT INTO notes (id, body) VALUES (1, 'half')"))
        c.execute(text("UPDATE trainees SET name = 'changed'"))
        c.execute(text("ALTER TABLE no_such_table ADD COLUMN x INTEGER"))

    monkeypatch.setattr(store_migrations, "MIGRATIONS", (Migration(2, "a step that fails half-way", half_done),))
    monkeypatch.setattr(store_migrations, "SCHEMA_VERSION", 2)
    raw = create_engine(v1_url)
    before = _rows(raw)
    with pytest.raises(StoreError) as failed:
        Store.open(v1_url)
    message = str(failed.value)
    assert "\n" not in message
    assert "could not upgrade the database" in message and "to schema 2 (a step that fails half-way)" in message
    assert message.endswith("it was left as it was, at schema 1")
    from sqlalchemy import inspect

    assert "notes" not in inspect(raw).get_table_names()
    assert _rows(raw) == before
    with raw.connect() as c:
        assert c.execute(text("SELECT value FROM kiosk_meta WHERE key = 'schema_version'")).scalar() == "1"
    raw.dispose()


def test_a_database_from_a_newer_kiosk_is_refused_in_one_line(tmp_path):
    url = f"sqlite:///{tmp_path / 'kiosk.db'}"
    Store.open(url).close()
    from sqlalchemy import create_engine

    raw = create_engine(url)
    with raw.begin() as c:
        c.execute(text(f"UPDATE kiosk_meta SET value = '{SCHEMA_VERSION + 1}' WHERE key = 'schema_version'"))
    raw.dispose()
    with pytest.raises(
        StoreError,
        match=rf"^the database sqlite:///\S+ has schema version {SCHEMA_VERSION + 1}, newer "
        rf"than this kiosk's {SCHEMA_VERSION}: run the newer kiosk version, or use a "
        r"fresh database$",
    ):
        Store.open(url)
