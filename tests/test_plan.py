"""The study's plan: a pure function from settings to typed runs, inits, jobs, comparisons and variant sets."""

import pytest
import torch

from proxytask.config import ConfigError, apply_overrides
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.paired import CEILING, FLOOR
from proxytask.study.plan import describe_plan, plan_study
from proxytask.study.presets import study_config
from proxytask.study.settings import StudyConfig, run_settings
from proxytask.tasks.colorization import Colorization, ColorizationConfig
from proxytask.tasks.colorization_lab import LabRegressionColorization
from proxytask.variants import Variant

NOWHERE = "pretrain.data.lfw=/no/such/folder"  # a plan reads no file: LFW need not exist


def planned(*overrides):
    return plan_study(study_config("quick", [NOWHERE, *overrides]))


def test_the_quick_study_plans_every_job_of_every_init_at_every_seed_once():
    plan = planned()
    assert [(run.name, run.seed) for run in plan.runs] == [("colorization", 0), ("colorization", 1), ("supervised", 0), ("supervised", 1)]
    assert [(i.name, i.seed, i.source) for i in plan.inits] == [
        ("random", 0, "random"), ("random", 1, "random"), ("colorization", 0, "run"), ("colorization", 1, "run"),
        ("supervised", 0, "run"), ("supervised", 1, "run"), ("eigenfaces", 0, "baseline")]
    per_backbone_init = (3 + 3) + 2 * (10 + 10)  # finetune at 5 and 10; probe and k-NN with 10 draws
    assert len(plan.transfer) == 3 * 2 * per_backbone_init + (10 + 10)
    assert len(set(plan.transfer)) == len(plan.transfer)
    assert {job.mode for job in plan.transfer if job.init == "eigenfaces"} == {"svm"}
    roles = {(c.init, c.baseline): c.role for c in plan.comparisons}
    assert roles == {("colorization", "random"): FLOOR, ("colorization", "supervised"): CEILING, ("supervised", "random"): FLOOR}
    assert all(c.init_seeds == c.baseline_seeds == (0, 1) for c in plan.comparisons)
    assert len(plan.splits) == 10 + 10


def test_pretraining_seeds_are_an_axis_of_every_trained_init_and_of_random_init():
    plan = planned("pretrain_seeds=3", "tasks=colorization,rotation")
    assert [(run.name, run.seed) for run in plan.runs] == [(t, s) for t in ("colorization", "rotation", "supervised") for s in (0, 1, 2)]
    assert {(i.name, i.seed) for i in plan.inits if i.source == "random"} == {("random", 0), ("random", 1), ("random", 2)}
    for task in ("colorization", "rotation", "supervised", "random"):
        assert plan.seeds_of(task) == (0, 1, 2)
        assert {job.seed for job in plan.transfer if job.init == task} == {0, 1, 2}
    # The same draws at every seed: job (init, seed s, draw d).
    assert {(job.k, job.draw) for job in plan.transfer if job.seed == 2 and job.mode == "finetune"} == \
        {(job.k, job.draw) for job in plan.transfer if job.seed == 0 and job.mode == "finetune"}
    config = study_config("quick", [NOWHERE, "pretrain_seeds=2"])
    first, second = (run_settings(config, Variant("colorization"), seed) for seed in (0, 1))
    assert (first.train.seed, second.train.seed) == (0, 1) and first.train.max_steps == config.pretrain_steps
    floor = next(c for c in plan.comparisons if (c.init, c.role) == ("rotation", FLOOR))
    assert floor.init_seeds == (0, 1, 2) and floor.baseline_seeds == (0, 1, 2)
    assert planned("pretrain_seeds=1").seeds_of("random") == (0,)


