"""Pretrained weights: where a named checkpoint is found (``hub``: local path, Hugging Face cache, the Hub)
and the music network whose converted weights ship in the package (``musicnn``; its names and input in
``musicnn_spec``).

The names are imported on first use: what only names the taggers (a fusion's probe) loads without torch.
"""

from importlib import import_module

_EXPORTS = {"SHIPPED": "musicnn_spec", "Musicnn": "musicnn", "load_musicnn": "musicnn", "resolve_pretrained": "hub"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
