"""The paper's claims (Larsson et al. 2017, and the numbers METHOD.md gives for the other proxies),
each checked against this study's own paired measurement: supported where the interval excludes zero
in the claimed direction, contradicted where it excludes zero the other way, else not shown at this
scale; a claim whose analysis the study did not run is left out."""

from __future__ import annotations

from dataclasses import dataclass

from proxytask.budgets import Budget, budget_name, parse_budget
from proxytask.paired import Comparison, Interval, compare, paired_interval
from proxytask.records import FeatureChangeRecord, StudyResults
from proxytask.report.summary import BELOW_RANDOM, SUPERVISED, Share, format_share, gap_share, pool_pictures, pretraining_budget
from proxytask.report.verdicts import design, points
from proxytask.transfer.modes import FINETUNE, PROBE

SUPPORTED, CONTRADICTED, NOT_SHOWN, ONE_DRAW = "supported", "contradicted", "not shown at this scale", "no interval (one draw)"
CONSISTENT = "consistent (the interval holds the paper's share and excludes zero)"
COLORIZATION = "colorization"
PAPER_GAP_SHARE = 0.65


@dataclass(frozen=True)
class ClaimRow:
    """One checked claim: what the paper says, its evidence (setting), ours, and the verdict."""

    claim: str
    evidence: str
    measurement: str
    verdict: str


def _direction(interval: Interval) -> str:
    """Supported (above zero), contradicted (below), or not shown, of an interval of 'claimed minus the rest'."""
    if interval.low is None:
        return ONE_DRAW
    return NOT_SHOWN if not interval.excludes_zero else SUPPORTED if interval.mean > 0 else CONTRADICTED


def _pair(study: StudyResults, set_name: str, better: str, worse: str, mode: str, k: Budget) -> Comparison | None:
    """``better`` minus ``worse`` among the comparisons of the variant set ``set_name`` (either order)."""
    for c in study.comparisons:
        if c.role == set_name and c.mode == mode and c.k == k and c.metric == "accuracy" and {c.init, c.baseline} == {better, worse}:
            if c.init == better:
                return c
            low, high = (None, None) if c.ci_low is None else (-c.ci_high, -c.ci_low)
            return Comparison(better, worse, mode, k, c.metric, -c.diff_mean, low, high, c.n_draws, c.baseline_seeds,
                              c.init_seeds, c.role, c.n_seeds)
    return None


def _difference_row(claim: str, evidence: str, found: Comparison | None, what: str) -> ClaimRow | None:
    if found is None:
        return None
    interval = "" if found.ci_low is None else f" [{points(found.ci_low)}, {points(found.ci_high)}]"
    measurement = f"{what}: {points(found.diff_mean)} points{interval} ({design(found)})"
    return ClaimRow(claim, evidence, measurement, _direction(found.interval))


def _set_members(study: StudyResults, name: str) -> list[str]:
    return next(([m.variant.name for m in group.members] for group in study.sets if group.name == name), [])


def _loss_claims(study: StudyResults, k: Budget) -> list[ClaimRow | None]:
    members = _set_members(study, "loss")
    if len(members) < 3:
        return []
    reference, lab, l2 = members
    evidence = "VOC transfer, AlexNet/VGG-16 on ImageNet (recollected, not checked against the PDF)"
    return [_difference_row("Histogram losses beat L2 regression of colour", evidence,
                            _pair(study, "loss", reference, l2, FINETUNE, k), f"hue/chroma KL minus L2, fine-tuned, k={budget_name(k)}"),
            _difference_row("Hue/chroma KL is at least as good as Lab bins", evidence,
                            _pair(study, "loss", reference, lab, FINETUNE, k), f"hue/chroma KL minus Lab bins, fine-tuned, k={budget_name(k)}")]


def _data_claims(study: StudyResults, k: Budget) -> list[ClaimRow | None]:
    members = _set_members(study, "data")
    if len(members) < 2:
        return []
    evidence = "fewer unlabeled ImageNet images, VOC transfer; the decline is gradual (recollected)"
    return [_difference_row("Fewer unlabeled images transfer worse", evidence, _pair(study, "data", members[-1], members[0], mode, k),
                            f"full pool minus its smallest fraction, {label}, k={budget_name(k)}")
            for mode, label in ((FINETUNE, "fine-tuned"), (PROBE, "linear probe"))]


def _head_claims(study: StudyResults, k: Budget) -> list[ClaimRow | None]:
    members = _set_members(study, "head")
    if len(members) < 2:
        return []
    return [_difference_row("A hypercolumn head (every level at the sampled pixels) is the one to train",
                            "the paper's design (VGG-16 conv1..fc7); no last-layer number in this project's sources",
                            _pair(study, "head", members[0], members[1], FINETUNE, k),
                            f"hypercolumn minus last level only, fine-tuned, k={budget_name(k)}")]


