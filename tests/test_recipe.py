import pytest

from proxytask.config import FinetuneConfig
from proxytask.study.recipe import TOLERANCE, candidates, choose


def test_candidates_scale_learning_rate_and_length_around_the_recipe():
    grid = candidates(FinetuneConfig(lr=0.01, epochs=10, min_steps=100, max_steps=300))
    assert len(grid) == 9
    assert {round(c.lr, 6) for c in grid} == {0.005, 0.01, 0.02}
    assert {(c.epochs, c.min_steps, c.max_steps) for c in grid} == {(10, 100, 300), (20, 200, 600), (40, 400, 1200)}


def test_the_shortest_recipe_within_tolerance_of_the_best_is_chosen():
    table = [{"max_steps": 300, "macro_f1_mean": 0.70}, {"max_steps": 600, "macro_f1_mean": 0.78},
             {"max_steps": 1200, "macro_f1_mean": 0.78 + TOLERANCE / 2}, {"max_steps": 600, "macro_f1_mean": 0.60}]
    assert choose(table) == 1
    table[2]["macro_f1_mean"] = 0.78 + 2 * TOLERANCE
    assert choose(table) == 2


def test_tuning_needs_a_budget_below_all(tmp_path):
    from proxytask.config import ConfigError, apply_overrides
    from proxytask.study.recipe import tune_recipe
    from proxytask.study.settings import StudyConfig

    with pytest.raises(ConfigError, match="at least one budget below all"):
        tune_recipe(apply_overrides(StudyConfig(), ["budgets=all"]), tmp_path, draws=1)


def test_tune_writes_the_chosen_recipe_and_a_restart_keeps_finished_jobs(tmp_path, monkeypatch):
    import numpy as np
    import torch

    from proxytask.config import FinetuneConfig, apply_overrides, load_yaml
    from proxytask.data.downstream import DownstreamData
    from proxytask.data.folders import LabeledImages
    from proxytask.study import recipe
    from proxytask.study.settings import StudyConfig

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 10)
    pixels = torch.from_numpy(rng.integers(0, 256, (30, 24, 24, 3), dtype=np.uint8))
    data = DownstreamData(LabeledImages([f"{i}.jpg" for i in range(30)], labels.tolist(), ["a", "b", "c"]), pixels, labels, [], "center")
    monkeypatch.setattr(recipe, "load_downstream", lambda data_config: data)
    config = apply_overrides(StudyConfig(), ["budgets=2", "pretrain.data.crop_size=20", "pretrain.data.image_size=24",
                                             "finetune.min_steps=1", "finetune.max_steps=2", "finetune.batch_size=3"])
    summary = recipe.tune_recipe(config, tmp_path, draws=1)
    assert len(summary["candidates"]) == 9 and len(list((tmp_path / "jobs").glob("*.json"))) == 9
    chosen = load_yaml(FinetuneConfig, tmp_path / "recipe.yaml")
    assert {k: getattr(chosen, k) for k in ("lr", "max_steps")} == {k: summary["chosen"][k] for k in ("lr", "max_steps")}
    monkeypatch.setattr(recipe, "finetune", lambda *args, **kwargs: pytest.fail("a finished job ran again"))
    assert recipe.tune_recipe(config, tmp_path, draws=1)["chosen"] == summary["chosen"]
