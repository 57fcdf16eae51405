"""The routes of ``moodscape serve``: the page, the API docs, ``GET /api/health``, ``GET /api/models`` and
``POST /api/predict``. Each reads the one :class:`Server` of its app (``request.app.state.server``)."""

from __future__ import annotations

import hmac
import math
import shutil
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..inference.catalog import ModelInfo
from ..inference.predictor import Predictor
from ..version import __version__
from .limits import Limits
from .pool import Busy, InferencePool
from .uploads import FileError, predict_files, save_upload

STATIC = Path(str(resources.files("moodscape") / "serve" / "static"))
BEARER = HTTPBearer(auto_error=False)


@dataclass
class Server:
    """What every request shares: the loaded model, the limits, the token and the inference pool."""

    predictor: Predictor
    model: ModelInfo
    limits: Limits
    pool: InferencePool
    token: str | None = None
    temp_dir: str | Path | None = None
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=20))  # recent predictions, for Retry-After

    def retry_after(self) -> int:
        """Seconds until a full queue has likely drained."""
        mean = sum(self.durations) / len(self.durations) if self.durations else 5.0
        return max(1, math.ceil(mean * self.pool.capacity / max(self.limits.workers, 1)))


def server(request: Request) -> Server:
    return request.app.state.server


def authorise(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]) -> None:  # fmt: skip
    """With a token set, the API needs ``Authorization: Bearer <token>``."""
    token = server(request).token
    if token is None:
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise HTTPException(401, "this server needs a token: send 'Authorization: Bearer <token>'",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


router = APIRouter()


@router.get("/", include_in_schema=False)
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/docs", include_in_schema=False)
def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="moodscape API",
                               swagger_js_url="/static/swagger/swagger-ui-bundle.js",
                               swagger_css_url="/static/swagger/swagger-ui.css",
                               swagger_favicon_url="/static/favicon.svg")  # fmt: skip


@router.get("/api/health", summary="Liveness and load")
def health(request: Request) -> dict[str, Any]:
    s = server(request)
    limits = s.limits
    return {"status": "ok", "version": __version__, "model": s.model.name, "pending": s.pool.pending,
            "capacity": s.pool.capacity, "token_required": s.token is not None,
            "limits": {"max_file_mb": limits.max_file_mb, "max_seconds": limits.max_seconds,
                       "max_files": limits.max_files, "timeout_seconds": limits.timeout_seconds}}  # fmt: skip


@router.get("/api/models", summary="The model this server predicts with", dependencies=[Depends(authorise)])
def models(request: Request) -> list[dict[str, Any]]:
    s = server(request)
    return [{**asdict(s.model), "path": str(s.model.path), "description": s.predictor.backend.description}]


@router.post("/api/predict", summary="Valence, arousal, quadrant and mood of uploaded audio files",
             dependencies=[Depends(authorise)])  # fmt: skip
async def predict(
    request: Request,
    files: Annotated[list[UploadFile], File(description="Audio files (repeat the field for several).")],
    timeline: Annotated[bool, Form(description="Add each file's per-window timeline.")] = False,
    tags: Annotated[bool, Form(description="Add the top tags of the shipped musicnn taggers (genres, moods, "
                                           "instruments).")] = False,
) -> JSONResponse:
    """The fields of ``moodscape predict --out x.json`` for each file in ``predictions``; a file that
    fails is listed in ``errors`` with its status and reason while the others complete. When every file
    fails, the answer carries their status (422 when they differ)."""
    s = server(request)
    limits = s.limits
    if not files:
        raise HTTPException(400, "no files: send audio in the multipart field 'files'")
    if len(files) > limits.max_files:
        raise HTTPException(400, f"{len(files)} files; this server takes up to {limits.max_files} per request")
    folder = Path(tempfile.mkdtemp(prefix="moodscape-serve-", dir=s.temp_dir))
    try:
        staged, results = [], []
        for index, upload in enumerate(files):
            try:
                staged.append(save_upload(upload, folder, index, limits))
                results.append(None)
            except FileError as exc:
                results.append(exc)
        began = time.perf_counter()
        try:
            predicted = iter(await s.pool.run(lambda: predict_files(s.predictor, staged, limits, timeline, tags),
                                              timeout=limits.timeout_seconds)) if staged else iter(())  # fmt: skip
        except Busy:
            return JSONResponse({"detail": "the server is busy; retry later"}, status_code=503,
                                headers={"Retry-After": str(s.retry_after())})  # fmt: skip
        except TimeoutError:
            return JSONResponse({"detail": f"prediction took longer than {limits.timeout_seconds:g} s"},
                                status_code=504)  # fmt: skip
        s.durations.append(time.perf_counter() - began)
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
