"""The web page and HTTP API of ``moodscape serve``: one model loaded once, predictions in a bounded pool.

Routes: ``/`` (the page), ``POST /api/predict``, ``GET /api/health``, ``GET /api/models``, ``/docs`` and
``/openapi.json``. Everything the page and the docs need is served from ``static/`` (no CDN).
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import math
import shutil
import tempfile
import time
from collections import deque
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..audio.io import probe_audio
from ..errors import MoodscapeError
from ..inference.catalog import ModelInfo
from ..inference.predictor import Predictor
from ..version import __version__
from .limits import SNIFF_BYTES, Limits, sniff_audio
from .pool import Busy, InferencePool

log = logging.getLogger(__name__)

STATIC = Path(str(resources.files("moodscape") / "serve" / "static"))
BEARER = HTTPBearer(auto_error=False)
_CHUNK = 1 << 20


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with a JSON 413: at once when Content-Length says so,
    else as soon as the streamed body passes it (so a client cannot fill the disk by not saying). Past
    the limit the app is told the client left, and whatever it answers is replaced by the 413."""

    def __init__(self, app: Any, limit: int, message: str) -> None:
        self.app, self.limit, self.message = app, limit, message

    async def _refuse(self, send: Any) -> None:
        await JSONResponse({"detail": self.message}, status_code=413)({"type": "http"}, None, send)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._refuse(send)
        seen, over, refused = 0, False, False

        async def counted() -> Any:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Any) -> None:
            nonlocal refused
            if not over:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(send)

        try:
            await self.app(scope, counted, answered)
        except Exception:
            if not over:
                raise
        if over and not refused:
            await self._refuse(send)


class FileError(Exception):
    """One uploaded file that cannot be predicted, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _save_upload(upload: UploadFile, folder: Path, index: int, limits: Limits) -> tuple[str, Path]:
    """Copy one upload into ``folder`` after checking its size and its first bytes; (name, path)."""
    name = Path(upload.filename or f"file {index + 1}").name
    source = upload.file
    source.seek(0)
    head = source.read(SNIFF_BYTES)
    if not head:
        raise FileError(400, f"{name}: empty file (0 bytes)")
    kind = sniff_audio(head)
    if kind is None:
        raise FileError(415, f"{name}: not an audio file moodscape reads (WAV, FLAC, MP3, OGG/Opus, AIFF, AU, CAF)")
    path = folder / f"{index}.{kind}"
    size = 0
    source.seek(0)
    with path.open("wb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > limits.max_file_bytes:
                raise FileError(413, f"{name}: larger than the server's limit of {limits.max_file_mb:g} MB")
            out.write(chunk)
    return name, path


def _predict_files(predictor: Predictor, files: list[tuple[str, Path]], limits: Limits, timeline: bool,
                   tags: bool = False) -> list:  # fmt: skip
    """Each file's prediction dict (``path`` is the uploaded name) or its FileError; never raises."""
    out: list[dict[str, Any] | FileError] = []
    for name, path in files:
        try:
            seconds = probe_audio(path).duration
            if seconds > limits.max_seconds:
                raise FileError(422, f"{name}: {seconds / 60:.1f} minutes long; this server takes up to "
                                     f"{limits.max_seconds / 60:g} minutes per file")  # fmt: skip
            result = predictor.predict(path, timeline=timeline, tags=tags)
            result.path = name
            out.append(result.to_dict(timeline=timeline))
        except FileError as exc:
            out.append(exc)
        except MoodscapeError as exc:
            out.append(FileError(422, str(exc).replace(str(path), name)))
        except Exception as exc:  # noqa: BLE001 - one file's crash is its own error; the others and the server go on
            log.exception("prediction of %s failed", name)
            out.append(FileError(500, f"{name}: prediction failed ({type(exc).__name__}); see the server log"))
    return out


