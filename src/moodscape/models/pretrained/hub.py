"""Finding pretrained weights by name: a local path, then the Hugging Face cache, then the Hub (unless
offline), with retries and backoff on connection errors; only configs and safetensors are fetched.
Any failure is a CheckpointError that lists every tier tried and the fix. Used by every model kind."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from huggingface_hub import constants as hf_constants
from huggingface_hub import snapshot_download
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import validate_repo_id

from ...errors import CheckpointError

logger = logging.getLogger(__name__)

# What the Hub tier fetches: configs and safetensors only, so a pickle is never even downloaded.
HUB_PATTERNS = ("config.json", "*.safetensors", "*.safetensors.index.json")

_sleep = time.sleep  # the backoff sleep; tests replace it


# ------------------------------------------------------------------------ tiers 1 and 2: locate


def _offline_reason() -> str | None:
    """Why the network must not be used, read at call time (the env may change after import)."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(var, "")
        if value.strip().upper() in {"1", "ON", "YES", "TRUE"}:
            return f"{var}={value}"
    if hf_constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE was set when huggingface_hub was imported"
    return None


_TRANSIENT_NAMES = {"TransportError", "ConnectionError", "TimeoutError", "TimeoutException", "Timeout"}


def _is_transient(exc: BaseException) -> bool:
    """A connection problem worth retrying (not: unknown repo, gated repo, bad revision, offline)."""
    seen: set[int] = set()
    err: BaseException | None = exc
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, (OfflineModeIsEnabled, RepositoryNotFoundError, RevisionNotFoundError)):
            return False
        if isinstance(err, HfHubHTTPError):
            status = getattr(getattr(err, "response", None), "status_code", None)
            if status is not None and (status == 429 or status >= 500):
                return True
        if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(err).__mro__):
            return True
        err = err.__cause__ or err.__context__
    return False


def short_error(exc: BaseException) -> str:
    """One line: the error, and its root cause when it has one (e.g. the connection error)."""

    def line(err: BaseException) -> str:
        text = " ".join(str(err).split())
        return f"{type(err).__name__}: {text[:300]}{'...' if len(text) > 300 else ''}"

    root = exc
    for _ in range(10):  # follow `raise ... from` to the original error
        if root.__cause__ is None:
            break
        root = root.__cause__
    return line(exc) if root is exc else f"{line(exc)} (caused by {line(root)})"


def _tiers_error(name: str, tried: list[str], *, hub_name: bool, key: str, random_init: bool = True) -> CheckpointError:
    lines = [f"cannot load {key}={name!r}; tried:"]
    lines += [f"  {i}. {line}" for i, line in enumerate(tried, 1)]
    lines.append(f"Random weights are used only with {key}=none. To fix:" if random_init else "To fix:")
    if hub_name:
        lines.append(
            f"  - download it on a machine with internet: `huggingface-cli download {name}` (or `hf download "
            f"{name}`), then copy the Hugging Face cache ({hf_constants.HF_HUB_CACHE}) here or point HF_HOME at it;"
        )
    lines.append(f"  - or set {key} to a local folder holding config.json + model.safetensors;")
    if random_init:
        lines.append(f"  - or set {key}=none for random initialisation.")
    return CheckpointError("\n".join(lines))


def resolve_pretrained(
    name: str,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    retries: int = 3,
    backoff_s: float = 1.0,
    key: str = "teacher.pretrained",
    patterns: Sequence[str] = HUB_PATTERNS,
    random_init: bool = True,
) -> Path:
    """Find the files of a pretrained checkpoint and return their local path (folder or file).

    Tiers, in order: (1) ``name`` as a local path; (2a) ``name`` as a Hugging Face Hub repo in the
    local cache (no network); (2b) a download from the Hub (config and safetensors files only),
    skipped when ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` is set, with ``retries`` attempts and
    exponential backoff (``backoff_s``, 2x, 4x ...) on connection errors.

    ``random_init`` False leaves out the advice to use random weights (``--model`` of predict has none).

    Raises:
        CheckpointError: every tier failed; the message lists each with its reason and the fixes.
    """
    tried: list[str] = []
    local = Path(name).expanduser()
    if local.exists():
        return local.resolve()
    tried.append(f"local path: {local.absolute()} does not exist")
    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        tried.append(f"Hugging Face Hub: not a valid repo name ({exc})")
        raise _tiers_error(name, tried, hub_name=False, key=key, random_init=random_init) from None

    cache = Path(cache_dir).expanduser() if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
    try:
        folder = snapshot_download(
            name, allow_patterns=list(patterns), cache_dir=cache_dir, local_files_only=True
        )
        logger.info("pretrained %s: found in the Hugging Face cache at %s", name, folder)
        return Path(folder)
    except LocalEntryNotFoundError as exc:
        tried.append(f"Hugging Face cache ({cache}): no usable snapshot of {name} ({short_error(exc)})")

    offline = _offline_reason()
    if offline is not None:
        tried.append(f"Hugging Face Hub download: skipped, offline mode is on ({offline})")
        raise _tiers_error(name, tried, hub_name=True, key=key, random_init=random_init)

    attempts = max(1, int(retries))
    last: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            folder = snapshot_download(name, allow_patterns=list(patterns), cache_dir=cache_dir)
            logger.info("pretrained %s: downloaded from the Hugging Face Hub to %s", name, folder)
            return Path(folder)
        except (GatedRepoError, RepositoryNotFoundError) as exc:
            last = exc
            tried.append(
                f"Hugging Face Hub download: repository {name} not found or not accessible (check the name; a "
                f"private or gated repo needs `huggingface-cli login`) ({short_error(exc)})"
            )
            break
        except Exception as exc:  # noqa: BLE001 - classified below and always reported
            # httpx transport errors are not OSError subclasses, hence the broad clause.
            last = exc
            if not _is_transient(exc):
                tried.append(f"Hugging Face Hub download: {short_error(exc)}")
                break
            if attempt == attempts:
                tried.append(f"Hugging Face Hub download: {attempts} attempts failed, the last with {short_error(exc)}")
                break
            delay = backoff_s * 2 ** (attempt - 1)
            logger.warning(
                "pretrained %s: download attempt %d/%d failed (%s); retrying in %.1f s",
                name, attempt, attempts, short_error(exc), delay,
            )  # fmt: skip
            _sleep(delay)
    raise _tiers_error(name, tried, hub_name=True, key=key, random_init=random_init) from last
