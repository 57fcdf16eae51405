"""Starting the server: the model loaded once, a warning and a token for anything beyond loopback."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path

from ..errors import ConfigError
from ..inference.catalog import ModelInfo, describe_folder, shipped_info, shipped_model
from ..inference.predictor import Predictor
from .limits import Limits

log = logging.getLogger(__name__)

TOKEN_ENV = "MOODSCAPE_TOKEN"


def require_web_stack() -> None:
    """FastAPI and uvicorn come with the ``serve`` extra; say so instead of an ImportError."""
    try:
        import fastapi  # noqa: F401
        import python_multipart  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"moodscape serve needs the web stack ({exc.name} is missing): "
                          "pip install 'moodscape[serve]'") from exc  # fmt: skip


def model_info(source: str | Path | None, predictor: Predictor) -> ModelInfo:
    """What ``/api/models`` says of the served model."""
    if source is None:
        return shipped_model()
    path = Path(source)
    shipped = None if path.exists() else shipped_info(str(source))
    if shipped is not None:
        return shipped
    described = describe_folder(path) if path.is_dir() else None
    if described is not None:
        return described
    kind = predictor.backend.description.split(" ", 1)[0]
    form = "ONNX" if path.suffix == ".onnx" else "Hugging Face Hub" if not path.exists() else "checkpoint"
    return ModelInfo(name=str(source), path=path, kind=kind, form=form, fused=getattr(predictor.backend, "fusion", None)
                     is not None, mb=path.stat().st_size / 1e6 if path.is_file() else 0.0)  # fmt: skip


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    model: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 8000, token: str | None = None,
    limits: Limits | None = None, threads: int | None = None,
) -> None:  # fmt: skip
    """Load ``model`` (the shipped one when None) and serve the page and the API until interrupted."""
    require_web_stack()
    import uvicorn

    from .app import create_app

    token = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host):
        log.warning("serving on %s: anyone who can reach this address can use the model%s", host,
                    "" if token else f"; set a token with --token or {TOKEN_ENV} to require one")  # fmt: skip
    predictor = Predictor.load(model, threads=threads) if model is not None else Predictor.default(threads=threads)
    app = create_app(predictor, model_info(model, predictor), limits=limits, token=token)
    log.info("moodscape serve: http://%s:%d/ (API docs at /docs)", host if ":" not in host else f"[{host}]", port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
