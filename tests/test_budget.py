"""Equal images or equal compute: the steps each pretraining run of a study gets."""

import json

import torch

from proxytask.study import budget
from proxytask.study.budget import flops_per_image, reference_settings, run_steps
from proxytask.study.plan import describe_plan, plan_study
from proxytask.study.run import run_study
from proxytask.study.settings import run_settings
from proxytask.variants import Variant
from tests.test_study import tiny_study


def test_under_the_flops_budget_each_run_spends_what_the_reference_run_spends(fake_lfw):
    config = tiny_study(fake_lfw, "tasks=colorization,rotation,inpainting", "pretrain_steps=30", "pretrain_budget=flops")
    reference = reference_settings(config.pretrain)
    budget._COUNTED.clear()  # counted afresh here, so that the random state below is that of a real count
    state = torch.get_rng_state()
    for task in ("rotation", "inpainting"):
        settings = run_settings(config, Variant(task), 0)
        ratio = flops_per_image(reference) / flops_per_image(settings)
        assert settings.train.max_steps == max(1, round(30 * ratio)) != 30
        assert abs(settings.train.max_steps * flops_per_image(settings) - 30 * flops_per_image(reference)) <= flops_per_image(settings)
    assert torch.equal(torch.get_rng_state(), state)  # counting FLOPs draws nothing from the caller's random state
    assert run_settings(config, Variant("colorization"), 1).train.max_steps == 30
    images = tiny_study(fake_lfw, "tasks=colorization,rotation", "pretrain_steps=30")
    assert run_settings(images, Variant("rotation"), 0).train.max_steps == 30
    assert run_steps("images", 30, run_settings(config, Variant("rotation"), 0), reference) == 30


def test_a_study_at_equal_compute_trains_each_task_its_steps_and_says_so(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "tasks=colorization,rotation", "pretrain_steps=4", "pretrain_budget=flops", "modes=knn",
                        "baselines=random", "budgets=1")
    rotation_steps = run_settings(config, Variant("rotation"), 0).train.max_steps
    assert rotation_steps != 4
    assert f"task rotation  {rotation_steps} steps" in describe_plan(config, plan_study(config))
    results = run_study(config, tmp_path / "study")
    steps = {run.name: run.metrics["steps"] for run in results.pretraining}
    assert steps == {"colorization": 4, "rotation": rotation_steps}
    report = (tmp_path / "study" / "report.md").read_text()
    assert "every pretraining run spent the same training FLOPs, those of 4 colorization steps" in report
    assert json.loads((tmp_path / "study" / "results.json").read_text())["config"]["pretrain_budget"] == "flops"
