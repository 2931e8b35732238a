import pytest

from proxytask.paired import Comparison, compare, paired_interval
from proxytask.records import JobRecord, ResultRow, StudyResults
from proxytask.report.summary import BELOW_RANDOM, BELOW_RANDOM_NOT_SHOWN, SATURATED, Share, format_share, headline, ranking, winners


def job(init, k, draw, accuracy, mode="finetune"):
    return JobRecord(init, mode, "intensity", k, draw, accuracy, accuracy - 0.05, 7, False, 1.0)


def row(init, k, accuracy, std=0.01, mode="finetune"):
    return ResultRow(init, mode, "intensity", k, 3, {}, 0, {"accuracy": accuracy, "macro_f1": accuracy - 0.05},
                     {"accuracy": std, "macro_f1": std}, [])


def study(rows, comparisons=(), jobs=()):
    return StudyResults({"budgets": []}, {}, "cpu", {}, {}, {}, list(rows), list(comparisons), list(jobs), {})


def test_paired_interval_matches_a_hand_computed_example():
    # colorization minus random at k=10 over three draws (issue 8): +0.140, +0.118, +0.140.
    # mean 0.398 / 3; sd = sqrt(3.22667e-4 / 2) = 0.0127017; se = sd / sqrt(3) = 0.0073333;
    # t(0.975, 2) = 4.302653 (tables); half-width 0.0315527.
    interval = paired_interval([0.140, 0.118, 0.140])
    assert interval.mean == pytest.approx(0.1326667, abs=1e-6)
    assert interval.low == pytest.approx(0.1011140, abs=1e-5)
    assert interval.high == pytest.approx(0.1642194, abs=1e-5)
    assert interval.n == 3 and interval.excludes_zero
    assert not paired_interval([0.1, -0.1, 0.05]).excludes_zero
    single = paired_interval([0.2])
    assert single.low is None and not single.excludes_zero


def test_compare_pairs_draws_and_ignores_unmatched_ones():
    jobs = [job("colorization", 10, d, a) for d, a in enumerate((0.80, 0.75, 0.79, 0.9))]
    jobs += [job("random", 10, d, a) for d, a in enumerate((0.66, 0.632, 0.65))]
    comparison = compare(jobs, "colorization", "random", "finetune", 10)
    assert comparison.n_draws == 3
    assert comparison.diff_mean == pytest.approx(0.1326667, abs=1e-6)
    assert compare(jobs, "colorization", "random", "probe", 10) is None


def comparison(init, baseline, k, low, high, mean=None, n_draws=3):
    mean = (low + high) / 2 if mean is None else mean
    return Comparison(init, baseline, "finetune", k, "accuracy", mean, low, high, n_draws)


def test_gap_closed_has_its_interval_and_is_shown_only_where_supervised_beats_random_significantly():
    # k=10: random 0.50, supervised 0.90, colorization 0.70 (+-0.01 per draw): half the gap, a narrow interval.
    wiggles = {"random": (0.0, 0.01, -0.01), "supervised": (0.01, 0.0, -0.01), "colorization": (-0.01, 0.01, 0.0)}
    jobs = [job(name, 10, d, base + w) for name, base in (("random", 0.5), ("supervised", 0.9), ("colorization", 0.7))
            for d, w in enumerate(wiggles[name])]
    jobs += [job(name, 25, d, base + w) for name, base in (("random", 0.5), ("supervised", 0.52), ("colorization", 0.53))
             for d, w in enumerate(wiggles[name] if name != "supervised" else (0.0, 0.03, -0.05))]
    results = [row("random", k, 0.5) for k in (10, 25)] + [row("supervised", 10, 0.9), row("supervised", 25, 0.52)]
    results += [row("colorization", 10, 0.7), row("colorization", 25, 0.53)]
    comparisons = [compare(jobs, a, b, "finetune", k) for a, b in (("supervised", "random"), ("colorization", "random")) for k in (10, 25)]
    lines = {line.k: line for line in headline(study(results, comparisons, jobs), results, ["colorization"], [10, 25])}
    share = lines[10].gap_closed["accuracy"]
    assert isinstance(share, Share) and share.estimate == pytest.approx(0.5) and share.low < 0.5 < share.high
    assert share.high - share.low < 0.2 and format_share(share).startswith("50% [")
    assert lines[10].vs_random.ci_low > 0
    assert lines[25].gap_closed["accuracy"] == SATURATED  # supervised minus random includes zero


def test_gap_closed_reads_below_random_for_a_proxy_below_it():
    jobs = [job(name, 10, d, base + w) for name, base in (("random", 0.5), ("supervised", 0.9), ("colorization", 0.45))
            for d, w in enumerate((0.0, 0.01, -0.01))]
    results = [row("random", 10, 0.5), row("supervised", 10, 0.9), row("colorization", 10, 0.45)]
    comparisons = [compare(jobs, a, "random", "finetune", 10) for a in ("supervised", "colorization")]
    (line,) = headline(study(results, comparisons, jobs), results, ["colorization"], [10])
    assert line.gap_closed["accuracy"] == BELOW_RANDOM
    # Below random on average but not significantly: no negative share, and no claim that it is below.
    jobs = [job(name, 10, d, base + w) for name, base in (("random", 0.5), ("supervised", 0.9), ("colorization", 0.49))
            for d, w in enumerate({"random": (0.0, 0.01, -0.01), "supervised": (0.0, 0.01, -0.01), "colorization": (0.05, -0.04, 0.0)}[name])]
    comparisons = [compare(jobs, a, "random", "finetune", 10) for a in ("supervised", "colorization")]
    assert comparisons[1].diff_mean < 0 < comparisons[1].ci_high
    (line,) = headline(study(results, comparisons, jobs), results, ["colorization"], [10])
    assert line.gap_closed["accuracy"] == BELOW_RANDOM_NOT_SHOWN


