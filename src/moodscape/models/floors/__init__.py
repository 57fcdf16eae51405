"""The cheap models every network is compared with, and fused with.

``ridge``: ridge regression on pooled log-mel statistics (:class:`RidgeBaseline`, :func:`pooled_stats`);
``descriptors``: an RBF SVR on handcrafted clip descriptors, the classical floor (:class:`DescriptorFloor`);
``probe``: a ridge on the shipped musicnn taggers' song summaries (:class:`MusicnnProbe`);
``fusion``: a network's outputs blended with the descriptor floor, and optionally the probe (:class:`Fusion`).

The names are imported on first use: prediction reads a fusion without paying for scikit-learn.
"""

from importlib import import_module

_EXPORTS = {"DescriptorFloor": "descriptors", "Fusion": "fusion", "MusicnnProbe": "probe", "RidgeBaseline": "ridge",
            "pooled_stats": "ridge"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
