"""Compose the study report (report.md and a self-contained report.html) and its figures."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from proxytask.files import write_text_atomic
from proxytask.report.analyses import analysis_blocks
from proxytask.report.document import Block, Figure, Heading, Paragraph, Table, to_html, to_markdown
from proxytask.report.figures import budget_curves, confusion_figure, loss_curves
from proxytask.report.summary import SUPERVISED, budget_keys, find, format_cell, format_share, headline, winners
from proxytask.transfer.baselines import EIGENFACES
from proxytask.transfer.inits import RANDOM, RANDOM_RGB

CONFUSION_BUDGET = 10


def _inits(results: list[dict[str, Any]], mode: str) -> list[str]:
    order = {RANDOM: 0, RANDOM_RGB: 1, SUPERVISED: 9, EIGENFACES: 10}
    return sorted({r["init"] for r in results if r["mode"] == mode}, key=lambda name: (order.get(name, 5), name))


def results_table(results: list[dict[str, Any]], modes: list[str], budgets: list[Any]) -> Table:
    """Rows: (init, mode); columns: budgets; cells: accuracy / macro-F1 (mean ± std over draws)."""
    rows = []
    for mode in modes:
        for init in _inits(results, mode):
            input_kind = next(r["input"] for r in results if r["init"] == init and r["mode"] == mode)
            rows.append([init, mode, input_kind] + [format_cell(find(results, init, mode, k)) for k in budgets])
    return Table(["init", "mode", "input"] + [f"k={k}" for k in budgets], rows)


def best_model(records: list[dict[str, Any]], results: list[dict[str, Any]], budget: Any) -> tuple[str, str, list[dict[str, Any]]] | None:
    """(init, mode, its job records over draws) of the most accurate model at ``budget``."""
    candidates = [r for r in results if r["k"] == budget and r["mode"] in ("finetune", "svm")]
    if not candidates:
        return None
    best = max(candidates, key=lambda r: r["accuracy_mean"])
    jobs = [j for j in records if j["init"] == best["init"] and j["mode"] == best["mode"] and j["k"] == budget]
    return best["init"], best["mode"], jobs


def per_class_table(jobs: list[dict[str, Any]], class_names: list[str]) -> Table:
    """Precision, recall, F1 and test support per class, mean over draws."""
    rows = []
    for name in class_names:
        entries = [job["per_class"][name] for job in jobs]
        rows.append([name.replace("_", " ")] + [f"{np.mean([e[m] for e in entries]):.3f}" for m in ("precision", "recall", "f1-score")]
                    + [str(int(entries[0]["support"]))])
    return Table(["class", "precision", "recall", "F1", "test images"], rows)


def write_report(study: dict[str, Any], out: Path) -> None:
    """Write the figures, report.md and report.html of a finished study into ``out``."""
    config, records = study["config"], study["jobs"]
    comparisons = study.get("analyses", {}).get("comparisons", {})
    variants = {v["name"] for group in comparisons.values() for v in group} - set(config["tasks"])
    results = [r for r in study["results"] if r["init"] not in variants]  # analysis runs have their own section
    budgets = budget_keys(config["budgets"])
    proxies = list(config["tasks"])
    downstream = study["downstream"]
    blocks: list[Block] = [Heading(f"proxytask study: {config['pretrain']['data']['downstream']}", 1)]
    counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in downstream["images_per_class"].items())
    blocks.append(Paragraph(
        f"Preset {config['preset']} on {study['device']}; backbone {config['pretrain']['model']['backbone']}; "
        f"{downstream['images']} images in {len(downstream['classes'])} classes ({counts}). Stratified 75/25 "
        f"train/test split (seed 42), a 15% validation part of train for every choice, k labeled images per "
        f"class drawn {config['draws']} times (seeds 0..{config['draws'] - 1}) for k < all. Cells: test accuracy / "
        f"macro-F1, mean ± standard deviation over draws."))

    blocks.append(Heading("Headline: share of the random-to-supervised gap closed (fine-tuning)"))
    head = headline(results, proxies, budgets)
    blocks.append(Table(["proxy task", "k", "random init", "gap closed (accuracy)", "gap closed (macro-F1)", "margin over random (accuracy, stds)"],
                        [[h["task"], str(h["k"]), h["random"], format_share(h["gap_closed_accuracy"]), format_share(h["gap_closed_macro_f1"]),
                          "n/a" if h["margin_over_random_accuracy_stds"] is None else f"{h['margin_over_random_accuracy_stds']:.1f}"]
                         for h in head]))
    blocks.append(Paragraph("Gap closed = (proxy - random) / (supervised - random), where random is the random init "
                            "with the proxy task's own input (intensity for colorization, RGB for the RGB proxies) and "
                            "supervised is identity pretraining on the pool (intensity input). The margin is the "
                            "difference of means in units of the larger standard deviation over draws."))

    if len(proxies) > 1:
        blocks.append(Heading("Which proxy task wins (fine-tuning accuracy)", 3))
        blocks.append(Table(["k", "best proxy", "accuracy", "runner-up", "accuracy", "difference (stds)"],
                            [[str(w["k"]), w["best"], w["best_accuracy"], w["runner_up"], w["runner_up_accuracy"],
                              "n/a" if w["margin_stds"] is None else f"{w['margin_stds']:.1f}"] for w in winners(results, proxies, budgets)]))
    modes = [m for m in ("finetune", "svm", "probe", "knn") if any(r["mode"] == m for r in results)]
    blocks += [Heading("All results"), results_table(results, modes, budgets)]
    shorts = sorted({c for r in results for c in r["short_classes"]})
    if shorts:
        blocks.append(Paragraph(f"Classes with fewer training images than a budget asks for (all of theirs used): {', '.join(shorts)}."))

    figures: list[Figure] = []
    if any(r["mode"] in ("finetune", "svm") for r in results):
        budget_curves(results, budgets, ["finetune", "svm"], out / "budgets_finetune.png")
        figures.append(Figure(out / "budgets_finetune.png", "Fine-tuning (and eigenfaces + SVM): test accuracy and macro-F1 against labels per class"))
    if any(r["mode"] in ("probe", "knn") for r in results):
        budget_curves(results, budgets, ["probe", "knn"], out / "budgets_frozen.png")
        figures.append(Figure(out / "budgets_frozen.png", "Frozen features: linear probe and k-NN"))
    budget = CONFUSION_BUDGET if CONFUSION_BUDGET in budgets else budgets[0]
    best = best_model(records, results, budget)
    if best is not None:
        init, mode, jobs = best
        confusion = np.sum([np.array(job["confusion"]) for job in jobs], axis=0)
        confusion_figure(confusion, downstream["classes"], f"{init} ({mode}), k={budget}, summed over draws",
                         out / "confusion_best.png")
        figures.append(Figure(out / "confusion_best.png", f"Confusion matrix of the most accurate model at k={budget}: {init} ({mode})"))
        blocks += [Heading(f"Per class: {init} ({mode}) at k={budget}, mean over draws", 3), per_class_table(jobs, downstream["classes"])]
    blocks += analysis_blocks(study, out)
    main_runs = [*proxies, SUPERVISED]
    runs = {task: out / "pretrain" / task for task in study["pretraining"] if task in main_runs}
    loss_curves(runs, out / "pretrain_loss.png")
    figures.append(Figure(out / "pretrain_loss.png", "Pretraining loss curves"))
    for task, run_dir in runs.items():
        if (run_dir / "gallery.png").is_file():
            shutil.copyfile(run_dir / "gallery.png", out / f"gallery_{task}.png")
            figures.append(Figure(out / f"gallery_{task}.png", f"{task}: held-out pool images"))
    blocks.append(Heading("Figures"))
    blocks += figures

    blocks.append(Heading("Pretraining runs"))
    metric_names = sorted({k for m in study["pretraining"].values() for k, v in m.items() if isinstance(v, float)})
    blocks.append(Table(["task"] + metric_names, [[task] + [f"{m[k]:.4g}" if k in m else "-" for k in metric_names]
                                                  for task, m in study["pretraining"].items()]))
    blocks.append(Heading("Inputs"))
    blocks.append(Paragraph("Color pictures go to every model as they are; a backbone pretrained by colorization (and "
                            "the supervised and intensity random-init rows) reads their intensity, the mean of R, G and "
                            "B, so it never sees color; random-rgb reads RGB. The eigenfaces baseline reads gray 50x37 "
                            "crops as in the scikit-learn example. Every network sees the central 128x128 face crop "
                            f"resized to {config['pretrain']['data']['image_size']} px (random "
                            f"{config['pretrain']['data']['crop_size']} px crops and flips in training, the centre crop in "
                            "evaluation)."))
    write_text_atomic(out / "report.md", to_markdown(blocks, out))
    write_text_atomic(out / "report.html", to_html(blocks, "proxytask study"))
