"""The web kiosk's API in-process (Starlette's TestClient) with the real engine, store and audio."""

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from audio.clip import Clip, load, save_wav
from kiosk.settings import load_settings
from kiosk.store import Store
from kiosk.web import trainer
from kiosk.web.app import create_app
from kiosk.web.state import Kiosk
from kiosk.web.auth import MAX_FAILURES, hash_pin

PIN = "2468"
KIOSK = {"X-Kiosk": "1"}


@pytest.fixture(scope="module")
def pin_hash():
    return hash_pin(PIN)


def make_client(tmp_path, engines, pin_hash, **env):
    values = {"KIOSK_DATA_DIR": str(tmp_path / "data"), "KIOSK_TRAINER_PIN_HASH": pin_hash, **env}
    settings = load_settings(env=values)
    store = Store.open(settings.database_url)
    return TestClient(create_app(Kiosk(settings, store, engines))), store, settings


@pytest.fixture
def kiosk(tmp_path, engines, pin_hash):
    client, store, settings = make_client(tmp_path, engines, pin_hash)
    with client:
        yield client, store, settings
    store.close()


def visit(client, name="Ana", keep_audio=False) -> str:
    r = client.post("/api/visits", json={"name": name, "keep_audio": keep_audio}, headers=KIOSK)
    assert r.status_code == 201, r.text
    return r.json()["visit"]


def upload(client, url, data: bytes, content_type="audio/wav"):
    return client.post(url, content=data, headers={**KIOSK, "Content-Type": content_type})


def trainer_login(client):
    r = client.post("/trainer/login", data={"pin": PIN}, follow_redirects=False)
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/trainer" in cookie
    page = client.get("/trainer").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_a_practice_session_through_the_api(kiosk, answer_wav):
    client, store, settings = kiosk
    assert client.get("/healthz").json() == {"status": "ready"}
    page = client.get("/")
    assert "default-src 'self'" in page.headers["content-security-policy"] and "cdn" not in page.text.lower()
    config = client.get("/api/config").json()
    assert config["ready"] and {s["id"] for s in config["scenarios"]} >= {"late-delivery"}
    token = visit(client, "Ana Lopez")
    wav = answer_wav.read_bytes()
    baseline = upload(client, f"/api/visits/{token}/calibration", wav).json()["baseline"]
    assert baseline["wpm"] > 100
    started = client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK).json()
    first = started["line"]
    assert first["customer"] == "Dana" and "sofa" in first["text"]
    audio = client.get(first["audio_url"])
    assert audio.headers["content-type"] == "audio/wav" and audio.content[:4] == b"RIFF"
    turn = upload(client, f"/api/visits/{token}/answer", wav).json()
    assert "depot" in turn["turn"]["transcript"].lower()
    reaction = turn["turn"]["reaction"]
    assert reaction["anger_after"] < reaction["anger_before"]  # a good answer calms her
    assert turn["line"]["index"] == 1 and turn["line"]["text"]
    # Stored the moment it was judged, before the session ends.
    [summary] = store.sessions()
    assert summary.trainee_name == "Ana Lopez" and summary.turns == 1
    # Replays: their answer from memory, a model answer from the TTS cache.
    replay = client.get(f"/api/visits/{token}/answers/0.wav")
    assert replay.status_code == 200 and len(load_bytes(replay.content, tmp=settings.data_dir)) > 16000
    assert client.get(f"/api/visits/{token}/model.wav").content[:4] == b"RIFF"
    feedback = client.get(f"/api/visits/{token}/feedback").text
    assert 'class="chart contour"' in feedback and "Replay this answer" in feedback
    assert 'class="chart conversation"' in feedback and 'class="model-text"' in feedback
    assert "_" not in turn["turn"]["reaction"]["reasons"][0]  # names, not rubric ids
    assert feedback.count('class="tip"') <= 3
    assert "guide 00" not in feedback.lower()  # guide rules are cited by name (tests/test_guide.py)
    # Leaving stores the ending; the visit is gone.
    assert client.delete(f"/api/visits/{token}", headers=KIOSK).status_code == 204
    stored = store.session_report(summary.id)
    assert stored["score"] == turn["turn"]["score_after"] and stored["tips"] == []  # a good first answer
    gone = client.get(f"/api/visits/{token}/feedback")
    assert gone.status_code == 404 and "start again" in gone.json()["error"]
    assert not (settings.audio_dir).exists()  # nothing kept without opt-in


