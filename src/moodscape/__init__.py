"""moodscape: predict valence and arousal of music, song by song and second by second."""

from .version import __version__

__all__ = ["Client", "Predictor", "__version__"]


def __getattr__(name: str):
    # Lazy, so that `import moodscape` (and the CLI's start) does not pay for torch.
    if name == "Predictor":
        from .inference.predictor import Predictor

        return Predictor
    if name == "Client":
        from .serve.client import Client

        return Client
    raise AttributeError(f"module 'moodscape' has no attribute {name!r}")
