"""The trainee's API: who is here, calibration, a scenario, answers, feedback, and the audio.

Every route but /api/config and /api/visits is reached through a visit token the page received
when the trainee entered their name; customer lines, replays and feedback are looked up by the
index of a turn inside that visit, never by a path or an id a browser could make up.
"""

from __future__ import annotations

import io
import random
import wave

from fastapi import APIRouter, Body, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from analysis.delivery import CALM_WPM
from audio.answer_stream import AnswerStream
from audio.capture import Recording
from kiosk import plain
from kiosk.report import render_session_html, session_dict
from kiosk.session import CALIBRATION_TEXT, AnswerError, CustomerLine, SessionResult, TurnRecord, measure_baseline
from kiosk.store import clean_name
from kiosk.web.answers import from_server_microphone, recording_from_request, room_config
from kiosk.web.state import MODEL_VOICE, Kiosk, Visit
from scenarios.model import Scenario

router = APIRouter(prefix="/api")


def _kiosk(request: Request) -> Kiosk:
    return request.app.state.kiosk


def _visit(request: Request, token: str) -> Visit:
    visit = _kiosk(request).visit(token)
    if visit is None:
        raise HTTPException(404, "This practice has ended (the kiosk was idle): please start again.")
    return visit


def _line(token: str, index: int, line: CustomerLine, scenario: Scenario) -> dict:
    return {
        "index": index,
        "text": line.text,
        "kind": line.kind,
        "anger": line.anger,
        "customer": scenario.persona.name,
        "audio_url": f"/api/visits/{token}/lines/{index}.wav",
    }


def _scenario(s: Scenario) -> dict:
    return {
        "id": s.id,
        "title": s.title,
        "setting": s.setting.replace("_", " "),
        "difficulty": s.difficulty,
        "customer": s.persona.name,
        "safety": s.safety,
    }


@router.get("/config")
def config(request: Request) -> dict:
    kiosk = _kiosk(request)
    settings = kiosk.settings
    library = kiosk.library
    return {
        "ready": kiosk.engines is not None,
        "error": kiosk.load_error,
        "idle_timeout_s": settings.idle_timeout_s,
        "record_mode": settings.record_mode,
        "push_to_talk": settings.push_to_talk,
        "keep_audio_default": settings.keep_audio_default,
        "max_upload_bytes": settings.max_upload_bytes,
        "calibration_text": CALIBRATION_TEXT,
        "calm_wpm": list(CALM_WPM),
        "trainer": settings.trainer_enabled,
        "scenarios": [_scenario(s) for s in library.sorted()] if library else [],
    }


