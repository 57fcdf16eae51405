"""Serving a model: the web page and the HTTP API."""

from __future__ import annotations

import argparse

from .common import positive_float, positive_int


def _cmd_serve(args: argparse.Namespace) -> int:
    from ..serve.limits import Limits
    from ..serve.run import serve

    limits = Limits(max_file_mb=args.max_file_mb, max_seconds=args.max_minutes * 60, max_files=args.max_files,
                    workers=args.workers, queue=args.queue, timeout_seconds=args.timeout)  # fmt: skip
    serve(args.model, host=args.host, port=args.port, token=args.token, limits=limits, threads=args.threads)
    return 0


def add_commands(commands) -> None:
    """Register this group's subcommands on the top-level subparsers."""
    defaults = _defaults()
    serve = commands.add_parser(
        "serve",
        help="a web page and an HTTP API for mood prediction",
        description="Serve a page (drop audio files, see valence, arousal, quadrant, the trajectory and the timeline of "
        "each; download CSV or JSON) and an HTTP API: POST /api/predict (multipart field 'files', repeatable; "
        "'timeline' flag) returns the fields of `moodscape predict --out x.json`, GET /api/health, GET /api/models, "
        "docs at /docs. The model is loaded once; predictions run in a bounded pool and a full queue answers 503 "
        "with Retry-After. Binds to 127.0.0.1 by default; binding elsewhere warns, and --token (or MOODSCAPE_TOKEN) "
        "makes the API require 'Authorization: Bearer TOKEN'. Needs the serve extra: pip install 'moodscape[serve]'.",
    )
    serve.add_argument("--model", help="run folder, checkpoint folder, exported .onnx or export folder, or Hub name "
                       "(default: the model shipped with moodscape)")  # fmt: skip
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=positive_int, default=8000, help="port (default 8000)")
    serve.add_argument("--token", help="require this bearer token on the API (default: $MOODSCAPE_TOKEN, else none)")
    serve.add_argument("--max-file-mb", type=positive_float, default=defaults.max_file_mb,
                       help=f"largest upload per file in MB (default {defaults.max_file_mb:g})")  # fmt: skip
    serve.add_argument("--max-minutes", type=positive_float, default=defaults.max_seconds / 60,
                       help=f"longest audio per file in minutes (default {defaults.max_seconds / 60:g})")  # fmt: skip
    serve.add_argument("--max-files", type=positive_int, default=defaults.max_files,
                       help=f"files per request (default {defaults.max_files})")  # fmt: skip
    serve.add_argument("--workers", type=positive_int, default=defaults.workers,
                       help=f"requests predicted at once (default {defaults.workers})")  # fmt: skip
    serve.add_argument("--queue", type=int, default=defaults.queue,
                       help=f"requests waiting beyond those; more get 503 (default {defaults.queue})")  # fmt: skip
    serve.add_argument("--timeout", type=positive_float, default=defaults.timeout_seconds,
                       help=f"seconds a request may take (default {defaults.timeout_seconds:g}); then 504")  # fmt: skip
    serve.add_argument("--threads", type=positive_int, help="CPU threads for the model (default: the runtime's)")
    serve.set_defaults(func=_cmd_serve)


def _defaults():
    from ..serve.limits import Limits

    return Limits()
