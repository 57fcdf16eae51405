"""moodscape: predict valence and arousal of music, song by song and second by second."""

__version__ = "0.1.0"

__all__ = ["Predictor", "__version__"]


def __getattr__(name: str):
    # Lazy, so that `import moodscape` (and the CLI's start) does not pay for torch.
    if name == "Predictor":
        from .inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'moodscape' has no attribute {name!r}")
