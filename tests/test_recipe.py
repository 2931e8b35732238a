import pytest

from proxytask.config import FinetuneConfig
from proxytask.recipe import TOLERANCE, candidates, choose


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
    from proxytask.config import ConfigError, StudyConfig, apply_overrides
    from proxytask.recipe import tune_recipe

    with pytest.raises(ConfigError, match="at least one budget below all"):
        tune_recipe(apply_overrides(StudyConfig(), ["budgets=all"]), tmp_path, draws=1)
