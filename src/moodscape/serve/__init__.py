"""``moodscape serve``: a web page and an HTTP API around one loaded model (needs the ``serve`` extra)."""

from .limits import Limits, sniff_audio

__all__ = ["Limits", "sniff_audio"]
