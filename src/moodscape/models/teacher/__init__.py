"""Teachers: regressors of (valence, arousal) from one spectrogram window, trained first and distilled from.

``transformer``: a ViT or AST on normalised log-mel (:class:`TeacherRegressor`); ``musicnn_head``: a head on
the pretrained musicnn network (:class:`MusicnnRegressor`); ``build``: either one from ``teacher`` settings
(:func:`build_teacher`); ``kinds`` and ``files``: the kinds, presets and checkpoint files they read.
"""

from .build import build_teacher
from .kinds import TEACHER_KINDS, TEACHER_PRESETS
from .musicnn_head import MusicnnRegressor
from .transformer import TeacherRegressor

__all__ = ["TEACHER_KINDS", "TEACHER_PRESETS", "MusicnnRegressor", "TeacherRegressor", "build_teacher"]
