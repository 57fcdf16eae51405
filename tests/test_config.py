"""The typed config: YAML, --set overrides, validation errors that say what is wrong."""

from __future__ import annotations

import pytest
import yaml

from moodscape.config import Config, config_to_dict, load_config, save_config, settings_hash
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


LEGACY = "tests/fixtures/legacy_config.yaml"


def test_old_section_names_are_read_as_the_sections_by_concept(caplog):
    config = load_config(LEGACY)
    assert (config.teacher.preset, config.teacher.patch_size, config.teacher.epochs) == ("tiny", (128, 4), 12)
    assert config.teacher.augment.time_masks == 2 and (config.student.epochs, config.student.alpha) == (5, 0.7)
    assert (config.windows.seconds, config.windows.eval_hop_seconds) == (4.0, 2.0)
    assert (config.runtime.threads, config.runtime.precision) == (2, "fp32")  # the old amp: off
    assert "read as teacher / student / windows / runtime" in caplog.text


def test_old_keys_in_overrides_land_on_their_new_place(caplog):
    config = load_config(None, ["train.epochs=3", "model.preset=small", "distill.alpha=0.2", "train.window_seconds=3",
                                "distill.device=cpu", "train.amp=off"])  # fmt: skip
    assert (config.teacher.epochs, config.teacher.preset, config.student.alpha) == (3, "small", 0.2)
    assert (config.windows.seconds, config.runtime.device, config.runtime.precision) == (3.0, "cpu", "fp32")
    assert "--set train.epochs=3: train.epochs is now teacher.epochs" in caplog.text
    with pytest.raises(ConfigError, match="from --set train.epochs=0"):
        load_config(None, ["train.epochs=0"])


def test_the_teacher_runtime_wins_over_the_old_distill_copy(tmp_path, caplog):
    path = tmp_path / "old.yaml"
    path.write_text("train:\n  threads: 1\ndistill:\n  threads: 2\n  window_seconds: null\n")
    assert load_config(path).runtime.threads == 1
    assert "distill.threads=2 ignored: runtime.threads is shared by every model (train.threads=1 kept)" in caplog.text


def test_an_old_and_a_new_key_for_the_same_setting_are_refused(tmp_path):
    path = tmp_path / "mixed.yaml"
    path.write_text("teacher:\n  epochs: 4\ntrain:\n  epochs: 5\n")
    with pytest.raises(ConfigError, match="train.epochs and teacher.epochs both set teacher.epochs"):
        load_config(path)
    path.write_text("train: 3\n")
    with pytest.raises(ConfigError, match="'train' must be a mapping"):
        load_config(path)


def test_a_saved_old_config_reloads_equal_to_its_rewrite(tmp_path):
    old = load_config(LEGACY)
    assert load_config(save_config(old, tmp_path)) == old
    assert {"model", "train", "distill"}.isdisjoint(yaml.safe_load((tmp_path / "config.yaml").read_text()))


def test_a_setting_added_later_leaves_hashes_alone_while_it_keeps_its_old_behaviour():
    from moodscape.config import FeaturesConfig, hash_view, settings_hash

    old = FeaturesConfig()
    assert "compression" not in hash_view(old) and "compression" in config_to_dict(old)
    assert settings_hash(old) == "0778779cd0"  # the hash stores were named by before features.compression
    assert settings_hash(FeaturesConfig(compression="logc")) != settings_hash(old)
    tree = hash_view(load_config(None, ["features.compression=logc"]))
    assert tree["features"]["compression"] == "logc"
