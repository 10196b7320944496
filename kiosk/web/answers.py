"""Getting a recorded answer into the session engine: a browser upload or this machine's microphone.

Both end as an ``audio.capture.Recording`` made by the same VAD endpointing the terminal kiosk
uses, so an answer is trimmed and judged identically whichever way it came. A browser that can
stream sends its frames over a WebSocket instead (kiosk.web.live); the upload stays for
recorded files and browsers without AudioWorklet or WebSocket.
"""

from __future__ import annotations

import errno
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from audio.answer_stream import AnswerStream, record_streaming
from audio.capture import Recording, record_answer
from audio.clip import AudioError, AudioTooLong, load
from audio.devices import Microphone
from audio.source import AudioChunk, chunks_from_clip
from audio.vad import EndpointConfig

log = logging.getLogger(__name__)

ACCEPTED = {
    "audio/webm": "WebM",
    "audio/ogg": "Ogg",
    "audio/wav": "WAV",
    "audio/x-wav": "WAV",
    "audio/wave": "WAV",
    "audio/mpeg": "MP3",
    "audio/flac": "FLAC",
    "audio/mp4": "MP4",
    "video/webm": "WebM",  # some browsers label an audio-only MediaRecorder blob this way
}
"""Declared types accepted for an answer (MediaRecorder gives WebM/Opus in Chromium and Firefox,
MP4/AAC in Safari); anything else is refused before a byte of it is decoded."""


MAX_UPLOAD_S = 120.0
"""Audio decoded from one upload at most: answers are endpointed at 90 s, so more is never an answer.
Decoding stops here, so a small file that expands to hours (silence compresses ~100:1 in FLAC)
costs two minutes of audio, not hours."""


class UploadError(Exception):
    """An upload refused before decoding; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sniff(head: bytes) -> str | None:
    """The container a file's first bytes announce, or None: the declared type is not trusted."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "WebM"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3"
    if head[4:8] == b"ftyp":
        return "MP4"
    return None


def check_type(content_type: str | None) -> None:
    base = (content_type or "").split(";")[0].strip().lower()
    if base not in ACCEPTED:
        raise UploadError(
            415,
            f"That is not a recording the kiosk can use ({base or 'no type given'}): "
            f"send WebM, Ogg, WAV, MP3, FLAC or MP4 audio.",
        )


def _mb(size: int) -> str:
    mb = size / (1024 * 1024)
    return f"{mb:.1f} MB" if mb < 10 else f"{mb:.0f} MB"


def too_large(size: int, limit: int) -> UploadError:
    return UploadError(
        413,
        f"The recording is too large ({_mb(size)}; the limit is {_mb(limit)}): "
        f"keep an answer under a minute and a half.",
    )


async def read_body(request, limit: int) -> bytes:
    """The request body, refused as soon as it passes ``limit`` bytes (never held whole)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large(int(declared), limit)
    body = bytearray()
    async for piece in request.stream():
        body += piece
        if len(body) > limit:
            raise too_large(len(body), limit)
    if not body:
        raise UploadError(400, "The recording was empty: please try again.")
    return bytes(body)


def _disk_error(exc: OSError) -> UploadError:
    if exc.errno == errno.ENOSPC:
        return UploadError(
            507,
            "The kiosk's disk is full, so it cannot take this answer: please tell a "
            "trainer. Everything saved before is safe.",
        )
    return UploadError(503, "The kiosk could not store this answer for judging: please try again.")


def recording_from_upload(data: bytes, scratch: Path, noisy: bool = False) -> Recording:
    """Decode an uploaded answer (any format PyAV reads) and endpoint it like a live microphone,
    except that a pause never ends it: the browser (or the trainee's tap) already decided where
    the answer ends, and a thinking pause longer than the server's 0.7 s must not cut it."""
    kind = sniff(data[:16])
    if kind is None:
        raise UploadError(
            415, "That file is not audio the kiosk recognises: send WebM, Ogg, WAV, MP3, FLAC or MP4 audio."
        )
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix="answer-", suffix=f".{kind.lower()}", dir=scratch)
    except OSError as exc:
        raise _disk_error(exc) from exc
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as exc:
            raise _disk_error(exc) from exc
        try:
            clip = load(tmp, max_duration_s=MAX_UPLOAD_S)
        except AudioTooLong as exc:
            raise UploadError(
                413,
                f"The recording is longer than {MAX_UPLOAD_S / 60:.0f} minutes: keep an "
                f"answer under a minute and a half.",
            ) from exc
        except AudioError as exc:
            raise UploadError(422, f"The recording could not be read ({kind}): please try again.") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    return record_answer(chunks_from_clip(clip), EndpointConfig.for_room(noisy, push_to_talk=True))


def _until(chunks: Iterator[AudioChunk], stop: threading.Event) -> Iterator[AudioChunk]:
    for chunk in chunks:
        if stop.is_set():
            return
        yield chunk


def recording_from_microphone(
    device: str | None,
    stop: threading.Event,
    on_level: Callable[[float], None],
    config: EndpointConfig = EndpointConfig(),
    stream: AnswerStream | None = None,
) -> Recording:
    """Record from this machine's microphone until the trainee stops talking, or ``stop`` is set
    (the trainee tapped "done"). With ``stream`` (a ``listen()`` made with the same ``config``)
    the answer is endpointed on its words and transcribed while it is spoken. Raises
    audio.devices.DeviceError when there is no microphone."""
    index = int(device) if device and device.isdigit() else (device or None)
    with Microphone(index) as mic:
        chunks = _until(mic.chunks(), stop)
        if stream is None:
            return record_answer(chunks, config, on_level=on_level)
        return record_streaming(chunks, stream, on_level)


def from_server_microphone(request) -> bool:
    return request.query_params.get("source") == "server"


def room_config(settings) -> EndpointConfig:
    """The endpointing of a live answer on this kiosk (its noisy-store and push-to-talk settings)."""
    return EndpointConfig.for_room(settings.noisy_store, settings.push_to_talk)


async def recording_from_request(request, settings, holder, stream: AnswerStream | None = None) -> Recording:
    """The answer a request brings: its body (browser recording), or, with ``?source=server``,
    this machine's microphone (fed to ``stream`` when given, made with ``room_config``).
    ``holder`` (a visit or a round) receives the live level and can be stopped early."""
    from starlette.concurrency import run_in_threadpool

    if from_server_microphone(request):
        if settings.record_mode != "server":
            raise UploadError(400, "This kiosk records in the browser, not with its own microphone.")
        holder.stop.clear()

        def level(db: float) -> None:
            holder.level_db = db

        try:
            return await run_in_threadpool(
                recording_from_microphone, settings.input_device, holder.stop, level, room_config(settings), stream
            )
        finally:
            holder.level_db = -100.0
    check_type(request.headers.get("content-type"))
    data = await read_body(request, settings.max_upload_bytes)
    return await run_in_threadpool(recording_from_upload, data, settings.data_dir / "tmp", settings.noisy_store)
