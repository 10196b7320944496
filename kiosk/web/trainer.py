"""Trainer pages behind a PIN: roster, history per trainee and per scenario, CSV export, deleting a
trainee's data, and workshop rounds (one customer, several trainees answering in turn).

Every route here except the login page depends on ``require_trainer``: without a live trainer
session a page request is redirected to the PIN page and anything else gets 401. Form posts and
the round API carry the session's CSRF token.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from kiosk.history import export_csv, load_history, render_history_html, slug
from kiosk.report import environment, render_session_html
from kiosk.session import PracticeSession
from kiosk.store import clean_name
from kiosk.web.answers import recording_from_request
from kiosk.web.auth import SESSION_IDLE_S, TrainerSession, csrf_ok, verify_pin
from kiosk.web.state import Kiosk, Round

router = APIRouter(prefix="/trainer")
COOKIE = "kiosk_trainer"
TEMPLATES = Path(__file__).with_name("templates")


def _kiosk(request: Request) -> Kiosk:
    return request.app.state.kiosk


def _page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """A trainer page; it logs itself out after the kiosk's idle timeout (a shared screen)."""
    context.setdefault("idle_s", _kiosk(request).settings.idle_timeout_s)
    html = environment(TEMPLATES).get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def require_trainer(request: Request) -> TrainerSession:
    session = _kiosk(request).trainer_sessions.get(request.cookies.get(COOKIE))
    if session is None:
        raise HTTPException(401, "Trainer PIN required.")
    return session


async def _form(request: Request, session: TrainerSession) -> dict:
    form = dict(await request.form())
    if not csrf_ok(session, form.get("csrf") or request.headers.get("x-csrf-token")):
        raise HTTPException(403, "This form has expired: reload the page and try again.")
    return form


def _check_header(request: Request, session: TrainerSession) -> None:
    if not csrf_ok(session, request.headers.get("x-csrf-token")):
        raise HTTPException(403, "This page has expired: reload it and try again.")