def test_winners_state_whether_the_paired_interval_excludes_zero():
    jobs = [job("rotation", 5, d, a) for d, a in enumerate((0.60, 0.62, 0.61))]
    jobs += [job("colorization", 5, d, a) for d, a in enumerate((0.50, 0.52, 0.50))]
    jobs += [job("jigsaw", 5, d, a) for d, a in enumerate((0.40, 0.41, 0.40))]
    jobs += [job("rotation", 10, d, a) for d, a in enumerate((0.70, 0.60, 0.80))]
    jobs += [job("colorization", 10, d, a) for d, a in enumerate((0.72, 0.62, 0.70))]
    results = [row("rotation", 5, 0.61), row("colorization", 5, 0.507), row("jigsaw", 5, 0.403),
               row("rotation", 10, 0.70), row("colorization", 10, 0.68)]
    five, ten = winners(study(results, jobs=jobs), results, ["colorization", "rotation", "jigsaw"], [5, 10])
    assert (five.k, five.best.init, five.runner_up.init, five.settled) == (5, "rotation", "colorization", True)
    assert (ten.best.init, ten.settled) == ("rotation", False)


def test_gap_closed_says_why_it_is_not_shown():
    results = [row("random", None, 0.5), row("supervised", None, 0.9), row("colorization", None, 0.7),
               row("random", 5, 0.5), row("supervised", 5, 0.3), row("colorization", 5, 0.4)]
    comparisons = [comparison("supervised", "random", None, None, None, mean=0.4, n_draws=1),
                   comparison("colorization", "random", None, None, None, mean=0.2, n_draws=1),
                   comparison("supervised", "random", 5, -0.3, -0.1), comparison("colorization", "random", 5, -0.2, 0.0)]
    lines = {line.k: line for line in headline(study(results, comparisons), results, ["colorization"], [None, 5])}
    assert lines[None].gap_closed["accuracy"] == "n/a (one draw)"
    assert lines[5].gap_closed["accuracy"] == "n/a (supervised below random)"


def test_headline_keeps_a_proxy_without_random_baseline():
    results = [row("supervised", 10, 0.9), row("colorization", 10, 0.7)]
    (line,) = headline(study(results), results, ["colorization"], [10])
    assert line.random is None and line.gap_closed["accuracy"] is None


def test_records_keep_all_labels_as_none_and_write_all_in_json():
    record = job("colorization", None, 0, 0.7)
    saved = record.to_json()
    assert saved["k"] == "all" and JobRecord.from_json(saved) == record
    assert JobRecord.from_json({**saved, "k": 10}).k == 10
    table = row("random", None, 0.5)
    assert table.to_json()["k"] == "all" and ResultRow.from_json(table.to_json()) == table
    difference = comparison("colorization", "random", None, 0.1, 0.2)
    assert difference.as_dict()["k"] == "all" and Comparison.from_json(difference.as_dict()) == difference


def test_a_results_file_written_before_pretraining_seeds_still_reads():
    import json
    from pathlib import Path

    saved = json.loads((Path(__file__).resolve().parents[1] / "docs" / "study_quick_v3" / "results.json").read_text())
    assert isinstance(saved["pretraining"], dict)  # the earlier layout: runs by name
    study = StudyResults.from_json(saved)
    assert {(run.name, run.seed) for run in study.pretraining} == {("colorization", 0), ("supervised", 0)}
    assert set(study.main_inits) == {"random", "colorization", "supervised", "eigenfaces"}
    assert study.seeds_of("colorization") == (0,) and study.comparison("colorization", "random", "finetune", 10) is not None


def test_the_ranking_pairs_every_proxy_with_every_lower_one():
    jobs = [job("rotation", 5, d, a) for d, a in enumerate((0.60, 0.62, 0.61))]
    jobs += [job("colorization", 5, d, a) for d, a in enumerate((0.50, 0.52, 0.50))]
    jobs += [job("jigsaw", 5, d, a) for d, a in enumerate((0.49, 0.53, 0.50))]
    results = [row("rotation", 5, 0.61), row("colorization", 5, 0.507), row("jigsaw", 5, 0.507 - 0.001)]
    ranked, pairs = ranking(study(results, jobs=jobs), results, ["colorization", "rotation", "jigsaw"], 5)
    assert ranked == ["rotation", "colorization", "jigsaw"]
    assert set(pairs) == {("rotation", "colorization"), ("rotation", "jigsaw"), ("colorization", "jigsaw")}
    assert pairs[("rotation", "colorization")].interval.excludes_zero
    assert not pairs[("colorization", "jigsaw")].interval.excludes_zero


def test_a_comparison_of_an_earlier_results_file_counts_its_seed_rows():
    earlier = {"init": "colorization", "baseline": "random", "mode": "finetune", "k": 10, "metric": "accuracy", "diff_mean": 0.1,
               "ci_low": 0.0, "ci_high": 0.2, "n_draws": 3, "init_seeds": [0, 1], "baseline_seeds": [0], "role": "floor"}
    found = Comparison.from_json(earlier)
    assert found.n_seeds == 2 and found.seed_sd is None and found.detectable is None
    assert Comparison.from_json({**earlier, "init_seeds": [0]}).n_seeds == 1
