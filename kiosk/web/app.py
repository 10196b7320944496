"""The FastAPI application: static kiosk page, trainee API, trainer pages, /healthz.

The server answers at once and loads the speech model in a background thread, so `kiosk serve`
is reachable within about a second and /healthz turns 200 when answers can be judged. Errors the
trainee can act on become JSON ``{"error": "one sentence"}``; nothing ever shows a traceback.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from audio.devices import DeviceError
from kiosk.errors import StoreError
from kiosk.report import REPORT_CSS
from kiosk.session import AnswerError
from kiosk.store import UnknownTrainee
from kiosk.web import live, practice, trainer
from kiosk.web.answers import UploadError
from kiosk.web.state import Kiosk, NotReady
from scenarios.library import ScenarioNotFound

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
SECURITY_HEADERS = {
    # Everything the page needs comes from this server: no CDN, no inline script.
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "style-src 'self'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(kiosk: Kiosk, model: str | None = None) -> FastAPI:
    """The app around a kiosk's state; its engines load in the background unless already given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        kiosk.load_in_background(model)
        try:
            kiosk.recover()
        except StoreError as exc:  # the kiosk still starts; the next write says what is wrong
            log.error("could not close interrupted sessions: %s", exc)
        yield
        for token in list(kiosk.visits):  # shutting down: store how open sessions ended
            try:
                kiosk.end_visit(token)
            except StoreError as exc:  # closed as "incomplete" at the next start instead
                log.error("could not store an ending at shutdown: %s", exc)

    app = FastAPI(
        title="Difficult-customer practice kiosk", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.kiosk = kiosk

    @app.middleware("http")
    async def guard(request: Request, call_next):
        # A page of another site cannot add a custom header without the browser asking first
        # (CORS preflight, which this server never grants): the API's writes require one.
        if (
            request.method in ("POST", "PUT", "DELETE")
            and request.url.path.startswith("/api/")
            and request.headers.get("x-kiosk") != "1"
        ):
            return _error(403, "Requests must come from the kiosk page.")
        response = await call_next(request)
        for key, value in SECURITY_HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        if exc.status_code == 401 and request.method == "GET" and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse("/trainer/login", status_code=303)
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        return _error(422, "The request was incomplete or malformed.")

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError):
        log.error("store: %s", exc)
        return _error(
            503,
            "The kiosk could not use its database just now (busy or out of disk space), so "
            "this step was not saved: please try again in a moment. Everything saved before "
            "is safe.",
        )

    handlers = (
        (UploadError, lambda e: e.status),
        (AnswerError, lambda e: 422),
        (NotReady, lambda e: 503),
        (DeviceError, lambda e: 503),
        (ScenarioNotFound, lambda e: 404),
        (UnknownTrainee, lambda e: 404),
    )
    for cls, status in handlers:

        def handle(request: Request, exc: Exception, status=status):
            message = str(exc)
            return _error(status(exc), message[:1].upper() + message[1:])

        app.add_exception_handler(cls, handle)

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        """200 once answers can be judged; 503 while the model loads; 500 if it cannot load."""
        if kiosk.engines is not None:
            return JSONResponse({"status": "ready"})
        if kiosk.load_error:
            return JSONResponse({"status": "error", "error": kiosk.load_error}, status_code=500)
        return JSONResponse({"status": "starting"}, status_code=503)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/report.css", include_in_schema=False)
    def report_css() -> FileResponse:
        return FileResponse(REPORT_CSS, media_type="text/css")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    app.include_router(practice.router)
    app.include_router(live.router)
    app.include_router(trainer.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
