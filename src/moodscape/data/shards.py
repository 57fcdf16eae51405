"""Which part of a collection a machine takes: ``K/N`` shards by a stable hash of each item's key (a path
relative to the collection's folder), the same on every machine and every run."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TypeVar

from ..errors import ConfigError

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/3"`` -> (2, 3); K counts from 1."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text}: expected K/N with whole numbers, e.g. --shard 2/3") from None
    if n < 1 or not 1 <= k <= n:
        raise ConfigError(f"--shard {text}: K must be between 1 and N (e.g. 1/3, 2/3, 3/3)")
    return k, n


def shard_of(key: str, n: int) -> int:
    """The shard (1..n) of a file's key: stable across machines, Python versions and runs."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:16], 16) % n + 1


def shard_files(found: Sequence[tuple[T, str]], k: int, n: int) -> list[T]:
    """The files of shard ``k`` of ``n`` among (path, key) pairs, in their given order."""
    return [path for path, key in found if shard_of(key, n) == k]


def check_complete(shards: Sequence[tuple[object, tuple[int, int]]]) -> int:
    """(source, (K, N)) of every part to merge: all of one N, shards 1..N once each; returns N."""
    first, (_, n) = shards[0]
    for source, (k, count) in shards:
        if count != n:
            raise ConfigError(f"{source} is shard {k}/{count} but {first} is of {n}")
    numbers = sorted(k for _, (k, _) in shards)
    if numbers != list(range(1, n + 1)):
        missing = sorted(set(range(1, n + 1)) - set(numbers))
        repeated = sorted({k for k in numbers if numbers.count(k) > 1})
        raise ConfigError(f"merging needs shards 1..{n} once each; missing {missing or 'none'}, "
                          f"repeated {repeated or 'none'}")  # fmt: skip
    return n
