"""The typed config: YAML, --set overrides, validation errors that say what is wrong."""

from __future__ import annotations

import pytest
import yaml

from moodscape.config import Config, load_config, save_config, settings_hash
from moodscape.errors import ConfigError


def test_defaults_and_yaml_with_overrides(tmp_path):
    assert Config().features.n_mels == 128 and Config().audio.sample_rate == 22050
    path = tmp_path / "c.yaml"
    path.write_text("features:\n  n_mels: 96\nsplit:\n  seed: 7\n")
    config = load_config(path, ["features.n_mels=64", "audio.duration=30", "split.folds=5", "data.layout=deam"])
    assert config.features.n_mels == 64 and config.audio.duration == 30.0
    assert config.split.seed == 7 and config.split.folds == 5 and config.data.layout == "deam"


def test_saved_config_reloads_identically(tmp_path):
    config = load_config(None, ["features.fmax=7000", "audio.short_policy=loop"])
    saved = save_config(config, tmp_path / "run")
    assert load_config(saved) == config
    assert yaml.safe_load(saved.read_text())["features"]["fmax"] == 7000.0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["features.n_mel=64"], "n_mel"),
        (["features.n_mels=-1"], "greater than 0"),
        (["split.train=0.9"], "must be 1.0"),
        (["features.fmin=9000"], "above features.fmin"),
        (["audio.short_policy=stretch"], "short_policy"),
        (["no_equals_sign"], "KEY=VALUE"),
        (["features.n_mels.x=1"], "features.n_mels"),
    ],
)
def test_invalid_values_are_named(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(bad)


def test_settings_hash_tracks_front_end_changes():
    a, b = Config(), load_config(None, ["features.hop_length=256"])
    assert settings_hash(a.audio, a.features) == settings_hash(Config().audio, Config().features)
    assert settings_hash(a.audio, a.features) != settings_hash(b.audio, b.features)


def test_override_below_a_value_in_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("features:\n  n_mels: 96\n")
    with pytest.raises(ConfigError, match="'n_mels' is a value, not a section"):
        load_config(path, ["features.n_mels.x=1"])


def test_training_on_every_song_needs_the_val_split_evaluated():
    from moodscape.config import load_config
    from moodscape.errors import ConfigError

    with pytest.raises(ConfigError, match="evaluate.split=val"):
        load_config(None, ["split.train=0.85", "split.val=0.15", "split.test=0"])
    config = load_config(None, ["split.train=0.85", "split.val=0.15", "split.test=0", "evaluate.split=val"])
    assert config.split.test == 0
