"""The study's verdict in words: one sentence per proxy task and budget, generated from its paired
comparisons with random init and with supervised pretraining (better, worse, or not shown, with the
difference, its interval and, where not shown, the smallest difference the study could detect)."""

from __future__ import annotations

from dataclasses import dataclass

from proxytask.budgets import Budget, budget_name
from proxytask.paired import Comparison
from proxytask.records import StudyResults
from proxytask.report.summary import SUPERVISED, Share, format_share, gap_share
from proxytask.transfer.inits import RANDOM
from proxytask.transfer.modes import FINETUNE, MODES

BETTER, WORSE, NOT_SHOWN, ONE_DRAW = "better", "worse", "not shown", "one draw"
BASELINE_WORDS = {SUPERVISED: "supervised pretraining"}


def baseline_words(name: str) -> str:
    """``random init``, ``random init (standardized input)``, ``supervised pretraining``, else the name."""
    if name in BASELINE_WORDS:
        return BASELINE_WORDS[name]
    if name == RANDOM or name.startswith(RANDOM + "-"):
        rest = name[len(RANDOM) + 1:].replace("-", ", ")
        return "random init" + (f" ({rest} input)" if rest else "")
    return name


def points(value: float) -> str:
    """A difference of scores in percentage points, signed: ``+8.8``."""
    return f"{100 * value:+.1f}"


@dataclass(frozen=True)
class Verdict:
    """What one paired comparison shows: ``kind`` (better, worse, not shown, one draw) and the clause
    that says it, e.g. ``beats random init by +8.8 points [+5.1, +12.5]``."""

    kind: str
    clause: str


def verdict(comparison: Comparison) -> Verdict:
    """The verdict of ``comparison`` (init minus baseline): better or worse where its 95% interval
    excludes zero, else not shown, with the detectable difference where the study has one."""
    against = baseline_words(comparison.baseline)
    difference = f"{points(comparison.diff_mean)} points"
    if comparison.ci_low is None or comparison.ci_high is None:
        return Verdict(ONE_DRAW, f"differs from {against} by {difference} on one draw (no interval)")
    interval = f"[{points(comparison.ci_low)}, {points(comparison.ci_high)}]"
    if comparison.interval.excludes_zero:
        return (Verdict(BETTER, f"beats {against} by {difference} {interval}") if comparison.diff_mean > 0 else
                Verdict(WORSE, f"is below {against}: {difference} {interval}"))
    detectable = (f"; this study detects differences of {100 * comparison.detectable:.1f} points or more with 80% power"
                  if comparison.detectable else "")
    return Verdict(NOT_SHOWN, f"is not shown to differ from {against} ({difference} {interval}{detectable})")


def design(comparison: Comparison) -> str:
    """``2 seeds x 3 draws``."""
    seeds = f"{comparison.n_seeds} seed{'s' if comparison.n_seeds != 1 else ''}"
    return f"{seeds} x {comparison.n_draws} draw{'s' if comparison.n_draws != 1 else ''}"


def sentence(study: StudyResults, init: str, mode: str, k: Budget) -> str | None:
    """``At k=10 (fine-tuning, 2 seeds x 3 draws), colorization beats random init by ... and is below
    supervised pretraining by ...; it closes 53% [44%, 62%] of the gap.`` None where it has no comparison."""
    floor = study.floor(init, mode, k)
    ceiling = study.comparison(init, SUPERVISED, mode, k) if init != SUPERVISED else None
    found = [c for c in (floor, ceiling) if c is not None]
    if not found:
        return None
    text = f"At k={budget_name(k)} ({MODES[mode].stage}, {design(found[0])}), {init} " + " and ".join(verdict(c).clause for c in found)
    share = gap_share(study, init, mode, k) if init != SUPERVISED else None
    if isinstance(share, Share):
        text += f"; it closes {format_share(share)} of the gap between them"
    return text + "."


def summary_sentences(study: StudyResults, inits: list[str], budgets: list[Budget], mode: str = FINETUNE) -> list[str]:
    """One sentence per init of ``inits`` and budget in ``mode`` (:func:`sentence`), budgets in order."""
    return [text for init in inits for k in budgets if (text := sentence(study, init, mode, k)) is not None]
