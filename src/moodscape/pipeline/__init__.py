"""``moodscape run``: every stage from audio to exported model in one resumable run folder."""

from .memory import PeakMemory
from .run import run_pipeline
from .stages import STAGE_LIST, STAGES, resolve_run_config, stage_hash

__all__ = ["PeakMemory", "STAGES", "STAGE_LIST", "resolve_run_config", "run_pipeline", "stage_hash"]
