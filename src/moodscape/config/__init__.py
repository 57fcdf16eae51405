"""The one typed configuration: the schema (one section per concept), loading with overrides, and the
reading of files written with the old section names."""

from .load import config_to_dict, hash_view, load_config, parse_override, save_config, schema_field, settings_hash
from .migrate import legacy_views
from .schema import (
    AudioConfig,
    AugmentConfig,
    BaselineConfig,
    Config,
    DataConfig,
    DistributedConfig,
    EvaluateConfig,
    FeaturesConfig,
    GanConfig,
    PipelineConfig,
    RuntimeConfig,
    SplitConfig,
    StoreConfig,
    StudentConfig,
    TeacherConfig,
    TrainingConfig,
    WindowsConfig,
)

__all__ = [
    "AudioConfig", "AugmentConfig", "BaselineConfig", "Config", "DataConfig", "DistributedConfig", "EvaluateConfig", "FeaturesConfig",
    "GanConfig", "PipelineConfig", "RuntimeConfig", "SplitConfig", "StoreConfig", "StudentConfig", "TeacherConfig",
    "TrainingConfig", "WindowsConfig", "config_to_dict", "hash_view", "legacy_views", "load_config", "parse_override",
    "save_config", "schema_field", "settings_hash",
]  # fmt: skip
