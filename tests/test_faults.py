"""Faults of a kiosk on a shop floor: a locked database, a full disk, a corrupt model, two tabs.

Each fault is produced for real (another process holding SQLite's lock, a tmpfs that is really
full, a model file really truncated) and each must end with one clear sentence, the kiosk usable
again afterwards, and nothing stored before lost. Killing a running kiosk is in test_faults_kill.py.
"""

import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from audio import asr
from kiosk.errors import StoreUnavailable
from kiosk.settings import load_settings
from kiosk.store import Store
from kiosk.web.app import create_app
from kiosk.web.state import Kiosk

from test_web_api import KIOSK, make_client, upload, visit

TURN = {
    "index": 0,
    "customer": {"text": "Where is my sofa?"},
    "transcript": {"text": "I'm sorry"},
    "content": {"score": 60},
    "reaction": {"anger_before": 3, "anger_after": 2},
}


@pytest.fixture(scope="module")
def pin_hash():
    from kiosk.web.auth import hash_pin

    return hash_pin("2468")


class SqliteLock:
    """Another process holding the write lock of a SQLite file (a backup tool, a second kiosk)."""

    def __init__(self, db: Path) -> None:
        code = (
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _stored_turns(store: Store) -> int:
    with store.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM turns")).scalar()


def test_a_database_locked_by_another_process_is_one_sentence_then_works_again(tmp_path):
    store = Store.open(f"sqlite:///{tmp_path / 'kiosk.db'}")
    ana, _ = store.find_or_create_trainee("Ana")
    sid = store.start_session(ana.id, "late-delivery", "The sofa")
    store.add_turn(sid, TURN)
    lock = SqliteLock(tmp_path / "kiosk.db")
    try:
        with pytest.raises(StoreUnavailable, match="another program is holding the database") as err:
            store.add_turn(sid, {**TURN, "index": 1})
        assert "nothing saved before was lost" in str(err.value) and "\n" not in str(err.value)
        assert len(store.sessions()) == 1  # WAL: reading still works while it is locked
    finally:
        lock.release()
    store.add_turn(sid, {**TURN, "index": 1})
    assert [t["index"] for t in store.session_report(sid)["turns"]] == [0, 1]


def test_the_terminal_says_the_database_is_locked_in_one_line(tmp_path):
    from conftest import run_kiosk

    Store.open(f"sqlite:///{tmp_path / 'kiosk.db'}").close()
    lock = SqliteLock(tmp_path / "kiosk.db")
    try:
        done = run_kiosk("purge", "--days", "30", env={"KIOSK_DATA_DIR": str(tmp_path)})
    finally:
        lock.release()
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and "another program is holding the database" in done.stderr
    assert run_kiosk("purge", "--days", "30", env={"KIOSK_DATA_DIR": str(tmp_path)}).returncode == 0


def test_an_answer_during_a_database_lock_can_simply_be_given_again(tmp_path, engines, pin_hash, answer_wav):
    client, store, settings = make_client(tmp_path, engines, pin_hash)
    with client:
        token = visit(client, "Ana")
        opening = client.post(
            f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK
        ).json()["line"]
        lock = SqliteLock(settings.data_dir / "kiosk.db")
        try:
            refused = upload(client, f"/api/visits/{token}/answer", answer_wav.read_bytes())
        finally:
            lock.release()
        assert refused.status_code == 503
        assert "try again in a moment" in refused.json()["error"] and "saved before is safe" in refused.json()["error"]
        # The customer is still waiting for that answer: the retry is turn 0, not turn 1.
        again = upload(client, f"/api/visits/{token}/answer", answer_wav.read_bytes())
        assert again.status_code == 200 and again.json()["turn"]["index"] == 0
        [summary] = store.sessions()
        assert summary.turns == 1
        # ...and judged against that line: its words and its raised voice, not the reaction's.
        [stored] = store.session_report(summary.id)["turns"]
        assert stored["customer"]["text"] == opening["text"]
        assert _customer_voice(stored) == _customer_voice(_first_turn_of_a_fresh_visit(client, store, answer_wav))
    store.close()


def _first_turn_of_a_fresh_visit(client, store, answer_wav) -> dict:
    """The same scenario's first turn for another trainee, answered with the same recording."""
    token = visit(client, "Ben")
    client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
    assert upload(client, f"/api/visits/{token}/answer", answer_wav.read_bytes()).status_code == 200
    ben = next(s for s in store.sessions() if s.trainee_name == "Ben")
    return store.session_report(ben.id)["turns"][0]


def _customer_voice(turn: dict) -> str:
    """The mirroring verdict's account of the customer's voice: the measure of the line answered."""
    return turn["delivery"]["mirroring"]["detail"].split(";")[0].split(":")[0]


@contextmanager
def tmpfs(mount: Path, size: str = "2m"):
    """A real small filesystem the test can fill up; needs root, as the kiosk image has."""
    mount.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs (run the tests as root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    with tmpfs(tmp_path / "disk") as mount:
        yield mount


def fill(folder: Path) -> Path:
    """Write until the disk refuses; returns the filler so the test can free the space again."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
    return filler


def test_a_full_disk_refuses_new_work_clearly_and_keeps_what_was_stored(small_disk, engines, pin_hash, answer_wav):
    client, store, settings = make_client(small_disk, engines, pin_hash)
    wav = answer_wav.read_bytes()
    with client:
        token = visit(client, "Ana", keep_audio=True)
        client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        first = upload(client, f"/api/visits/{token}/answer", wav)
        assert first.status_code == 200, first.text
        before = store.session_report(store.sessions()[0].id)
        filler = fill(small_disk)
        full = upload(client, f"/api/visits/{token}/answer", wav)
        assert full.status_code == 507 and "disk is full" in full.json()["error"]
        # The database itself refuses too, in one sentence, and rolls back whole.
        with pytest.raises(StoreUnavailable, match="disk is full"):
            for i in range(200):  # SQLite may find room in free pages for a few rows first
                store.add_turn(before["id"], {**TURN, "index": 10 + i, "transcript": {"text": "x" * 4000}})
        assert store.session_report(before["id"])["turns"][0] == before["turns"][0]
        assert not [p for p in small_disk.rglob("*") if p.name.startswith(".") and p.suffix == ".tmp"]
        filler.unlink()
        with store.engine.begin() as c:
            c.execute(text("DELETE FROM turns WHERE idx >= 10"))
        again = upload(client, f"/api/visits/{token}/answer", wav)
        assert again.status_code == 200 and again.json()["turn"]["index"] == 1
        assert store.sessions()[0].turns == 2
        assert len(list(settings.audio_dir.rglob("*.wav"))) == 2  # both opted-in recordings, whole
    store.close()


def test_a_recording_that_cannot_be_kept_does_not_cost_the_judged_turn(tmp_path, engines, pin_hash, answer_wav):
    client, store, settings = make_client(tmp_path, engines, pin_hash)
    with tmpfs(settings.audio_dir, "64k"), client:  # only the recordings' folder is full
        fill(settings.audio_dir)
        token = visit(client, "Ana", keep_audio=True)
        client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        r = upload(client, f"/api/visits/{token}/answer", answer_wav.read_bytes())
        assert r.status_code == 200, r.text
        [summary] = store.sessions()
        assert summary.turns == 1 and store.session_report(summary.id)["turns"][0]["audio_kept"] is False
        assert [p.name for p in settings.audio_dir.rglob("*") if p.is_file()] == ["filler"]  # no half WAV
    store.close()


def test_a_corrupt_model_is_reported_on_screen_and_the_store_still_works(tmp_path):
    model_dir = tmp_path / "broken-model"
    shutil.copytree(asr.resolve_model().location, model_dir)
    with open(model_dir / "model.bin", "r+b") as f:
        f.truncate(1_000_000)  # a copy interrupted half-way
    settings = load_settings(env={"KIOSK_DATA_DIR": str(tmp_path / "data")})
    store = Store.open(settings.database_url)
    with TestClient(create_app(Kiosk(settings, store), model=str(model_dir))) as client:
        for _ in range(200):
            health = client.get("/healthz")
            if health.status_code != 503:
                break
            time.sleep(0.05)
        assert health.status_code == 500 and "corrupt or incomplete" in health.json()["error"]
        token = visit(client, "Ana")  # names still work: only judging needs the model
        r = client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        assert r.status_code == 503 and "could not load its speech model" in r.json()["error"]
    store.close()


def test_two_tabs_of_the_same_trainee_keep_two_sessions(tmp_path, engines, pin_hash, answer_wav):
    client, store, _ = make_client(tmp_path, engines, pin_hash)
    wav = answer_wav.read_bytes()
    with client:
        first, second = visit(client, "Ana"), visit(client, "ana ")
        assert first != second
        for token in (first, second):
            client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        for token in (first, second, first):
            assert upload(client, f"/api/visits/{token}/answer", wav).status_code == 200
        for token in (first, second):
            assert client.delete(f"/api/visits/{token}", headers=KIOSK).status_code == 204
        assert sorted(s.turns for s in store.sessions()) == [1, 2]
        assert {s.trainee_name for s in store.sessions()} == {"Ana"}  # one trainee, two sessions
        gone = client.get(f"/api/visits/{first}/level")
        assert gone.status_code == 404 and "start again" in gone.json()["error"]
    store.close()