# Login


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request) -> HTMLResponse:
    return _page(request, "login.html", enabled=_kiosk(request).settings.trainer_enabled)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    kiosk = _kiosk(request)
    if not kiosk.settings.trainer_enabled:
        return _page(request, "login.html", 403, enabled=False)
    client = request.client.host if request.client else "unknown"
    wait = kiosk.pin_throttle.wait_s(client)
    if wait > 0:
        return _page(
            request,
            "login.html",
            429,
            enabled=True,
            error=f"Too many wrong PINs. Try again in {max(1, round(wait / 60))} minute(s).",
        )
    pin = str((await request.form()).get("pin", ""))
    if not await run_in_threadpool(verify_pin, pin, kiosk.settings.trainer_pin_hash):
        kiosk.pin_throttle.fail(client)
        return _page(request, "login.html", 401, enabled=True, error="That PIN is not right.")
    kiosk.pin_throttle.succeed(client)
    token, _ = kiosk.trainer_sessions.create()
    response = RedirectResponse("/trainer", status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/trainer")
    return response


@router.post("/logout")
async def logout(request: Request, session: TrainerSession = Depends(require_trainer)) -> Response:
    await _form(request, session)
    _kiosk(request).trainer_sessions.end(request.cookies.get(COOKIE))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/trainer")
    return response


# Roster, history, export, delete


@router.get("", response_class=HTMLResponse)
def roster(request: Request, session: TrainerSession = Depends(require_trainer), deleted: str = "") -> HTMLResponse:
    store = _kiosk(request).store
    return _page(
        request,
        "roster.html",
        csrf=session.csrf,
        roster=store.roster(),
        scenarios=store.scenario_stats(),
        deleted=deleted,
    )


@router.get("/trainees/{trainee_id}", response_class=HTMLResponse)
def trainee_page(request: Request, trainee_id: int, session: TrainerSession = Depends(require_trainer)) -> HTMLResponse:
    history = load_history(_kiosk(request).store, trainee_id, last=0)
    body = render_history_html(history, link=lambda sid: f"/trainer/sessions/{sid}")
    return _page(request, "trainee.html", csrf=session.csrf, t=history.trainee, body=body)


@router.get("/sessions/{session_id}", response_class=HTMLResponse)
def session_page(request: Request, session_id: int, session: TrainerSession = Depends(require_trainer)) -> HTMLResponse:
    kiosk = _kiosk(request)
    try:
        report = kiosk.store.session_report(session_id)
    except KeyError:
        raise HTTPException(404, "No such session.") from None
    # Kept recordings (the trainee opted in) play and download from here, behind the PIN only.
    audio = {
        "answers": [
            f"/trainer/sessions/{session_id}/answers/{n}.wav" if t.get("audio_kept") else None
            for n, t in enumerate(report["turns"])
        ],
        "download": True,
    }
    model = None
    if kiosk.library is not None and report["scenario_id"] in kiosk.library.scenarios:
        model = kiosk.library.get(report["scenario_id"]).model_answer
    return _page(request, "session.html", csrf=session.csrf, s=report, body=render_session_html(report, audio, model))


@router.get("/sessions/{session_id}/answers/{index}.wav")
def kept_recording(
    request: Request, session_id: int, index: int, session: TrainerSession = Depends(require_trainer)
) -> FileResponse:
    """A kept answer, by session and turn: the path comes from the store, never from the URL."""
    path = _kiosk(request).store.turn_audio(session_id, index)
    if not path or not Path(path).is_file():
        raise HTTPException(404, "No recording was kept of this answer.")
    return FileResponse(
        path,
        media_type="audio/wav",
        filename=f"session-{session_id}-answer-{index + 1}.wav",
        content_disposition_type="inline",
        headers={"Cache-Control": "no-store"},
    )


@router.post("/trainees/{trainee_id}/delete")
async def delete_trainee(
    request: Request, trainee_id: int, session: TrainerSession = Depends(require_trainer)
) -> Response:
    form = await _form(request, session)
    kiosk = _kiosk(request)
    trainee = kiosk.store.trainee(trainee_id)
    if form.get("confirm") != "yes":
        raise HTTPException(400, "Tick the box to confirm that all of this trainee's practice should be deleted.")
    kiosk.end_visits_of(trainee_id)
    kiosk.store.delete_trainee(trainee_id)
    return RedirectResponse(f"/trainer?deleted={slug(trainee.name)}", status_code=303)


@router.get("/export.csv")
def export(request: Request, session: TrainerSession = Depends(require_trainer)) -> Response:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M")
    return Response(
        export_csv(_kiosk(request).store),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="kiosk-practice-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


# Workshop rounds


@router.get("/rounds", response_class=HTMLResponse)
def new_round_page(request: Request, session: TrainerSession = Depends(require_trainer)) -> HTMLResponse:
    kiosk = _kiosk(request)
    kiosk.ready()
    return _page(request, "round_new.html", csrf=session.csrf, scenarios=kiosk.library.sorted())


@router.post("/rounds")
async def new_round(request: Request, session: TrainerSession = Depends(require_trainer)) -> Response:
    form = await _form(request, session)
    kiosk = _kiosk(request)
    engines = kiosk.ready()
    scenario = kiosk.library.get(str(form.get("scenario", "")))
    # The opening line is the same whoever answers: synthesized once, played to the room.
    opening = await run_in_threadpool(lambda: PracticeSession(scenario, engines).current_line)
    round_id = kiosk.store.create_round(scenario.id, scenario.title)
    kiosk.rounds[round_id] = Round(round_id, scenario, opening)
    return RedirectResponse(f"/trainer/rounds/{round_id}", status_code=303)


def _round(request: Request, round_id: int) -> Round:
    found = _kiosk(request).rounds.get(round_id)
    if found is None:
        raise HTTPException(404, "This workshop round has ended: start a new one.")
    return found


@router.get("/rounds/{round_id}", response_class=HTMLResponse)
def round_page(request: Request, round_id: int, session: TrainerSession = Depends(require_trainer)) -> HTMLResponse:
    found = _round(request, round_id)
    # A workshop pauses for discussion with the trainer in the room: the round page waits longer.
    return _page(
        request,
        "round.html",
        csrf=session.csrf,
        round=found,
        results=_round_results(request, round_id),
        idle_s=SESSION_IDLE_S,
        record_mode=_kiosk(request).settings.record_mode,
    )


def _round_results(request: Request, round_id: int) -> Markup:
    store = _kiosk(request).store
    reports = [store.session_report(s.id) for s in store.sessions(round_id=round_id, newest_first=False)]
    return Markup(environment(TEMPLATES).get_template("_round_results.html").render(reports=reports))


@router.get("/rounds/{round_id}/results", response_class=HTMLResponse)
def round_results(request: Request, round_id: int, session: TrainerSession = Depends(require_trainer)) -> HTMLResponse:
    _round(request, round_id)
    return HTMLResponse(_round_results(request, round_id), headers={"Cache-Control": "no-store"})


@router.get("/rounds/{round_id}/customer.wav")
def round_customer(request: Request, round_id: int, session: TrainerSession = Depends(require_trainer)) -> FileResponse:
    return FileResponse(_round(request, round_id).opening.audio_path, media_type="audio/wav")


@router.post("/rounds/{round_id}/answers")
async def round_answer(
    request: Request, round_id: int, name: str, session: TrainerSession = Depends(require_trainer)
) -> dict:
    """One trainee's answer to the round's customer (body, or the kiosk's microphone)."""
    _check_header(request, session)
    kiosk = _kiosk(request)
    found = _round(request, round_id)
    kiosk.ready()
    try:
        name = clean_name(name)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    recording = await recording_from_request(request, kiosk.settings, found)

    def judge():
        with found.lock:  # one answer at a time: the results appear in the order people spoke
            trainee, _ = kiosk.store.find_or_create_trainee(name)
            practice = kiosk.practice_for(found.scenario, trainee)
            record, session_id = kiosk.judge(practice, recording, trainee, trainee.keep_audio, None, round_id)
            kiosk.store.finish_session(session_id, practice.result().to_dict())
            return record

    record = await run_in_threadpool(judge)
    return {"name": name, "score": record.score_after, "anger_after": record.reaction.anger_after}


@router.post("/rounds/{round_id}/stop", status_code=204)
def round_stop(request: Request, round_id: int, session: TrainerSession = Depends(require_trainer)) -> Response:
    _check_header(request, session)
    _round(request, round_id).stop.set()
    return Response(status_code=204)


@router.get("/rounds/{round_id}/level")
def round_level(request: Request, round_id: int, session: TrainerSession = Depends(require_trainer)) -> dict:
    return {"level_db": round(_round(request, round_id).level_db, 1)}
