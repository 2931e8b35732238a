"""The report's analysis sections: loss formulation, amount of unlabeled data, hypercolumn or last
layer, how much fine-tuning changes each stage, RGB or intensity input, and pretraining seeds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from proxytask.config import Budget, budget_name, parse_budget
from proxytask.paired import compare, format_interval
from proxytask.records import StudyResults, find
from proxytask.report.document import Block, Figure, Heading, Paragraph, Table
from proxytask.report.figures import comparison_bars, feature_change_lines, pool_curve
from proxytask.report.summary import format_cell
from proxytask.transfer.inits import RANDOM, RANDOM_RGB
from proxytask.transfer.modes import FINETUNE, PROBE

TITLES = {"loss": "Loss formulation", "data": "Amount of unlabeled data", "head": "Hypercolumn or last layer",
          "input": "RGB or intensity input", "seeds": "Pretraining seed against label draws"}

# What Larsson et al. (CVPR 2017) found, as far as the project's docs carry it; kept beside ours.
PAPER = {
    "loss": "Paper (recollected, not checked against the PDF): on VOC the histogram losses (hue/chroma KL and Lab "
            "bins) beat L2 regression of color, and the hue/chroma KL was at least as good as Lab bins; the paper "
            "picks hue/chroma KL.",
    "data": "Paper (recollected, not checked against the PDF): colorization on fewer unlabeled ImageNet images "
            "transfers worse, but the decline is gradual; the paper's broader point is that the proxy needs far "
            "more unlabeled images than a labeled task needs labels.",
    "head": "Paper (METHOD.md s.2): the hypercolumn head, reading every level at the sampled pixels, is what the paper "
            "trains (VGG-16 conv1..fc7); the project's docs carry no number of theirs for a last-layer head.",
    "feature-change": "Paper (recollected, not checked against the PDF): fine-tuning changes the upper layers far "
                      "more than the lower ones, and a colorization-pretrained network changes more than an "
                      "ImageNet-pretrained one.",
    "input": "Every RGB form is compared with random init on RGB, every intensity form with random init on intensity "
             "(the main table): a gain of a proxy task is what it adds over a random network reading the same input.",
    "seeds": "Spread from the pretraining seed (two runs that differ only in their seed) set beside the spread from "
             "the label draws (standard deviation over draws of one run): if the first is comparable to the second, "
             "one pretraining run per task understates the uncertainty of a comparison.",
}


def _comparison_table(study: StudyResults, group: list[dict[str, Any]], budgets: list[Budget], with_pool: bool) -> Table:
    results = study.rows
    header = ["run", "what differs"] + (["pool images", "epochs"] if with_pool else []) + ["held-out PSNR (gray)"]
    header += [f"{mode} k={budget_name(k)}" for k in budgets for mode in (FINETUNE, PROBE)]
    header += [f"finetune k={budget_name(k)} minus random [95% CI]" for k in budgets]
    rows = []
    for variant in group + [{"name": RANDOM, "label": "random init, no pretraining"}]:
        metrics = study.pretraining.get(variant["name"], {})
        row = [variant["name"], variant["label"]]
        if with_pool:
            row += [str(metrics.get("train_images", "-")), f"{metrics['epochs']:.1f}" if "epochs" in metrics else "-"]
        psnr = f"{metrics['psnr_colorized']:.2f} ({metrics['psnr_gray']:.2f})" if "psnr_colorized" in metrics else "-"
        row.append(psnr)
        row += [format_cell(find(results, variant["name"], mode, k)) for k in budgets for mode in (FINETUNE, PROBE)]
        row += [format_interval(study.comparison(variant["name"], RANDOM, FINETUNE, k)) for k in budgets]
        rows.append(row)
    return Table(header, rows)


def _input_table(study: StudyResults, group: list[dict[str, Any]], budgets: list[Budget]) -> Table:
    """Per task: its intensity form (main table) and its RGB form, each against random init on the same input."""
    rows = []
    for variant in group:
        task = variant["task"]
        for name, baseline in ((task, RANDOM), (variant["name"], RANDOM_RGB)):
            row = [name, "RGB" if baseline == RANDOM_RGB else "intensity"]
            for k in budgets:
                row += [format_cell(find(study.rows, name, FINETUNE, k)),
                        format_interval(study.comparison(name, baseline, FINETUNE, k))]
            rows.append(row)
    for name in (RANDOM, RANDOM_RGB):
        rows.append([name, "RGB" if name == RANDOM_RGB else "intensity"]
                    + [cell for k in budgets for cell in (format_cell(find(study.rows, name, FINETUNE, k)), "")])
    header = ["run", "input"] + [h for k in map(budget_name, budgets)
                                 for h in (f"finetune k={k}", f"minus random, same input, k={k} [95% CI]")]
    return Table(header, rows)


def _seeds_table(study: StudyResults, group: list[dict[str, Any]], budgets: list[Budget]) -> Table:
    """Per task (pairs of runs differing in their pretraining seed): both means, their paired
    difference, and the standard deviation over label draws of each."""
    rows = []
    for first, second in zip(group[::2], group[1::2]):
        for k in budgets:
            a, b = (find(study.rows, v["name"], FINETUNE, k) for v in (first, second))
            if a is None or b is None:
                continue
            seed_spread = abs(a.mean["accuracy"] - b.mean["accuracy"])
            draw_spread = float(np.mean([a.std["accuracy"], b.std["accuracy"]]))
            rows.append([first["task"], budget_name(k), format_cell(a), format_cell(b),
                         format_interval(compare(study.jobs, second["name"], first["name"], FINETUNE, k)),
                         f"{seed_spread:.3f}", f"{draw_spread:.3f}"])
    return Table(["task", "k", f"seed {group[0]['label'].rsplit(' ', 1)[-1]}", f"seed {group[1]['label'].rsplit(' ', 1)[-1]}",
                  "second minus first [95% CI]", "pretraining-seed spread |difference of means|", "label-draw spread (std over draws)"], rows)


def analysis_blocks(study: StudyResults, out: Path) -> list[Block]:
    """Blocks (and figure files in ``out``) for every analysis the study ran."""
    analyses = study.analyses
    if not analyses.get("comparisons") and not analyses.get("feature_change"):
        return []
    budgets = [parse_budget(name) for name in analyses["budgets"]]
    blocks: list[Block] = [Heading("Analyses"), Paragraph(
        f"Extra pretraining runs of the same budget ({study.config['pretrain_steps']} steps), transferred at k = "
        f"{', '.join(map(budget_name, budgets))} with the study's draws. Cells: test accuracy / macro-F1, each ± std over draws. "
        "Held-out PSNR of the colorized pool images against the gray input's, in dB.")]
    for name, group in analyses.get("comparisons", {}).items():
        if name in ("input", "seeds"):
            table = _input_table(study, group, budgets) if name == "input" else _seeds_table(study, group, budgets)
            blocks += [Heading(TITLES[name], 3), table, Paragraph(PAPER[name])]
            continue
        blocks += [Heading(TITLES[name], 3), _comparison_table(study, group, budgets, with_pool=name == "data")]
        path = out / f"analysis_{name}.png"
        if name == "data":
            pool_curve(study.rows, study.pretraining, group, budgets, path)
        else:
            comparison_bars(study.rows, group, budgets, path)
        blocks += [Figure(path, f"{TITLES[name]}: fine-tuned and linear-probe test accuracy"), Paragraph(PAPER[name])]
    change = analyses.get("feature_change")
    if change:
        stages = max(record["stages"] for record in change)
        blocks += [Heading("How much fine-tuning changes each stage", 3), Paragraph(
            "Per backbone stage (1 = nearest the input): relative weight change ||W_finetuned - W_start|| / "
            "||W_start|| and linear CKA between the stage's features before and after fine-tuning on the test "
            "images (1 = unchanged), for the first draw of each analysis budget.")]
        blocks.append(Table(["init", "k", "test accuracy"] + [f"stage {i + 1}: change / CKA" for i in range(stages)],
                            [[r["init"], str(r["k"]), f"{r['accuracy']:.3f}"] + [f"{w:.3f} / {c:.3f}" for w, c in zip(r["weight_change"], r["cka"])]
                             for r in change]))
        path = out / "analysis_feature_change.png"
        feature_change_lines(change, path)
        blocks += [Figure(path, "Relative weight change and CKA to the starting features, per stage"), Paragraph(PAPER["feature-change"])]
    return blocks
