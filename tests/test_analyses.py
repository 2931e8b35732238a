import pytest
import torch

from proxytask.analyses import comparisons, extra_runs, variant_pretrain_config
from proxytask.config import ConfigError, StudyConfig, apply_overrides
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.colorization import Colorization, ColorizationConfig
from proxytask.tasks.colorization_lab import LabRegressionColorization


def test_analyses_plan_variant_runs_with_the_reference_once():
    config = apply_overrides(StudyConfig(), ["analyses=loss,data,head", "pool_fractions=0.1,0.3", "tasks=colorization,rotation"])
    groups = comparisons(config)
    assert [v.name for v in groups["loss"]] == ["colorization", "colorization-lab", "colorization-l2"]
    assert [v.name for v in groups["data"]] == ["colorization-pool10", "colorization-pool30", "colorization"]
    assert [v.name for v in groups["head"]] == ["colorization", "colorization-lastlayer"]
    extra = extra_runs(config)
    assert [v.name for v in extra] == ["colorization-lab", "colorization-l2", "colorization-pool10", "colorization-pool30",
                                       "colorization-lastlayer"]
    pool10 = variant_pretrain_config(config, extra[2])
    assert pool10.task == "colorization" and pool10.data.pool_fraction == 0.1 and pool10.train.max_steps == config.pretrain_steps
    assert variant_pretrain_config(config, extra[4]).colorization.hypercolumn is False
    without_reference = apply_overrides(StudyConfig(), ["analyses=head", "tasks=rotation"])
    assert [v.name for v in extra_runs(without_reference)] == ["colorization", "colorization-lastlayer"]


@pytest.mark.parametrize("override, message", [
    ("analyses=losses", "analyses: each must be one of loss, .*, got 'losses'"),
    ("pool_fractions=1.0", r"pool_fractions: each must be a number in \(0, 1\)"),
    ("pretrain.data.pool_fraction=0", r"data.pool_fraction must be a number in \(0, 1\]"),
])
def test_bad_analysis_settings_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(StudyConfig(), [override])
    with pytest.raises(ConfigError, match="analysis_budgets: '7' is not among budgets"):
        apply_overrides(StudyConfig(), ["analyses=loss", "analysis_budgets=7"])


@pytest.mark.parametrize("task_class", [Colorization, LabRegressionColorization])
def test_last_layer_head_reads_only_the_last_level(task_class):
    backbone = Backbone("vgg_small", 1)
    full = task_class(backbone, "intensity", ColorizationConfig(samples_per_image=5))
    last = task_class(Backbone("vgg_small", 1), "intensity", ColorizationConfig(samples_per_image=5, hypercolumn=False))
    first_layer = [m for m in last.head.modules() if isinstance(m, torch.nn.Linear)][0]
    assert first_layer.in_features == backbone.channels[-1]
    assert [m for m in full.head.modules() if isinstance(m, torch.nn.Linear)][0].in_features == 1 + sum(backbone.channels)
    inputs, targets = last.make_batch(torch.rand(2, 3, 24, 24), BatchRandom(0, 0, 2))
    last(inputs, targets)["loss"].backward()
    first_conv = next(p for p in last.backbone.parameters() if p.dim() == 4)
    assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0  # the whole backbone still learns
