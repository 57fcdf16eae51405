"""Name -> object registries: model kinds, size presets, constructors.

A registry maps the names a config may hold to what they stand for, and an unknown name raises an
error that lists every valid one (instead of a bare ``KeyError``).

    >>> SIZES = Registry("size preset")
    >>> SIZES.register("tiny", 64)
    64
    >>> SIZES.get("huge")
    Traceback (most recent call last):
    ...
    moodscape.models.registry.UnknownNameError: unknown size preset 'huge'; valid names: tiny
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

from ..errors import SettingError

__all__ = ["Registry", "UnknownNameError"]

T = TypeVar("T")


class UnknownNameError(SettingError):
    """A name is not in a registry. The message lists the valid names.

    Both a :class:`~moodscape.errors.ConfigError` (names usually come from a config file) and a
    ``ValueError`` (for code that passes names directly).
    """


class Registry(Generic[T]):
    """An ordered mapping ``name -> T`` with helpful lookup errors.

    Args:
        what: what the names denote, used in error messages (e.g. ``"teacher kind"``).
    """

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, obj: T) -> T: ...

    def register(self, name, obj=None):
        """Add ``obj`` under ``name`` and return it; without ``obj``, return a decorator that does so.

        Raises:
            ValueError: ``name`` is empty or already registered.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"{self.what} names must be non-empty strings, got {name!r}")

        def add(item: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.what} '{name}' is already registered")
            self._entries[name] = item
            return item

        return add if obj is None else add(obj)

    def get(self, name: str) -> T:
        """The object registered under ``name``.

        Raises:
            UnknownNameError: ``name`` is not registered; the message lists the valid names.
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"unknown {self.what} {name!r}; valid names: {', '.join(self._entries) or '(none registered)'}"
            ) from None

    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, names={list(self._entries)})"