def load_bytes(data: bytes, tmp):
    path = tmp / "replay.wav"
    path.write_bytes(data)
    return load(path).samples


def test_uploads_of_the_wrong_type_or_size_are_refused_clearly(tmp_path, engines, pin_hash, answer_wav):
    client, store, _ = make_client(tmp_path, engines, pin_hash, KIOSK_MAX_UPLOAD_MB="0.2")
    with client:
        token = visit(client)
        client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        url = f"/api/visits/{token}/answer"
        big = upload(client, url, answer_wav.read_bytes())
        assert big.status_code == 413 and "too large (0.4 MB; the limit is 0.2 MB)" in big.json()["error"]
        wrong = upload(client, url, b"hello", "text/plain")
        assert wrong.status_code == 415 and "WebM, Ogg, WAV" in wrong.json()["error"]
        disguised = upload(client, url, b"<html><script>x</script></html>", "audio/webm")
        assert disguised.status_code == 415 and "not audio" in disguised.json()["error"]
        corrupt = upload(client, url, b"RIFF\x10\x00\x00\x00WAVEfmt junkjunkjunk" * 4)
        assert corrupt.status_code == 422 and "could not be read" in corrupt.json()["error"]
        silence = save_wav(Clip.silence(2.0), tmp_path / "silence.wav").read_bytes()
        quiet = upload(client, url, silence)
        assert quiet.status_code == 422 and "didn't hear anything" in quiet.json()["error"]
        # Not from the kiosk page (no custom header): refused before anything runs.
        assert client.post(url, content=silence, headers={"Content-Type": "audio/wav"}).status_code == 403
        assert store.sessions() == []  # nothing judged, nothing stored
    store.close()


def test_the_server_records_with_its_own_microphone(tmp_path, engines, pin_hash, alsa_device, answer_wav):
    client, store, settings = make_client(tmp_path, engines, pin_hash, KIOSK_RECORD_MODE="server")
    with client:
        token = visit(client, "Sam", keep_audio=True)
        client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        alsa_device.feed(load(answer_wav))
        r = client.post(f"/api/visits/{token}/answer?source=server", headers=KIOSK)
        assert r.status_code == 200, r.text
        assert "refund" in r.json()["turn"]["transcript"].lower()
        # Opted in: the answer was kept, and deleting the trainee deletes it.
        [kept] = list(settings.audio_dir.rglob("*.wav"))
        assert load(kept).duration_s > 3
        # A trainer hears and downloads it from the session page, behind the PIN only.
        [summary] = store.sessions()
        url = f"/trainer/sessions/{summary.id}/answers/0.wav"
        assert client.get(url).status_code == 401
        trainer_login(client)
        page = client.get(f"/trainer/sessions/{summary.id}").text
        assert f'data-src="{url}"' in page and f'href="{url}" download' in page
        played = client.get(url)
        assert played.status_code == 200 and played.content == kept.read_bytes()
        assert "session-" in played.headers["content-disposition"]
        assert client.get(f"/trainer/sessions/{summary.id}/answers/1.wav").status_code == 404
        trainee = store.find_trainee("sam")
        store.delete_trainee(trainee.id)
        assert not kept.exists()
    store.close()


def test_browser_kiosks_do_not_open_the_servers_microphone(kiosk):
    client, _, _ = kiosk
    token = visit(client)
    client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
    r = client.post(f"/api/visits/{token}/answer?source=server", headers=KIOSK)
    assert r.status_code == 400 and "records in the browser" in r.json()["error"]


def test_an_abandoned_visit_expires_and_keeps_what_was_said(kiosk, answer_wav):
    client, store, settings = kiosk
    token = visit(client, "Walker")
    client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
    upload(client, f"/api/visits/{token}/answer", answer_wav.read_bytes())
    state = client.app.state.kiosk
    state.visits[token].last_used -= settings.idle_timeout_s + 1000  # the page was closed long ago
    assert client.get("/api/config").status_code == 200
    assert client.get(f"/api/visits/{token}/level").status_code == 404
    [summary] = store.sessions()
    report = store.session_report(summary.id)
    assert len(report["turns"]) == 1 and report["tips"]  # the ending was stored


