"""The seeds-and-draws interval: its fallbacks, its components, its coverage by simulation, the
detectable difference and the Fieller interval of a ratio."""

import numpy as np
import pytest
from scipy import stats

from proxytask.coverage import DESIGNS, SEED_SDS, simulate_coverage
from proxytask.paired import compare, hierarchical_interval, paired_interval, ratio_interval, seed_pairs
from proxytask.records import JobRecord


def test_one_seed_falls_back_to_the_paired_interval_over_draws():
    values = [0.140, 0.118, 0.140]
    one = hierarchical_interval(np.array([values]))
    plain = paired_interval(values)
    assert (one.mean, one.low, one.high, one.n, one.n_seeds) == (plain.mean, plain.low, plain.high, 3, 1)
    assert one.seed_sd is None and one.draw_sd == pytest.approx(np.std(values, ddof=1))


def test_one_draw_has_no_interval_and_bad_shapes_are_refused():
    single = hierarchical_interval(np.array([[0.1], [0.2]]))
    assert single.low is None and single.n_seeds == 2 and single.mean == pytest.approx(0.15)
    with pytest.raises(ValueError, match="seeds, draws"):
        hierarchical_interval(np.array([0.1, 0.2]))


def test_components_are_recovered_from_a_large_crossed_array():
    rng = np.random.default_rng(1)
    seeds, draws = 60, 60
    table = 0.1 + rng.normal(0, 0.05, (seeds, 1)) + rng.normal(0, 0.03, (1, draws)) + rng.normal(0, 0.02, (seeds, draws))
    interval = hierarchical_interval(table)
    assert interval.seed_sd == pytest.approx(0.05, rel=0.25)
    assert interval.draw_sd == pytest.approx(0.03, rel=0.25)
    assert interval.residual_sd == pytest.approx(0.02, rel=0.1)


def test_a_seed_spread_widens_the_interval_that_draws_alone_would_give():
    draws = np.array([0.05, 0.08, 0.06, 0.07, 0.04])
    same = hierarchical_interval(np.stack([draws, draws + 0.001, draws - 0.001]))
    apart = hierarchical_interval(np.stack([draws, draws + 0.06, draws - 0.06]))
    assert same.mean == pytest.approx(apart.mean)
    assert apart.high - apart.low > 3 * (same.high - same.low)
    assert same.excludes_zero and not apart.excludes_zero


@pytest.mark.parametrize(("seeds", "draws"), DESIGNS)
@pytest.mark.parametrize("seed_sd", SEED_SDS)
def test_coverage_by_simulation_of_the_crossed_model(seeds, draws, seed_sd):
    """Protocol 3: at least 93% everywhere, at most 99% with 3 or more seeds (2,000 studies each)."""
    result = simulate_coverage(seeds, draws, seed_sd, runs=2000)
    assert result.covered >= 0.93
    if seeds >= 3:
        assert result.covered <= 0.99


def test_the_detectable_difference_is_what_the_t_quantiles_of_its_standard_error_say():
    interval = paired_interval([0.10, 0.02, 0.07, 0.01, 0.05])
    error = np.std([0.10, 0.02, 0.07, 0.01, 0.05], ddof=1) / np.sqrt(5)
    assert interval.detectable() == pytest.approx((stats.t.ppf(0.975, 4) + stats.t.ppf(0.8, 4)) * error)
    assert paired_interval([0.1]).detectable() is None
    # More draws detect smaller differences.
    rng = np.random.default_rng(0)
    assert paired_interval(rng.normal(0, 0.03, 40)).detectable() < paired_interval(rng.normal(0, 0.03, 4)).detectable()


def test_the_ratio_interval_with_one_seed_is_fiellers():
    top = np.array([[0.20, 0.25, 0.18, 0.22, 0.21]])
    bottom = np.array([[0.40, 0.42, 0.38, 0.45, 0.41]])
    estimate, low, high = ratio_interval(top, bottom)
    # Fieller's quadratic: (n - r g)^2 = t^2 (v11 - 2 r v12 + r^2 v22), with v = covariance of the means.
    n, g, size = top.mean(), bottom.mean(), top.shape[1]
    cov = np.cov(np.vstack([top[0], bottom[0]]), ddof=1) / size
    t2 = stats.t.ppf(0.975, size - 1) ** 2
    roots = np.roots([g * g - t2 * cov[1, 1], -2 * (n * g - t2 * cov[0, 1]), n * n - t2 * cov[0, 0]])
    assert estimate == pytest.approx(n / g)
    assert (low, high) == pytest.approx(tuple(sorted(roots)), abs=1e-6)


def test_the_ratio_interval_is_not_shown_when_the_gap_is_not_told_apart_from_zero():
    top = np.array([[0.02, 0.03, 0.01]])
    assert ratio_interval(top, np.array([[0.05, -0.04, 0.01]])) is None


def test_seeds_pair_by_position_or_against_a_single_one():
    assert seed_pairs((0, 1, 2), (0, 1, 2)) == [(0, 0), (1, 1), (2, 2)]
    assert seed_pairs((0, 1), (0,)) == [(0, 0), (1, 0)]
    with pytest.raises(ValueError):
        seed_pairs((0, 1), (0, 1, 2))


def test_compare_over_seeds_and_draws_reports_the_components():
    def job(init, seed, draw, accuracy):
        return JobRecord(init, "finetune", "intensity", 10, draw, accuracy, accuracy, 7, False, 1.0, seed)

    jobs = [job("colorization", s, d, 0.6 + 0.02 * s + 0.01 * d) for s in range(3) for d in range(4)]
    jobs += [job("random", s, d, 0.5 + 0.01 * d) for s in range(3) for d in range(4)]
    jobs.append(job("colorization", 0, 4, 0.9))  # a draw the other seeds lack: left out
    found = compare(jobs, "colorization", "random", "finetune", 10, init_seeds=(0, 1, 2), baseline_seeds=(0, 1, 2))
    assert (found.n_seeds, found.n_draws) == (3, 4)
    assert found.diff_mean == pytest.approx(0.12)
    assert found.seed_sd == pytest.approx(0.02, abs=1e-9) and found.draw_sd == pytest.approx(0.0, abs=1e-9)
    assert found.detectable is not None and found.detectable > 0


def test_the_ratio_interval_with_seeds_is_exactly_the_set_its_test_accepts():
    top = np.array([[0.1736, 0.1634, 0.0596], [0.1239, 0.2135, 0.0978]])
    bottom = np.array([[0.2805, 0.3439, 0.2932], [0.4271, 0.3632, 0.3078]])
    estimate, low, high = ratio_interval(top, bottom)
    t = stats.t.ppf(0.975, hierarchical_interval(top - estimate * bottom).df)  # degrees of freedom held at the estimate
    for rho in np.linspace(-3, 5, 801):
        interval = hierarchical_interval(top - rho * bottom)
        accepted = abs(interval.mean) <= t * interval.standard_error
        assert accepted == (low <= rho <= high) or min(abs(rho - low), abs(rho - high)) < 1e-6
    assert low < estimate < high


def test_equal_seed_and_draw_means_still_give_an_interval_from_the_rest():
    interval = hierarchical_interval(np.array([[1.1, 0.9], [0.9, 1.1]]))
    assert interval.mean == pytest.approx(1.0) and interval.high - interval.low > 0.1