def test_jigsaw_is_compared_with_a_random_init_reading_its_standardized_input():
    plan = planned("tasks=colorization,jigsaw")
    standardized = [i for i in plan.inits if i.name == "random-standardized"]
    assert [(i.seed, i.input_kind, i.normalization, i.main) for i in standardized] == [(0, "intensity", "standardize", True),
                                                                                       (1, "intensity", "standardize", True)]
    floors = {c.init: c.baseline for c in plan.comparisons if c.role == FLOOR}
    assert floors["jigsaw"] == "random-standardized" and floors["colorization"] == "random"
    assert ("jigsaw", "supervised") in {(c.init, c.baseline) for c in plan.comparisons if c.role == CEILING}
    assert "random-standardized" not in {i.name for i in planned().inits}


def test_analyses_are_named_variant_sets_whose_runs_are_planned_once():
    plan = planned("analyses=loss,data,head", "pool_fractions=0.1,0.3", "tasks=colorization,rotation", "budgets=5,10,all")
    sets = {group.name: [member.variant.name for member in group.members] for group in plan.sets}
    assert sets == {"loss": ["colorization", "colorization-lab", "colorization-l2"],
                    "data": ["colorization+data.pool_fraction=0.1", "colorization+data.pool_fraction=0.3", "colorization"],
                    "head": ["colorization", "colorization+hypercolumn=false"]}
    names = list(dict.fromkeys(run.name for run in plan.runs))
    assert names == ["colorization", "rotation", "supervised", "colorization-lab", "colorization-l2",
                     "colorization+data.pool_fraction=0.1", "colorization+data.pool_fraction=0.3", "colorization+hypercolumn=false"]
    variants = {i.name: i for i in plan.inits}
    assert variants["colorization-lab"].budgets == (10,) and not variants["colorization-lab"].main
    assert variants["colorization"].budgets == (5, 10, None) and variants["colorization"].main
    pairs = {(c.init, c.baseline) for c in plan.comparisons if c.role == "loss"}
    assert pairs == {("colorization-lab", "colorization"), ("colorization-l2", "colorization"), ("colorization-l2", "colorization-lab")}
    config = study_config("quick", [NOWHERE, "analyses=data,head"])
    pool10 = run_settings(config, plan.sets[1].members[0].variant, 0)
    assert pool10.task == "colorization" and pool10.data.pool_fraction == 0.1
    last = run_settings(config, plan.sets[2].members[1].variant, 0)
    assert last.section(ColorizationConfig).hypercolumn is False
    assert list(dict.fromkeys(run.name for run in planned("analyses=head", "tasks=rotation").runs)) == \
        ["rotation", "supervised", "colorization", "colorization+hypercolumn=false"]


def test_the_input_analysis_plans_rgb_forms_and_a_random_init_on_rgb():
    plan = planned("analyses=input", "tasks=colorization,rotation")
    rgb = {(i.name, i.seed): i for i in plan.inits if i.input_kind == "rgb"}
    assert set(rgb) == {(name, seed) for name in ("rotation+input=rgb", "supervised+input=rgb", "random-rgb") for seed in (0, 1)}
    assert rgb[("random-rgb", 0)].budgets == (10,) and not rgb[("random-rgb", 0)].main
    assert ("rotation+input=rgb", "random-rgb") in {(c.init, c.baseline) for c in plan.comparisons if c.role == FLOOR}
    with pytest.raises(ConfigError, match="analyses: each must be one of .*got 'seeds'"):
        planned("analyses=seeds")  # every comparison covers the seeds now


def test_vary_makes_a_set_per_task_compared_with_random_and_with_the_default():
    plan = planned("tasks=denoising", 'vary=["denoising.mask_fraction=0.3,0.6"]')
    (group,) = plan.sets
    assert [(m.variant.name, m.label) for m in group.members] == [("denoising", "denoising.mask_fraction=0.3 (default)"),
                                                                   ("denoising+mask_fraction=0.6", "denoising.mask_fraction=0.6")]
    varied = next(i for i in plan.inits if i.name == "denoising+mask_fraction=0.6")
    assert varied.budgets == (5, 10) and not varied.main
    comparisons = {(c.init, c.baseline, c.role) for c in plan.comparisons}
    assert {("denoising+mask_fraction=0.6", "random", FLOOR), ("denoising+mask_fraction=0.6", "denoising", group.name)} <= comparisons
    config = study_config("quick", [NOWHERE, "tasks=denoising"])
    assert run_settings(config, group.members[1].variant, 0).sections["denoising"].mask_fraction == 0.6


