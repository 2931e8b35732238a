import pytest

from proxytask.config import ConfigError, apply_overrides, load_yaml, save_yaml
from proxytask.runs import PretrainConfig
from proxytask.tasks.colorization import ColorizationConfig


def test_overrides_are_typed_and_validated():
    config = apply_overrides(PretrainConfig(), ["train.batch_size=64", "optim.lr=0.01", "data.face_crop=(0,0,100,100)",
                                                "colorization.lightness_weighting=true", "train.max_steps=null"])
    assert config.train.batch_size == 64 and config.optim.lr == 0.01
    assert config.data.face_crop == (0, 0, 100, 100) and config.section(ColorizationConfig).lightness_weighting is True
    assert config.train.max_steps is None


@pytest.mark.parametrize("override, message", [
    ("train.batchsize=3", r"unknown setting 'train.batchsize'; did you mean train.batch_size\? \(known: train.batch_size, "),
    ("train.batch_size=three", "train.batch_size: expected a whole number"),
    ("train.batch_size=2.5", "expected a whole number"),
    ("colorization.target=softmax", "colorization.target must be one of onehot, window, got 'softmax'"),
    ("colorization.window=4", "colorization.window must be an odd whole number >= 1, got 4"),
    ("colorization.bins=nan", "colorization.bins: expected a whole number"),
    ("data.crop_size=100", "data.crop_size must be between"),
    ("optim.optimizer=adam", "optim.optimizer must be"),
    ("nonsense", "section.name=value"),
    ("trainer.x=1", r"unknown section 'trainer'; did you mean train\? \(known: data, model, optim, train, "),
    ("train.seed.x=1", "train.seed is a setting, not a section"),
    ("optim.optimizer=adamm", "optim.optimizer must be one of sgd, adamw, got 'adamm'; did you mean adamw"),
])
def test_bad_settings_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(PretrainConfig(), [override])


def test_yaml_round_trip(tmp_path):
    config = apply_overrides(PretrainConfig(), ["model.backbone=resnet18", "data.image_size=96", "data.crop_size=80"])
    save_yaml(config, tmp_path / "config.yaml")
    assert load_yaml(PretrainConfig, tmp_path / "config.yaml") == config


def test_yaml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epochz: 3\n")
    with pytest.raises(ConfigError, match="train.epochz"):
        load_yaml(PretrainConfig, bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_yaml(PretrainConfig, tmp_path / "missing.yaml")


@pytest.mark.parametrize("override, message", [
    ("train.epochs=nan", "train.epochs must be a number >= 0, got nan"),
    ("train.epochs=inf", "train.epochs must be a number >= 0, got inf"),
    ("train.seed=-1", r"train.seed must be a whole number in \[0, "),
    ("optim.lr=nan", "optim.lr must be a number > 0, got nan"),
    ("data.image_size=100000", r"data.image_size must be a whole number in \[8, 1024\]"),
])
def test_non_finite_and_absurd_values_are_refused(override, message):
    from proxytask.runs import PretrainConfig

    with pytest.raises(ConfigError, match=message):
        apply_overrides(PretrainConfig(), [override])


def test_json_files_never_hold_a_bare_nan(tmp_path):
    import json

    from proxytask.files import write_json_atomic

    write_json_atomic(tmp_path / "m.json", {"rate": float("nan"), "values": [1.0, float("inf")]})
    assert json.loads((tmp_path / "m.json").read_text()) == {"rate": None, "values": [1.0, None]}