def _interval_row(claim: str, evidence: str, values: list[float], what: str) -> ClaimRow | None:
    if len(values) < 2:
        return None
    found: Interval = paired_interval(values)
    measurement = f"{what}: {found.mean:+.3f} [{found.low:+.3f}, {found.high:+.3f}] over {len(values)} fine-tuned networks"
    return ClaimRow(claim, evidence, measurement, _direction(found))


def _feature_change_claims(records: list[FeatureChangeRecord]) -> list[ClaimRow | None]:
    colorization = [r for r in records if r.init == COLORIZATION]
    supervised = {(r.pretrain_seed, r.k): r for r in records if r.init == SUPERVISED}
    evidence = "per-layer change in fine-tuning, VOC (recollected, not checked against the PDF)"
    return [_interval_row("Fine-tuning changes the upper layers far more than the lower ones", evidence,
                          [r.cka[0] - r.cka[-1] for r in colorization], "colorization: CKA of the first stage minus the last"),
            _interval_row("A colorization network changes more in fine-tuning than a supervised one", evidence,
                          [supervised[(r.pretrain_seed, r.k)].cka[-1] - r.cka[-1] for r in colorization if (r.pretrain_seed, r.k) in supervised],
                          "last-stage CKA, supervised minus colorization (paired by seed and budget)")]


def _main_claims(study: StudyResults) -> list[ClaimRow | None]:
    if COLORIZATION not in study.config["tasks"]:
        return []
    rows: list[ClaimRow | None] = [
        _difference_row("Colorization pretraining beats random init when fine-tuned",
                        "VOC 2012 segmentation, AlexNet: 38.4 against 19.8 mIoU", study.floor(COLORIZATION, FINETUNE, k),
                        f"colorization minus random, fine-tuned, k={budget_name(k)}") for k in study.budgets]
    claim = f"Colorization closes about {PAPER_GAP_SHARE:.0%} of the gap to labeled pretraining"
    evidence = "VOC 2012 segmentation: (38.4 - 19.8) / (48.0 - 19.8)"
    for k in study.budgets:
        share = gap_share(study, COLORIZATION, FINETUNE, k)
        what = f"gap closed, fine-tuned, k={budget_name(k)}"
        if isinstance(share, Share):
            found = (CONTRADICTED if not share.low <= PAPER_GAP_SHARE <= share.high else CONSISTENT if share.low > 0 else NOT_SHOWN)
            rows.append(ClaimRow(claim, evidence, f"{what}: {format_share(share)}", found))
        elif share == BELOW_RANDOM:
            rows.append(ClaimRow(claim, evidence, f"{what}: colorization is below random init", CONTRADICTED))
    numeric = [k for k in study.budgets if k is not None]  # all labels has one draw: no interval
    for other, theirs in (("rotation", 48.2), ("jigsaw", 46.6)):
        if other in study.config["tasks"] and numeric:
            k = max(numeric)
            rows.append(_difference_row(f"Colorization is a weaker frozen (linear-probe) feature than {other}",
                                        f"Goyal et al. 2019, ImageNet linear top-1, ResNet-50: colorization 40.1, {other} {theirs}",
                                        _proxy_minus_colorization(study, other, k), f"{other} minus colorization, linear probe, k={budget_name(k)}"))
    return rows


def _proxy_minus_colorization(study: StudyResults, other: str, k: Budget) -> Comparison | None:
    """``other`` minus colorization on the linear probe, over both their seeds and the draws they share."""
    return compare(study.jobs, other, COLORIZATION, PROBE, k, init_seeds=study.seeds_of(other),
                   baseline_seeds=study.seeds_of(COLORIZATION))


def claim_rows(study: StudyResults) -> list[ClaimRow]:
    """Every claim this study measured, checked: the main table's, then those of the analyses it ran
    (at its first analysis budget)."""
    k = parse_budget(study.config["analysis_budgets"][0]) if study.config.get("analysis_budgets") else None
    rows = _main_claims(study)
    rows += _loss_claims(study, k) + _data_claims(study, k) + _head_claims(study, k)
    rows += _feature_change_claims(study.feature_change)
    return [row for row in rows if row is not None]


def limits_text(study: StudyResults) -> str:
    """What these experiments cannot show, with this study's own scale."""
    config = study.config
    pool = pool_pictures(study)
    pool_words = f"{pool:,}" if pool else "a few thousand"
    model = config["pretrain"]["model"]
    return (f"Scale: {pretraining_budget(config)}, from {pool_words} faces at {config['pretrain']['data']['image_size']} px, "
            f"against 2M iterations over 1.3M "
            f"ImageNet images in the paper: claims about long training and large data are not tested here. One task: "
            f"{len(study.downstream['classes'])} politicians' faces, not VOC classification, detection or segmentation. One "
            f"architecture family: the {model['backbone']} backbone{' with BatchNorm kept' if model.get('batchnorm') else ''}, "
            "not AlexNet or VGG-16 with BatchNorm folded away. The paper's numbers quoted here come from METHOD.md, partly recollected and not "
            "checked against the PDF. 'Not shown' means this study's seeds and draws cannot tell, not that there is no effect.")