def test_names_are_validated_and_escaped(kiosk):
    client, _, _ = kiosk
    bad = client.post("/api/visits", json={"name": "   "}, headers=KIOSK)
    assert bad.status_code == 422 and bad.json()["error"] == "Please enter your name or badge number."
    assert client.post("/api/visits", json={"name": "x" * 41}, headers=KIOSK).status_code == 422
    visit(client, "<img src=x onerror=alert(1)>")
    trainer_login(client)
    roster = client.get("/trainer").text
    assert "<img src=x" not in roster and "&lt;img src=x onerror=alert(1)&gt;" in roster


def test_every_trainer_route_refuses_without_a_trainer_session(kiosk):
    client, _, _ = kiosk
    routes = [
        (m, r.path) for r in trainer.router.routes for m in r.methods if r.path != "/trainer/login" and m != "HEAD"
    ]
    assert all(path.startswith("/trainer") for _, path in routes)
    assert len(routes) >= 12
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        r = client.request(method, url, follow_redirects=False)
        assert r.status_code == 401, (method, url, r.status_code)
        if method == "GET":  # a person's browser is sent to the PIN page instead
            page = client.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"] == "/trainer/login"
    assert client.get("/trainer/export.csv").status_code == 401


def test_wrong_pins_are_limited(kiosk):
    client, _, _ = kiosk
    for _ in range(MAX_FAILURES):
        assert client.post("/trainer/login", data={"pin": "0000"}).status_code == 401
    locked = client.post("/trainer/login", data={"pin": PIN}, follow_redirects=False)
    assert locked.status_code == 429 and "Too many wrong PINs" in locked.text
    assert "kiosk_trainer" not in client.cookies


def test_trainer_export_and_delete(kiosk, answer_wav):
    client, store, _ = kiosk
    token = visit(client, "Dee")
    client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
    upload(client, f"/api/visits/{token}/answer", answer_wav.read_bytes())
    csrf = trainer_login(client)
    csv_text = client.get("/trainer/export.csv").text
    assert csv_text.splitlines()[0].startswith("trainee,session,started_at") and "Dee," in csv_text
    assert "you said sorry" in csv_text.splitlines()[0]  # one column per rubric item
    dee = store.find_trainee("dee")
    page = client.get(f"/trainer/trainees/{dee.id}").text
    assert 'class="chart progress"' in page and "Delete all data" in page
    # No CSRF token: refused. No confirmation: refused. Both: everything about Dee is gone.
    assert client.post(f"/trainer/trainees/{dee.id}/delete", data={"confirm": "yes"}).status_code == 403
    assert client.post(f"/trainer/trainees/{dee.id}/delete", data={"csrf": csrf}).status_code == 400
    done = client.post(
        f"/trainer/trainees/{dee.id}/delete", data={"csrf": csrf, "confirm": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert store.find_trainee("dee") is None and "Dee," not in client.get("/trainer/export.csv").text
    assert client.get(f"/api/visits/{token}/level").status_code == 404  # their open visit ended too


def test_a_model_that_cannot_load_is_reported_not_crashed(tmp_path):
    settings = load_settings(env={"KIOSK_DATA_DIR": str(tmp_path)})
    store = Store.open(settings.database_url)
    with TestClient(create_app(Kiosk(settings, store), model=str(tmp_path / "no-model"))) as client:
        for _ in range(100):
            health = client.get("/healthz")
            if health.status_code != 503:
                break
            time.sleep(0.05)
        assert health.status_code == 500 and "no-model" in health.json()["error"]
        config = client.get("/api/config").json()
        assert not config["ready"] and config["error"]
        token = visit(client)
        r = client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
        assert r.status_code == 503 and "could not load its speech model" in r.json()["error"]
    store.close()


def test_a_long_running_kiosk_still_applies_the_retention_period(tmp_path, engines, pin_hash):
    client, store, _ = make_client(tmp_path, engines, pin_hash, KIOSK_RETENTION_DAYS="30")
    with client:
        old, _ = store.find_or_create_trainee("Old")
        sid = store.start_session(old.id, "late-delivery", "The sofa")
        store.finish_session(sid, {"ending": "resolved", "score": 50, "anger_curve": [3, 1], "tips": []})
        with store.engine.begin() as c:
            c.execute(
                text("UPDATE sessions SET started_at = :t"), {"t": datetime.now(timezone.utc) - timedelta(days=31)}
            )
        visit(client, "First")
        assert len(store.sessions()) == 1  # purged at most once a day
        client.app.state.kiosk.last_purge -= 25 * 3600  # a day has passed
        visit(client, "Next")
        assert store.sessions() == []
    store.close()
