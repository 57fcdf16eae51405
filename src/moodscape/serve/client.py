"""``moodscape.Client``: predictions from a running ``moodscape serve``, in the shape of a local Predictor."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..errors import MoodscapeError
from ..inference.predictor import SongPrediction


class ServerError(MoodscapeError):
    """The server refused or failed a request; ``status`` is its HTTP status (0: not reachable)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """``Client("http://127.0.0.1:8000").predict("song.mp3")`` -> SongPrediction.

    ``token``: the server's bearer token, if it needs one. ``retries``: how often a busy server (503) is
    asked again, after the wait it names. ``http``: an ``httpx.Client`` to use (tests pass the app's).
    """

    def __init__(self, url: str = "http://127.0.0.1:8000", *, token: str | None = None, timeout: float = 600.0,
                 retries: int = 5, http: Any = None) -> None:  # fmt: skip
        import httpx

        self.url, self.retries = url.rstrip("/"), retries
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = http if http is not None else httpx.Client(timeout=timeout)
        self.http.headers.update(headers)

    def _post(self, path: Path, timeline: bool, tags: bool = False) -> dict[str, Any]:
        import httpx

        for attempt in range(self.retries + 1):
            try:
                with path.open("rb") as handle:
                    response = self.http.post(f"{self.url}/api/predict", files={"files": (path.name, handle)},
                                              data={"timeline": str(timeline).lower(), "tags": str(tags).lower()})  # fmt: skip
            except httpx.HTTPError as exc:
                raise ServerError(0, f"{self.url}: not reachable ({exc}); is `moodscape serve` running?") from exc
            if response.status_code == 503 and attempt < self.retries:
                time.sleep(float(response.headers.get("Retry-After", "5")))
                continue
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:200]}
            if response.status_code != 200:
                raise ServerError(response.status_code, f"{path}: {body.get('detail', response.reason_phrase)}")
            return body["predictions"][0]
        raise ServerError(503, f"{path}: the server stayed busy after {self.retries} retries")

    def predict(self, path: str | Path, *, timeline: bool = False, tags: bool = False) -> SongPrediction:
        """One file; raises ServerError (a MoodscapeError) with the server's reason when it fails."""
        song = self._post(Path(path), timeline, tags)
        song["path"] = str(path)
        return SongPrediction(**song)

    def predict_many(
        self, paths: Iterable[str | Path], *, timeline: bool = False, tags: bool = False
    ) -> Iterator[tuple[Path, SongPrediction | None, str | None]]:
        """(path, prediction, None) or (path, None, reason) per file, as ``Predictor.predict_many``."""
        for path in paths:
            try:
                yield Path(path), self.predict(path, timeline=timeline, tags=tags), None
            except ServerError as exc:
                if exc.status in (0, 401):  # the server, not the file: the rest would fail alike
                    raise
                yield Path(path), None, str(exc)

    def health(self) -> dict[str, Any]:
        return self.http.get(f"{self.url}/api/health").json()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
