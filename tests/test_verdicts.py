"""The verdict sentences follow the paired comparisons: better or worse only where the interval excludes zero."""

import pytest

from proxytask.paired import CEILING, FLOOR, Comparison
from proxytask.records import StudyResults
from proxytask.report.verdicts import BETTER, NOT_SHOWN, ONE_DRAW, WORSE, baseline_words, sentence, verdict


def comparison(low, high, mean=None, baseline="random", role=FLOOR, init="colorization", k=10, detectable=0.1):
    mean = (low + high) / 2 if mean is None and low is not None else mean
    return Comparison(init, baseline, "finetune", k, "accuracy", mean, low, high, 3, (0, 1), (0, 1), role, 2, detectable=detectable)


@pytest.mark.parametrize(("low", "high", "kind"), [(0.051, 0.125, BETTER), (-0.09, -0.01, WORSE), (-0.028, 0.127, NOT_SHOWN),
                                                   (0.0, 0.1, NOT_SHOWN), (None, None, ONE_DRAW)])
def test_the_verdict_kind_follows_whether_the_interval_excludes_zero(low, high, kind):
    found = verdict(comparison(low, high, mean=0.05 if low is None else None))
    assert found.kind == kind


def test_the_clauses_give_the_difference_and_interval_in_points():
    assert verdict(comparison(0.051, 0.125, mean=0.088)).clause == "beats random init by +8.8 points [+5.1, +12.5]"
    assert verdict(comparison(-0.056, -0.010, mean=-0.033)).clause == "is below random init: -3.3 points [-5.6, -1.0]"
    shown = verdict(comparison(-0.028, 0.127, mean=0.049, detectable=0.1)).clause
    assert shown == ("is not shown to differ from random init (+4.9 points [-2.8, +12.7]; this study detects differences of "
                     "10.0 points or more with 80% power)")
    assert verdict(comparison(None, None, mean=0.02)).clause == "differs from random init by +2.0 points on one draw (no interval)"


def test_baselines_are_named_in_words():
    assert baseline_words("random") == "random init"
    assert baseline_words("random-standardized") == "random init (standardized input)"
    assert baseline_words("supervised") == "supervised pretraining"
    assert baseline_words("randomness") == "randomness"  # a name that only starts like random init


def test_a_sentence_joins_the_floor_and_the_ceiling_of_one_budget():
    comparisons = [comparison(0.051, 0.125, mean=0.088), comparison(-0.09, -0.02, mean=-0.05, baseline="supervised", role=CEILING)]
    results = StudyResults({"budgets": ["10"]}, {}, "cpu", {}, [], {}, [], comparisons, [], ["colorization"])
    text = sentence(results, "colorization", "finetune", 10)
    assert text == ("At k=10 (fine-tuning, 2 seeds x 3 draws), colorization beats random init by +8.8 points [+5.1, +12.5] "
                    "and is below supervised pretraining: -5.0 points [-9.0, -2.0].")
    assert sentence(results, "colorization", "finetune", 5) is None