@router.post("/visits", status_code=201)
def start_visit(request: Request, name: str = Body(...), keep_audio: bool = Body(False)) -> dict:
    """Pick (by name or badge) or create a trainee; returns the visit token the page keeps."""
    kiosk = _kiosk(request)
    try:
        name = clean_name(name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    trainee, new = kiosk.store.find_or_create_trainee(name, keep_audio)
    if trainee.keep_audio != keep_audio:
        kiosk.store.set_keep_audio(trainee.id, keep_audio)
    visit = kiosk.new_visit(trainee, keep_audio)
    return {"visit": visit.token, "name": trainee.name, "new": new, "calibrated": trainee.baseline is not None}


@router.delete("/visits/{token}", status_code=204)
def end_visit(request: Request, token: str) -> Response:
    """The trainee finished or walked away (idle): store the ending and forget them here."""
    _kiosk(request).end_visit(token)
    return Response(status_code=204)


@router.post("/visits/{token}/calibration")
async def calibrate(request: Request, token: str) -> dict:
    kiosk = _kiosk(request)
    visit = _visit(request, token)
    engines = kiosk.ready()
    recording = await recording_from_request(request, kiosk.settings, visit)

    def measure():
        if not recording.has_speech:
            raise AnswerError("I didn't hear anything: please read the sentence out loud")
        return measure_baseline(recording.speech_clip(), engines)

    baseline = await run_in_threadpool(measure)
    kiosk.store.set_baseline(visit.trainee.id, baseline)
    visit.trainee = kiosk.store.trainee(visit.trainee.id)
    return {"baseline": baseline.to_dict()}


@router.post("/visits/{token}/practice", status_code=201)
def start_practice(request: Request, token: str, scenario: str = Body("surprise", embed=True)) -> dict:
    """Start a scenario ("surprise" picks one at random) and give the customer's first line."""
    kiosk = _kiosk(request)
    visit = _visit(request, token)
    kiosk.ready()
    library = kiosk.library
    chosen = random.choice(library.sorted()) if scenario == "surprise" else library.get(scenario)
    with visit.lock:
        kiosk.save_ending(visit)
        practice = kiosk.practice_for(chosen, visit.trainee)
        visit.practice, visit.session_id, visit.saved = practice, None, False
        visit.lines, visit.answers = [practice.current_line], []
    return {"scenario": _scenario(chosen), "line": _line(token, 0, practice.current_line, chosen)}


def turn_json(token: str, visit: Visit, record: TurnRecord) -> dict:
    a, r = record.analysis, record.reaction
    verdicts = [
        {"id": v.id, "status": v.status, "detail": v.detail}
        for v in (a.delivery.speak_slowly, a.delivery.lower_voice)
        if v is not None
    ]
    practice = visit.practice
    return {
        "turn": {
            "index": record.index,
            "transcript": a.transcript.text,
            "score_after": record.score_after,
            "card": record.card.to_dict(),
            "verdicts": verdicts,
            "reaction": {
                "anger_before": r.anger_before,
                "anger_after": r.anger_after,
                "reasons": [plain.reason(x) for x in r.reasons],
                "ending": r.ending,
            },
        },
        "finished": practice.finished,
        "ending": practice.state.ending,
        "line": _line(token, len(visit.lines) - 1, visit.lines[-1], practice.scenario),
    }


@router.post("/visits/{token}/answer")
async def answer(request: Request, token: str) -> dict:
    """One answer: the browser's recording (body) or the kiosk's own microphone (?source=server)."""
    kiosk = _kiosk(request)
    visit = _visit(request, token)
    kiosk.ready()
    if visit.practice is None or visit.practice.finished:
        raise HTTPException(409, "Choose a scenario first.")
    # The kiosk's own microphone is heard live, so the answer is transcribed while it is spoken;
    # an uploaded recording arrives whole and is transcribed on arrival.
    live = from_server_microphone(request)
    stream = visit.practice.listen(room_config(kiosk.settings)) if live else None
    try:
        recording = await recording_from_request(request, kiosk.settings, visit, stream)
    except BaseException:
        if stream is not None:
            stream.close()
        raise
    record = await run_in_threadpool(judge_turn, kiosk, visit, recording, stream)
    return turn_json(token, visit, record)


def judge_turn(kiosk: Kiosk, visit: Visit, recording: Recording, stream: AnswerStream | None) -> TurnRecord:
    """Judge and store one answer of a visit, and queue the customer's reaction line."""
    with visit.lock:
        record, visit.session_id = kiosk.judge(
            visit.practice, recording, visit.trainee, visit.keep_audio, visit.session_id, stream=stream
        )
        visit.answers.append(recording.speech_clip())
        visit.lines.append(visit.practice.current_line)
        if visit.practice.finished:
            kiosk.save_ending(visit)
        return record


@router.post("/visits/{token}/stop", status_code=204)
def stop_recording(request: Request, token: str) -> Response:
    """The trainee tapped "done" while the kiosk's own microphone was recording."""
    _visit(request, token).stop.set()
    return Response(status_code=204)


@router.get("/visits/{token}/level")
def level(request: Request, token: str) -> dict:
    return {"level_db": round(_visit(request, token).level_db, 1)}


@router.get("/visits/{token}/feedback", response_class=HTMLResponse)
def feedback(request: Request, token: str) -> HTMLResponse:
    """The end-of-session feedback as an HTML fragment (the same renderer as the reports)."""
    visit = _visit(request, token)
    if visit.practice is None or not visit.practice.turns:
        raise HTTPException(409, "There is no answer to give feedback on yet.")
    result: SessionResult = visit.practice.result()
    data = session_dict(result, visit.practice.baseline)
    data["trainee"] = {"name": visit.trainee.name}
    audio = {
        "answers": [f"/api/visits/{token}/answers/{i}.wav" for i in range(len(visit.answers))],
        "model": f"/api/visits/{token}/model.wav",
    }
    return HTMLResponse(render_session_html(data, audio, visit.practice.scenario.model_answer))


@router.get("/visits/{token}/lines/{index}.wav")
def customer_audio(request: Request, token: str, index: int) -> FileResponse:
    visit = _visit(request, token)
    if not 0 <= index < len(visit.lines):
        raise HTTPException(404, "No such customer line.")
    return FileResponse(visit.lines[index].audio_path, media_type="audio/wav")


@router.get("/visits/{token}/answers/{index}.wav")
def answer_audio(request: Request, token: str, index: int) -> Response:
    """Replay from memory: the answer is not on disk unless the trainee opted to keep it."""
    visit = _visit(request, token)
    if not 0 <= index < len(visit.answers):
        raise HTTPException(404, "No such answer.")
    return Response(wav_bytes(visit.answers[index]), media_type="audio/wav", headers={"Cache-Control": "no-store"})


@router.get("/visits/{token}/model.wav")
def model_audio(request: Request, token: str) -> FileResponse:
    kiosk = _kiosk(request)
    visit = _visit(request, token)
    if visit.practice is None:
        raise HTTPException(409, "Choose a scenario first.")
    path = kiosk.ready().synthesizer.synthesize_to_file(visit.practice.scenario.model_answer, MODEL_VOICE)
    return FileResponse(path, media_type="audio/wav")


def wav_bytes(clip) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(clip.sample_rate_hz)
        out.writeframes(clip.to_pcm16())
    return buf.getvalue()
