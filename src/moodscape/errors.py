"""Typed errors. Each message names the file or setting at fault and what to do about it."""


class MoodscapeError(Exception):
    """Base class for every error moodscape raises on purpose."""


class ConfigError(MoodscapeError):
    """A configuration file or override is invalid."""


class DataError(MoodscapeError):
    """A dataset layout or annotation file cannot be used."""


class AudioError(MoodscapeError):
    """An audio file cannot be decoded or fails validation (silent, too short, NaN...)."""


class CheckpointError(MoodscapeError):
    """A checkpoint or pretrained weight cannot be found or loaded."""


class DistributedError(MoodscapeError):
    """A process of a distributed training run failed or lost contact with the others."""


class ExportError(MoodscapeError):
    """An export step failed or its output does not match the PyTorch model."""


class ParameterError(MoodscapeError, ValueError):
    """A function of the library was called with an argument it cannot use (an array of the wrong shape,
    NaN values, a level outside (0, 1), an unknown name). Also a ``ValueError``, which callers may catch."""


class SettingError(ConfigError, ValueError):
    """A model or front-end setting is out of range (they usually come from a config file). Also a
    ``ValueError``, for code that passes the setting directly."""


class WorkerCrashed(MoodscapeError):
    """A worker process died (a signal such as SIGSEGV or SIGKILL) on the same input twice, or kept dying."""
