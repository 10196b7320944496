"""The browser's streamed answer (kiosk/web/live.py) in-process: a WebSocket fed with real speech,
the real engine, endpointing and streaming transcription, the turn stored as an upload's would be."""

import numpy as np
import pytest
from starlette.websockets import WebSocketDisconnect

from audio.clip import load
from test_web_api import KIOSK, kiosk, pin_hash, visit  # noqa: F401, F811 - fixtures

ORIGIN = {"origin": "http://testserver"}


def start_practice(client, token):
    r = client.post(f"/api/visits/{token}/practice", json={"scenario": "late-delivery"}, headers=KIOSK)
    assert r.status_code == 201, r.text


def frames(clip, rate_hz, frame_s=0.032):
    pcm = (np.clip(clip.resampled(rate_hz).samples, -1, 1) * 32767).astype("<i2")
    step = int(rate_hz * frame_s)
    return [pcm[i : i + step].tobytes() for i in range(0, len(pcm), step)]


@pytest.mark.parametrize("rate_hz", [48000, 16000])
def test_an_answer_streamed_from_the_browser_is_endpointed_judged_and_stored(kiosk, answer_wav, rate_hz):
    client, store, _ = kiosk
    token = visit(client)
    start_practice(client, token)
    with client.websocket_connect(f"/api/visits/{token}/answer/stream", headers=ORIGIN) as ws:
        ws.send_json({"type": "start", "sample_rate_hz": rate_hz})
        for frame in frames(load(answer_wav), rate_hz):  # the answer, then 2.5 s of silence
            ws.send_bytes(frame)
        assert ws.receive_json()["type"] == "ended"  # the server heard the end itself
        message = ws.receive_json()
    assert message["type"] == "turn", message
    assert "sorry" in message["turn"]["transcript"].lower()
    assert message["line"]["index"] == 1
    assert 0.3 < message["answer"]["speech_start_s"] < message["answer"]["speech_end_s"] < 12
    [summary] = store.sessions()
    assert summary.turns == 1
    assert client.get(f"/api/visits/{token}/answers/0.wav").status_code == 200


def test_the_trainee_tap_ends_a_streamed_answer(kiosk, answer_wav):
    client, _, _ = kiosk
    token = visit(client)
    start_practice(client, token)
    speech = frames(load(answer_wav), 16000)[:-60]  # cut before the silence would end it
    with client.websocket_connect(f"/api/visits/{token}/answer/stream", headers=ORIGIN) as ws:
        ws.send_json({"type": "start", "sample_rate_hz": 16000})
        for frame in speech:
            ws.send_bytes(frame)
        ws.send_json({"type": "stop"})
        assert ws.receive_json()["type"] == "ended"
        assert ws.receive_json()["type"] == "turn"


def test_silence_is_one_sentence_and_nothing_is_stored(kiosk):
    client, store, _ = kiosk
    token = visit(client)
    start_practice(client, token)
    with client.websocket_connect(f"/api/visits/{token}/answer/stream", headers=ORIGIN) as ws:
        ws.send_json({"type": "start", "sample_rate_hz": 16000})
        for _ in range(300):  # 9.6 s: past the no-speech timeout
            ws.send_bytes(np.zeros(512, "<i2").tobytes())
        assert ws.receive_json()["type"] == "ended"
        error = ws.receive_json()
    assert error["type"] == "error" and error["status"] == 422 and "didn't hear" in error["error"]
    assert store.sessions() == []


def test_refusals(kiosk):
    client, _, _ = kiosk
    with pytest.raises(WebSocketDisconnect):  # another site's page
        with client.websocket_connect("/api/visits/x/answer/stream", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    with client.websocket_connect("/api/visits/nope/answer/stream", headers=ORIGIN) as ws:
        assert ws.receive_json()["status"] == 404
    token = visit(client)
    with client.websocket_connect(f"/api/visits/{token}/answer/stream", headers=ORIGIN) as ws:
        assert ws.receive_json()["status"] == 409  # no scenario chosen yet
    start_practice(client, token)
    with client.websocket_connect(f"/api/visits/{token}/answer/stream", headers=ORIGIN) as ws:
        ws.send_bytes(b"\0\0" * 512)  # audio before saying its rate
        message = ws.receive_json()
    assert message["type"] == "error" and message["status"] == 400 and "\n" not in message["error"]
