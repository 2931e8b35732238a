"""bf16 autocast and channels_last where the device runs bf16 natively, fp32 elsewhere; in pretraining,
fine-tuning and frozen features alike; an older study folder is not continued in another precision."""

import json

import numpy as np
import pytest
import torch
import yaml

from proxytask import precision as precision_module
from proxytask.config import ConfigError, FinetuneConfig
from proxytask.data.splits import Split
from proxytask.precision import Precision
from proxytask.study.run import run_study
from proxytask.train import pretrain
from proxytask.transfer import finetune as finetune_module
from proxytask.transfer.features import extract_features
from proxytask.transfer.finetune import finetune_model
from proxytask.transfer.inits import resolve_init
from tests.conftest import tiny_config
from tests.test_study import tiny_study


@pytest.mark.parametrize("native", [False, True])
def test_settings_apply_only_where_bf16_is_native(monkeypatch, native):
    monkeypatch.setattr(precision_module, "native_bf16", lambda device: native)
    chosen = Precision.choose(torch.device("cpu"), bf16=True, channels_last=True)
    assert (chosen.bf16, chosen.channels_last) == (native, native)
    assert chosen.describe() == ("bf16 autocast, channels_last" if native else "fp32")
    assert Precision.choose(torch.device("cpu"), bf16=False, channels_last=False).describe() == "fp32"


def record_conv_dtypes(model: torch.nn.Module, seen: list[torch.dtype]) -> None:
    """Append the dtype of every convolution output of ``model`` to ``seen`` from now on."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))


@pytest.mark.parametrize("bf16", [False, True])
def test_finetuning_computes_in_the_precision_it_was_given(monkeypatch, bf16):
    monkeypatch.setattr(finetune_module, "transfer_precision", lambda config, device: Precision("cpu", bf16, bf16))
    seen: list[torch.dtype] = []
    real_classifier = finetune_module.Classifier

    def watched(*args):
        model = real_classifier(*args)
        record_conv_dtypes(model, seen)
        return model

    monkeypatch.setattr(finetune_module, "Classifier", watched)
    generator = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (24, 24, 24, 3), dtype=torch.uint8, generator=generator)
    labels = np.arange(24) % 3
    split = Split(k=2, draw=0, train=np.arange(6), validation=np.array([], dtype=int), test=np.arange(6, 24))
    config = FinetuneConfig(min_steps=3, max_steps=3, batch_size=6)
    model, result = finetune_model(resolve_init("random", "vgg_small", "intensity"), pixels, labels, split,
                                   ["a", "b", "c"], 20, config, torch.device("cpu"))
    assert set(seen) == {torch.bfloat16 if bf16 else torch.float32}
    assert np.isfinite(result.training.loss_first) and np.isfinite(result.training.loss_last)
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast keeps fp32 master weights


def test_frozen_features_in_bf16_are_float32_and_close_to_fp32():
    pixels = torch.randint(0, 256, (8, 24, 24, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    init = resolve_init("random", "vgg_small", "intensity")
    plain = extract_features(init.backbone(0), init.network_input, pixels, 20, torch.device("cpu"), Precision("cpu", False, False))
    fast = extract_features(init.backbone(0), init.network_input, pixels, 20, torch.device("cpu"), Precision("cpu", True, True))
    assert plain.dtype == fast.dtype == np.float32 and plain.shape == fast.shape
    assert np.abs(fast - plain).max() <= 0.05 * np.abs(plain).max()  # bf16 keeps about 3 significant digits
    assert not np.array_equal(fast, plain)  # it did compute in bf16


def test_pretraining_records_its_precision(fake_lfw, tmp_path):
    metrics = pretrain(tiny_config(fake_lfw, "train.bf16=false", "train.channels_last=false"), tmp_path / "run")
    assert metrics["precision"] == "fp32"
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["precision"] == "fp32"


def test_a_study_folder_saved_before_the_setting_continues_only_in_fp32(fake_lfw, tmp_path):
    run_study(tiny_study(fake_lfw, "modes=probe", "baselines=random"), tmp_path / "study")
    saved = tmp_path / "study" / "config.yaml"
    settings = yaml.safe_load(saved.read_text())
    for key in ("bf16", "channels_last"):
        del settings["finetune"][key]  # as a folder saved before finetune.bf16 existed
    saved.write_text(yaml.safe_dump(settings))
    with pytest.raises(ConfigError, match="--set finetune.bf16=false --set finetune.channels_last=false"):
        run_study(tiny_study(fake_lfw, "modes=probe", "baselines=random"), tmp_path / "study")
    fp32 = [f"{section}.{name}=false" for section in ("finetune", "pretrain.train") for name in ("bf16", "channels_last")]
    continued = run_study(tiny_study(fake_lfw, "modes=probe,knn", "baselines=random", *fp32), tmp_path / "study")
    assert {row.mode for row in continued.rows} == {"probe", "knn"}
