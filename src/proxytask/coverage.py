"""How often the paired interval covers the truth: studies simulated from the crossed model
``diff[s, d] = mu + a_s + b_d + e_sd`` that :func:`proxytask.paired.hierarchical_interval` assumes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from proxytask.paired import CONFIDENCE, hierarchical_interval

# The cases protocol 3 asks the interval to hold in: (seeds, draws), seed standard deviations, and
# the draw and residual standard deviations.
DESIGNS = ((2, 3), (3, 3), (3, 5), (5, 5))
SEED_SDS = (0.0, 0.02, 0.05)
DRAW_SD, RESIDUAL_SD = 0.03, 0.02


@dataclass(frozen=True)
class Coverage:
    """Share of ``runs`` simulated studies whose interval contained ``mu``, and the mean interval width."""

    seeds: int
    draws: int
    seed_sd: float
    runs: int
    covered: float
    mean_width: float


def simulate_coverage(seeds: int, draws: int, seed_sd: float, draw_sd: float = DRAW_SD, residual_sd: float = RESIDUAL_SD,
                      runs: int = 2000, mu: float = 0.05, seed: int = 0, confidence: float = CONFIDENCE) -> Coverage:
    """Simulate ``runs`` studies of (seeds, draws) paired differences and score the interval on each."""
    rng = np.random.default_rng(seed)
    covered, widths = 0, []
    for _ in range(runs):
        table = (mu + rng.normal(0, seed_sd, (seeds, 1)) + rng.normal(0, draw_sd, (1, draws))
                 + rng.normal(0, residual_sd, (seeds, draws)))
        interval = hierarchical_interval(table, confidence)
        covered += interval.contains(mu)
        widths.append(interval.high - interval.low)
    return Coverage(seeds, draws, seed_sd, runs, covered / runs, float(np.mean(widths)))
