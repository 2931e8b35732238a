import pytest

from proxytask.report.summary import gap_closed, headline, margin_in_stds, winners


def row(init, k, accuracy, std=0.01, input_kind="intensity (mean of RGB)", mode="finetune"):
    return {"init": init, "mode": mode, "k": k, "input": input_kind, "accuracy_mean": accuracy, "accuracy_std": std,
            "macro_f1_mean": accuracy - 0.05, "macro_f1_std": std, "n_draws": 3}


def test_gap_closed_share():
    assert gap_closed(0.7, 0.5, 0.9) == pytest.approx(0.5)
    assert gap_closed(0.7, 0.5, 0.5) is None  # supervised does not beat random: undefined


def test_headline_uses_the_random_init_with_the_proxys_input():
    results = [row("random", 10, 0.5), row("random-rgb", 10, 0.4, input_kind="RGB"), row("supervised", 10, 0.9),
               row("colorization", 10, 0.7), row("rotation", 10, 0.6, input_kind="RGB")]
    lines = {line["task"]: line for line in headline(results, ["colorization", "rotation"], [10])}
    assert lines["colorization"]["random"] == "random"
    assert lines["colorization"]["gap_closed_accuracy"] == pytest.approx(0.5)
    assert lines["rotation"]["random"] == "random-rgb"
    assert lines["rotation"]["gap_closed_accuracy"] == pytest.approx((0.6 - 0.4) / (0.9 - 0.4))
    assert margin_in_stds(row("a", 10, 0.7, std=0.02), row("b", 10, 0.5, std=0.05), "accuracy") == pytest.approx(4.0)


def test_winners_rank_proxies_per_budget_and_skip_budgets_with_one():
    results = [row("colorization", 5, 0.5, std=0.05), row("rotation", 5, 0.6, std=0.02), row("jigsaw", 5, 0.4),
               row("colorization", 10, 0.8), row("supervised", 10, 0.95)]
    (five,) = winners(results, ["colorization", "rotation", "jigsaw"], [5, 10])
    assert (five["k"], five["best"], five["runner_up"]) == (5, "rotation", "colorization")
    assert five["margin_stds"] == pytest.approx(2.0)
