"""Pretrained weights: where a named checkpoint is found (``hub``: local path, Hugging Face cache, the Hub)
and the music network whose converted weights ship in the package (``musicnn``)."""

from .hub import resolve_pretrained
from .musicnn import SHIPPED, Musicnn, load_musicnn

__all__ = ["SHIPPED", "Musicnn", "load_musicnn", "resolve_pretrained"]
