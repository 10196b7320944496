"""The browser's answer streamed: microphone frames over a WebSocket into the session's stream.

The page captures with an AudioWorklet and sends mono int16 frames as they are captured, at its
audio context's rate (browsers differ: 48 kHz, 44.1 kHz, or 16 kHz where the page may choose).
Here they are resampled to 16 kHz with libsoxr's streaming resampler and go into
``PracticeSession.listen()``'s ``AnswerStream``, the same endpointing and streaming
transcription as the terminal; the moment the answer ends the page is told to stop its
microphone and the turn is judged: no waiting in the browser for 1.5 s of quiet, no upload, no
batch transcription.

Messages, browser to server: first ``{"type": "start", "sample_rate_hz": N}``, then binary frames
(int16 little-endian PCM, mono, at that rate); the text ``{"type": "stop"}`` when the trainee
taps "I've finished". Server to browser: ``{"type": "ended"}`` when the answer is over (the page
shows "one moment"), then ``{"type": "turn", ...}`` (the upload route's JSON, with where the
speech lay on the capture clock) or ``{"type": "error", "status": N, "error": "sentence"}``, and
the socket closes. A socket that drops before the answer ends abandons it: nothing is judged or
stored, as with an upload that never arrived.
"""

from __future__ import annotations

import json

import numpy as np
import soxr
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool

from audio.answer_stream import AnswerStream
from audio.clip import TARGET_RATE_HZ
from kiosk.errors import StoreError
from kiosk.session import AnswerError
from kiosk.web.answers import room_config
from kiosk.web.practice import judge_turn, turn_json
from kiosk.web.state import NotReady

router = APIRouter(prefix="/api")

MAX_FRAME_BYTES = 64 * 1024
"""A frame is tens of milliseconds of audio (a few kB); anything far larger is not the page."""
MIN_RATE_HZ, MAX_RATE_HZ = 8000, 192000


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def same_origin(websocket: WebSocket) -> bool:
    """A WebSocket is not covered by CORS, so another site's page could open one to this
    server: only the kiosk's own page (same scheme-less host and port) is let in."""
    origin = websocket.headers.get("origin", "")
    host = websocket.headers.get("host", "")
    return bool(host) and origin.split("://", 1)[-1] == host


async def _receive_answer(websocket: WebSocket, stream: AnswerStream) -> bool:
    """Feed frames until the answer ends (True) or the trainee taps "I've finished" (True);
    False when the page went away first."""
    resampler: soxr.ResampleStream | None = None
    while not stream.done:
        try:
            message = await websocket.receive()
        except WebSocketDisconnect:
            return False
        if message["type"] == "websocket.disconnect":
            return False
        data = message.get("bytes")
        if data is not None:
            if resampler is None or len(data) > MAX_FRAME_BYTES or len(data) % 2:
                raise Refused(400, "The page sent audio the kiosk cannot use: please reload and try again.")
            samples = resampler.resample_chunk(np.frombuffer(data, "<i2").astype(np.float32) / 32768.0)
            await run_in_threadpool(stream.insert_audio_chunk, samples)
            continue
        try:
            control = json.loads(message.get("text") or "")
        except ValueError:
            control = None
        kind = control.get("type") if isinstance(control, dict) else None
        if kind == "stop":
            return True
        rate = control.get("sample_rate_hz") if kind == "start" else None
        if not isinstance(rate, int) or not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
            raise Refused(400, "The page sent audio the kiosk cannot use: please reload and try again.")
        resampler = soxr.ResampleStream(rate, TARGET_RATE_HZ, 1, dtype="float32")
    return True


@router.websocket("/visits/{token}/answer/stream")
async def answer_stream(websocket: WebSocket, token: str) -> None:
    if not same_origin(websocket):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    kiosk = websocket.app.state.kiosk
    stream: AnswerStream | None = None
    try:
        visit = kiosk.visit(token)
        if visit is None:
            raise Refused(404, "This practice has ended (the kiosk was idle): please start again.")
        kiosk.ready()
        if visit.practice is None or visit.practice.finished:
            raise Refused(409, "Choose a scenario first.")
        stream = visit.practice.listen(room_config(kiosk.settings))
        if not await _receive_answer(websocket, stream):
            stream.close()
            return
        await websocket.send_json({"type": "ended", "sample_rate_hz": TARGET_RATE_HZ})
        recording = stream.recording()
        record = await run_in_threadpool(judge_turn, kiosk, visit, recording, stream)
        stream = None  # judged: answer() finished it
        # Where the speech lay on the page's capture clock, for the latency benchmark.
        heard = {"speech_start_s": recording.speech_start_s, "speech_end_s": recording.speech_end_s}
        await websocket.send_json({"type": "turn", **turn_json(token, visit, record), "answer": heard})
    except WebSocketDisconnect:
        pass
    except (Refused, AnswerError, NotReady, StoreError) as exc:
        status = exc.status if isinstance(exc, Refused) else {AnswerError: 422, NotReady: 503}.get(type(exc), 503)
        message = (
            str(exc)
            if not isinstance(exc, StoreError)
            else (
                "The kiosk could not use its database just now, so this answer was not saved: please try "
                "again in a moment. Everything saved before is safe."
            )
        )
        await _send_quietly(websocket, {"type": "error", "status": status, "error": message[:1].upper() + message[1:]})
    finally:
        if stream is not None:
            stream.close()
    await _close_quietly(websocket)


async def _send_quietly(websocket: WebSocket, data: dict) -> None:
    try:
        await websocket.send_json(data)
    except (WebSocketDisconnect, RuntimeError):  # the page already went away
        pass


async def _close_quietly(websocket: WebSocket) -> None:
    try:
        await websocket.close()
    except RuntimeError:  # already closed by the page
        pass
