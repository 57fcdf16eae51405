"""The web page and HTTP API of ``moodscape serve``: one model loaded once, predictions in a bounded pool.

:func:`create_app` puts together the routes (:mod:`moodscape.serve.routes`), the body limit
(:mod:`moodscape.serve.middleware`) and the error handlers that answer every failure as JSON. Everything
the page and the docs need is served from ``static/`` (no CDN).
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..inference.catalog import ModelInfo
from ..inference.predictor import Predictor
from ..version import __version__
from .limits import Limits
from .middleware import BodyLimit
from .pool import InferencePool
from .routes import STATIC, Server, router

log = logging.getLogger(__name__)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg'].lower()}"
                         for e in exc.errors())  # fmt: skip
    if any(e["loc"][1:] == ("files",) and e["type"] == "missing" for e in exc.errors()):
        problems = "no files: send audio in the multipart field 'files'"
    return JSONResponse({"detail": problems}, status_code=400)


async def _crash(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request %s %s failed", request.method, request.url.path)
    return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)


def create_app(
    predictor: Predictor, model: ModelInfo, *, limits: Limits | None = None, token: str | None = None,
    temp_dir: str | Path | None = None,
) -> FastAPI:  # fmt: skip
    """The app around an already loaded ``predictor``. ``token``: when set, the API (not the page or the
    health check) needs ``Authorization: Bearer <token>``. ``temp_dir``: where uploads are staged (each
    request's folder is removed when it ends)."""
    limits = limits or Limits()
    pool = InferencePool(workers=limits.workers, queue=limits.queue)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        pool.close()

    app = FastAPI(
        title="moodscape", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
        description="Valence and arousal of music, song by song and second by second. "
        f"Model: {model.name} ({model.kind}).",
    )  # fmt: skip
    app.state.server = Server(predictor, model, limits, pool, token=token, temp_dir=temp_dir)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(BodyLimit, limit=limits.max_request_bytes,
                       message=f"upload larger than the server's limit ({limits.max_file_mb:g} MB per file, "
                               f"{limits.max_files} files per request)")  # fmt: skip
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _crash)
    app.include_router(router)
    return app
