"""The report's analysis sections: loss formulation, amount of unlabeled data, hypercolumn or last
layer, and how much fine-tuning changes each stage; a table and a figure each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxytask.report.document import Block, Figure, Heading, Paragraph, Table
from proxytask.report.figures import comparison_bars, feature_change_lines, pool_curve
from proxytask.report.summary import budget_keys, find, format_cell
from proxytask.transfer.inits import RANDOM

TITLES = {"loss": "Loss formulation", "data": "Amount of unlabeled data", "head": "Hypercolumn or last layer"}

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
}


def _comparison_table(study: dict[str, Any], group: list[dict[str, Any]], budgets: list[Any], with_pool: bool) -> Table:
    results = study["results"]
    header = ["run", "what differs"] + (["pool images", "epochs"] if with_pool else []) + ["held-out PSNR (gray)"]
    header += [f"{mode} k={k}" for k in budgets for mode in ("finetune", "probe")]
    rows = []
    for variant in group + [{"name": RANDOM, "label": "random init, no pretraining"}]:
        metrics = study["pretraining"].get(variant["name"], {})
        row = [variant["name"], variant["label"]]
        if with_pool:
            row += [str(metrics.get("train_images", "-")), f"{metrics['epochs']:.1f}" if "epochs" in metrics else "-"]
        psnr = f"{metrics['psnr_colorized']:.2f} ({metrics['psnr_gray']:.2f})" if "psnr_colorized" in metrics else "-"
        row.append(psnr)
        row += [format_cell(find(results, variant["name"], mode, k)) for k in budgets for mode in ("finetune", "probe")]
        rows.append(row)
    return Table(header, rows)


def analysis_blocks(study: dict[str, Any], out: Path) -> list[Block]:
    """Blocks (and figure files in ``out``) for every analysis the study ran."""
    analyses = study.get("analyses", {})
    if not analyses.get("comparisons") and not analyses.get("feature_change"):
        return []
    budgets = budget_keys(study["analyses"]["budgets"])
    blocks: list[Block] = [Heading("Analyses"), Paragraph(
        f"Extra pretraining runs of the same budget ({study['config']['pretrain_steps']} steps), transferred at k = "
        f"{', '.join(map(str, budgets))} with the study's draws. Cells: test accuracy / macro-F1, each ± std over draws. "
        "Held-out PSNR of the colorized pool images against the gray input's, in dB.")]
    for name, group in analyses.get("comparisons", {}).items():
        blocks += [Heading(TITLES[name], 3), _comparison_table(study, group, budgets, with_pool=name == "data")]
        path = out / f"analysis_{name}.png"
        if name == "data":
            pool_curve(study["results"], study["pretraining"], group, budgets, path)
        else:
            comparison_bars(study["results"], group, budgets, path)
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