def test_vary_of_a_shared_setting_varies_every_proxy_but_not_the_ceiling():
    plan = planned("tasks=colorization,rotation", 'vary=["optim.lr=0.003"]')
    assert [group.name for group in plan.sets] == ["vary optim.lr (colorization)", "vary optim.lr (rotation)"]
    assert {run.name for run in plan.runs} == {"colorization", "rotation", "supervised", "colorization+optim.lr=0.003",
                                               "rotation+optim.lr=0.003"}


@pytest.mark.parametrize("entry, message", [
    ("model.backbone=resnet18", "may not change model.backbone"),
    ("train.seed=3", "seeds: --set pretrain_seeds=N"),
    ("denoising.no_such=1,2", "--vary denoising.no_such=1,2: .*unknown setting"),
    ("denoising.mask_fraction=2", r"--vary denoising.mask_fraction=2: .*mask_fraction must be a number in \[0, 1\)"),
    ("jigsaw.permutations=5", "no task of the study has the settings section 'jigsaw'"),
    ("denoising.mask_fraction=0.3", "every value is the default"),
    ("data.pool=../elsewhere", "cannot hold a path separator"),
    ("mask_fraction", "vary: each must be section.key=value1,value2"),
])
def test_a_bad_vary_is_refused_naming_it(entry, message):
    with pytest.raises(ConfigError, match=message):
        planned("tasks=denoising", f'vary=["{entry}"]')


def test_the_plan_prints_its_runs_jobs_and_comparisons():
    config = study_config("quick", [NOWHERE, "pretrain_seeds=2", "budgets=5,all"])
    plan = plan_study(config)
    text = describe_plan(config, plan, {plan.runs[0]}, {plan.transfer[0]})
    assert text.startswith("4 pretraining runs") and f"{len(plan.transfer)} transfer jobs (1 done)" in text
    assert "colorization                             seed 1" in text and "(finished)" in text
    assert "finetune  k=5 d0-2 (1 done), k=all d0" in text
    assert "colorization [seeds 0,1] - random [seeds 0,1]  (floor)" in text


@pytest.mark.parametrize("override, message", [
    ("analyses=losses", "analyses: each must be one of loss, .*, got 'losses'"),
    ("pool_fractions=1.0", r"pool_fractions: each must be a number in \(0, 1\)"),
    ("pretrain.data.pool_fraction=0", r"data.pool_fraction must be a number in \(0, 1\]"),
    ("pretrain_seeds=0", "pretrain_seeds must be a whole number in \\[1, 100\\]"),
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


def test_vary_values_that_give_the_same_settings_are_one_variant_named_by_the_value_held():
    plan = planned("tasks=colorization", 'vary=["optim.lr=1e-3,0.001,0.003,0.0030"]')
    (group,) = plan.sets
    assert [m.variant.name for m in group.members] == ["colorization", "colorization+optim.lr=0.003"]  # 1e-3 is the default
    assert not [c for c in plan.comparisons if c.init == c.baseline and c.init_seeds == c.baseline_seeds]


def test_a_pair_a_set_asks_for_is_kept_beside_the_same_pair_in_another_role():
    plan = planned('vary=["supervised.head_dropout=0.5"]')
    roles = {c.role for c in plan.comparisons if (c.init, c.baseline) == ("supervised+head_dropout=0.5", "supervised")}
    assert roles == {CEILING, "vary supervised.head_dropout (supervised)"}
    both = planned("tasks=rotation", 'vary=["optim.lr=0.003"]')
    assert {c.role for c in both.comparisons if c.init == "rotation+optim.lr=0.003"} == {FLOOR, CEILING, "vary optim.lr (rotation)"}
