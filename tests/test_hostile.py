"""Hostile input against the running web app (TestClient, real engine and store): uploads that are
empty, endless, truncated or bombs, markup in names and transcripts, forged form posts, and paths
made up by a browser. Each must be refused with one clear sentence, leaving the kiosk usable.
"""

import csv
import io
import re
import tracemalloc

import av
import numpy as np
import pytest

from audio.clip import AudioTooLong, load
from kiosk.web import trainer
from kiosk.web.answers import MAX_UPLOAD_S

from test_clip import _encode
from test_web_api import KIOSK, kiosk, pin_hash, trainer_login, upload, visit  # noqa: F401 (fixtures)

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _practice(client) -> str:
    token = visit(client, "Ana")
    client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
    return token


def silence_bomb(path, minutes: int, rate: int = 8000) -> None:
    """A FLAC of digital silence: about 1 % of its decoded size (an hour is ~0.7 MB)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flac", rate=rate)
        stream.layout = "mono"
        minute = np.zeros((1, rate * 60), np.int16)
        for _ in range(minutes):
            frame = av.AudioFrame.from_ndarray(minute, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_a_tiny_file_that_decodes_to_an_hour_is_refused_after_the_limit(kiosk, tmp_path):
    client, store, _ = kiosk
    bomb = tmp_path / "bomb.flac"
    silence_bomb(bomb, minutes=60)
    assert bomb.stat().st_size < 2 * 1024 * 1024  # well under the 20 MB upload limit
    # Decoding stops at the limit: at most about two minutes of samples are ever held, not the
    # 230 MB an hour at 16 kHz would take.
    tracemalloc.start()
    with pytest.raises(AudioTooLong):
        load(bomb, max_duration_s=MAX_UPLOAD_S)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * MAX_UPLOAD_S * 16000 * 4
    token = _practice(client)
    r = upload(client, f"/api/visits/{token}/answer", bomb.read_bytes(), "audio/flac")
    assert r.status_code == 413 and "longer than 2 minutes" in r.json()["error"]
    assert store.sessions() == []


def test_empty_endless_and_truncated_uploads(kiosk, tmp_path, answer_wav):
    client, store, settings = kiosk
    token = _practice(client)
    url = f"/api/visits/{token}/answer"
    empty = upload(client, url, b"")
    assert empty.status_code == 400 and "empty" in empty.json()["error"]

    def endless():  # no Content-Length: refused while streaming
        for _ in range(10_000):
            yield b"RIFF" + b"\0" * 65532

    streamed = client.post(url, content=endless(), headers={**KIOSK, "Content-Type": "audio/wav"})
    assert streamed.status_code == 413 and "too large" in streamed.json()["error"]
    lying = client.post(
        url, content=b"RIFF", headers={**KIOSK, "Content-Type": "audio/wav", "Content-Length": str(10**12)}
    )
    assert lying.status_code in (400, 413)
    # An Opus answer cut off after its first few bytes (a dropped connection): one clear sentence.
    webm = tmp_path / "answer.webm"
    _encode(load(answer_wav), webm, "libopus", 48000)
    head = upload(client, url, webm.read_bytes()[:300], "audio/webm")
    assert head.status_code == 422 and "try again" in head.json()["error"]
    assert store.sessions() == []
    # Cut off two thirds through: what arrived is a real (shorter) answer and is judged.
    part = upload(client, url, webm.read_bytes()[: webm.stat().st_size * 2 // 3], "audio/webm")
    assert part.status_code == 200 and part.json()["turn"]["index"] == 0
    assert not list((settings.data_dir / "tmp").iterdir())  # no scratch file outlives a request


def test_markup_in_names_and_transcripts_is_shown_as_text_everywhere(kiosk, judged_session):
    client, store, _ = kiosk
    visit(client, HOSTILE[:40])
    result, baseline = judged_session
    person = store.find_trainee(HOSTILE[:40])
    sid = store.start_session(person.id, "late-delivery", "The <b>sofa</b>", baseline)
    turn = result.turns[0].to_dict()
    turn["transcript"]["text"] = HOSTILE  # Whisper can output any text at all
    turn["customer"]["text"] = HOSTILE
    store.add_turn(sid, turn)
    store.finish_session(sid, {**result.to_dict(), "ending": HOSTILE[:20]})
    trainer_login(client)
    pages = [
        client.get("/trainer").text,
        client.get(f"/trainer/trainees/{person.id}").text,
        client.get(f"/trainer/sessions/{sid}").text,
    ]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "<b>sofa" not in page
    assert "&lt;script&gt;alert" in pages[2] and "&lt;img src=x" in pages[0]
    # CSV is data, not markup; but a spreadsheet would run a formula, so those are defused.
    store.add_turn(sid, {**turn, "index": 1, "transcript": {"text": '=HYPERLINK("http://x")'}})
    rows = list(csv.DictReader(io.StringIO(client.get("/trainer/export.csv").text)))
    assert [r["transcript"] for r in rows] == [HOSTILE, '\'=HYPERLINK("http://x")']


def test_every_trainer_form_post_needs_the_csrf_token(kiosk):
    client, _, _ = kiosk
    csrf = trainer_login(client)
    posts = [r.path for r in trainer.router.routes if "POST" in r.methods and r.path != "/trainer/login"]
    assert len(posts) >= 5
    for path in posts:
        url = re.sub(r"\{[^}]+\}", "1", path).replace("/answers", "/answers?name=Ana")
        r = client.post(url, data={"confirm": "yes", "scenario": "late-delivery"}, follow_redirects=False)
        assert r.status_code in (403, 404), (path, r.status_code)  # 404: the round does not exist
        if r.status_code == 403:
            assert "expired" in r.json()["error"]
        forged = client.post(url, data={"csrf": csrf[::-1]}, follow_redirects=False)
        assert forged.status_code in (403, 404), path
    # With the token the same form works, so the 403s above were the CSRF check and nothing else.
    assert client.post("/trainer/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303


def test_paths_a_browser_makes_up_never_reach_the_file_system(kiosk):
    client, _, _ = kiosk
    token = _practice(client)
    for url in [
        "/static/../kiosk/store.py",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fpyproject.toml",
        f"/api/visits/{token}/lines/..%2f..%2fetc%2fpasswd.wav",
        f"/api/visits/{token}/lines/-1.wav",
        f"/api/visits/{token}/lines/99.wav",
        f"/api/visits/{token}/answers/0.wav",
        "/api/visits/..%2f..%2fetc/feedback",
        "/report.css/../../etc/passwd",
    ]:
        r = client.get(url)
        assert r.status_code in (404, 422), (url, r.status_code)
        assert "root:" not in r.text and "sqlalchemy" not in r.text
    bad = client.post(f"/api/visits/{token}/practice", json={"scenario": "../../etc/passwd"}, headers=KIOSK)
    assert bad.status_code == 404 and "passwd" not in bad.text.replace("../../etc/passwd", "")
    assert client.get(f"/api/visits/{token}/lines/0.wav").status_code == 200  # the real line still plays
