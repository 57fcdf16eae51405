"""ASGI middleware of ``moodscape serve``: the request-body limit."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


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