def create_app(
    predictor: Predictor, model: ModelInfo, *, limits: Limits | None = None, token: str | None = None,
    temp_dir: str | Path | None = None,
) -> FastAPI:  # fmt: skip
    """The app around an already loaded ``predictor``. ``token``: when set, the API (not the page or the
    health check) needs ``Authorization: Bearer <token>``. ``temp_dir``: where uploads are staged (each
    request's folder is removed when it ends)."""
    limits = limits or Limits()
    pool = InferencePool(workers=limits.workers, queue=limits.queue)
    durations: deque[float] = deque(maxlen=20)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.close()

    app = FastAPI(
        title="moodscape", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
        description="Valence and arousal of music, song by song and second by second. "
        f"Model: {model.name} ({model.kind}).",
    )  # fmt: skip
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=limits.max_request_bytes,
                       message=f"upload larger than the server's limit ({limits.max_file_mb:g} MB per file, "
                               f"{limits.max_files} files per request)")  # fmt: skip
    def authorise(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:
        if token is None:
            return
        given = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(401, "this server needs a token: send 'Authorization: Bearer <token>'",
                                headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg'].lower()}"
                             for e in exc.errors())  # fmt: skip
        if any(e["loc"][1:] == ("files",) and e["type"] == "missing" for e in exc.errors()):
            problems = "no files: send audio in the multipart field 'files'"
        return JSONResponse({"detail": problems}, status_code=400)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s %s failed", request.method, request.url.path)
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="moodscape API",
                                   swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                                   swagger_css_url="/static/swagger/swagger-ui.css",
                                   swagger_favicon_url="/static/favicon.svg")  # fmt: skip

    @app.get("/api/health", summary="Liveness and load")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "model": model.name, "pending": pool.pending,
                "capacity": pool.capacity, "token_required": token is not None,
                "limits": {"max_file_mb": limits.max_file_mb, "max_seconds": limits.max_seconds,
                           "max_files": limits.max_files, "timeout_seconds": limits.timeout_seconds}}  # fmt: skip

    @app.get("/api/models", summary="The model this server predicts with", dependencies=[Depends(authorise)])
    def models() -> list[dict[str, Any]]:
        return [{**asdict(model), "path": str(model.path), "description": predictor.backend.description}]

    @app.post("/api/predict", summary="Valence, arousal, quadrant and mood of uploaded audio files",
              dependencies=[Depends(authorise)])  # fmt: skip
    async def predict(
        files: Annotated[list[UploadFile], File(description="Audio files (repeat the field for several).")],
        timeline: Annotated[bool, Form(description="Add each file's per-window timeline.")] = False,
        tags: Annotated[bool, Form(description="Add the top tags of the shipped musicnn taggers (genres, moods, "
                                               "instruments).")] = False,
    ) -> JSONResponse:
        """The fields of ``moodscape predict --out x.json`` for each file in ``predictions``; a file that
        fails is listed in ``errors`` with its status and reason while the others complete. When every file
        fails, the answer carries their status (422 when they differ)."""
        if not files:
            raise HTTPException(400, "no files: send audio in the multipart field 'files'")
        if len(files) > limits.max_files:
            raise HTTPException(400, f"{len(files)} files; this server takes up to {limits.max_files} per request")
        folder = Path(tempfile.mkdtemp(prefix="moodscape-serve-", dir=temp_dir))
        try:
            staged, results = [], []
            for index, upload in enumerate(files):
                try:
                    staged.append(_save_upload(upload, folder, index, limits))
                    results.append(None)
                except FileError as exc:
                    results.append(exc)
            began = time.perf_counter()
            try:
                predicted = iter(await pool.run(lambda: _predict_files(predictor, staged, limits, timeline, tags),
                                                timeout=limits.timeout_seconds)) if staged else iter(())  # fmt: skip
            except Busy:
                retry = max(1, math.ceil((sum(durations) / len(durations) if durations else 5.0) * pool.capacity
                                         / max(limits.workers, 1)))  # fmt: skip
                return JSONResponse({"detail": "the server is busy; retry later"}, status_code=503,
                                    headers={"Retry-After": str(retry)})  # fmt: skip
            except TimeoutError:
                return JSONResponse({"detail": f"prediction took longer than {limits.timeout_seconds:g} s"},
                                    status_code=504)  # fmt: skip
            durations.append(time.perf_counter() - began)
            results = [next(predicted) if r is None else r for r in results]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        predictions = [r for r in results if isinstance(r, dict)]
        errors = [{"file": Path(files[i].filename or "").name, "status": r.status, "error": str(r)}
                  for i, r in enumerate(results) if isinstance(r, FileError)]  # fmt: skip
        if predictions:
            return JSONResponse({"predictions": predictions, "errors": errors})
        statuses = {e["status"] for e in errors}
        status = statuses.pop() if len(statuses) == 1 else 422
        return JSONResponse({"detail": errors[0]["error"], "predictions": [], "errors": errors}, status_code=status)

    app.state.pool = pool
    return app
