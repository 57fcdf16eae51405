"""The student: a small MobileViT distilled from a teacher, for phones (``mobilevit``)."""

from .mobilevit import STUDENT_PRESETS, StudentRegressor, build_student

__all__ = ["STUDENT_PRESETS", "StudentRegressor", "build_student"]
