"""Compose the study report (report.md and a self-contained report.html) and its figures."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from proxytask.files import write_text_atomic
from proxytask.paired import format_interval
from proxytask.report.analyses import analysis_blocks
from proxytask.report.document import Block, Figure, Heading, Paragraph, Table, to_html, to_markdown
from proxytask.report.figures import budget_curves, confusion_figure, loss_curves
from proxytask.report.summary import SUPERVISED, budget_keys, find, find_comparison, format_cell, format_share, headline, winners
from proxytask.transfer.baselines import EIGENFACES
from proxytask.transfer.inits import RANDOM, RANDOM_RGB

CONFUSION_BUDGET = 10
MODES = ("finetune", "svm", "probe", "knn")


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


def paired_table(results: list[dict[str, Any]], comparisons: list[dict[str, Any]], modes: list[str], budgets: list[Any]) -> Table:
    """Rows: (init, mode, baseline); columns: budgets; cells: mean paired accuracy difference [95% CI]."""
    rows = []
    for mode in modes:
        for init in _inits(results, mode):
            for baseline in (RANDOM, SUPERVISED):
                cells = [format_interval(find_comparison(comparisons, init, baseline, mode, k)) for k in budgets]
                if any(cell != "-" for cell in cells):
                    rows.append([init, mode, f"minus {baseline}"] + cells)
    return Table(["init", "mode", "difference"] + [f"k={k}" for k in budgets], rows)


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


def _setup_blocks(study: dict[str, Any]) -> list[Block]:
    config, downstream = study["config"], study["downstream"]
    counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in downstream["images_per_class"].items())
    pretrain = config["pretrain"]
    blocks: list[Block] = [Heading(f"proxytask study: {pretrain['data']['downstream']}", 1), Paragraph(
        f"Preset {config['preset']} on {study['device']}; backbone {pretrain['model']['backbone']}; "
        f"{downstream['images']} images in {len(downstream['classes'])} classes ({counts}). Every initialisation in the "
        f"main tables reads the same input ({pretrain['input']}); every pretraining run saw the same number of pool "
        f"images ({config['pretrain_steps']} steps of {pretrain['train']['batch_size']}). Stratified 75/25 train/test split "
        f"(seed 42); k labeled images per class drawn from train, {config['draws']} draws for fine-tuning and "
        f"{config['frozen_draws']} for the linear probe, k-NN and eigenfaces (seeds 0, 1, ...; every init sees the same "
        "draws, and fine-tuning seed d goes with draw d). Cells: test accuracy / macro-F1, mean ± standard deviation over draws.")]
    blocks += [Heading("How every choice was made", 3),
               Table(["mode", "choice"], [[mode, text] for mode, text in study["selection"].items()]),
               Paragraph("No label outside a budget's k per class influences any result at that budget: the test labels "
                         "are read only to score the final predictions.")]
    return blocks


def _headline_blocks(study: dict[str, Any], results: list[dict[str, Any]], proxies: list[str], budgets: list[Any]) -> list[Block]:
    comparisons = study["comparisons"]
    rows = []
    for h in headline(results, comparisons, proxies, budgets):
        random, supervised = (f"{h[name]['accuracy_mean']:.3f}" if h[name] else "-" for name in ("random", "supervised"))
        rows.append([h["task"], str(h["k"]), f"{random} / {h['proxy']['accuracy_mean']:.3f} / {supervised}",
                     format_interval(h["vs_random"]), format_interval(h["vs_supervised"]),
                     format_share(h["gap_closed_accuracy"]), format_share(h["gap_closed_macro_f1"])])
    blocks: list[Block] = [Heading("Headline: each proxy task against random init and supervised pretraining (fine-tuning)"), Table(
        ["proxy task", "k", "accuracy: random / proxy / supervised", "proxy - random [95% CI]", "proxy - supervised [95% CI]",
         "gap closed (accuracy)", "gap closed (macro-F1)"], rows), Paragraph(
        "Differences are paired over draws (same labels, same fine-tuning seed): the mean difference in test accuracy "
        "with a 95% Student-t interval; a proxy task is better than its baseline where the interval excludes zero. Gap "
        "closed = (proxy - random) / (supervised - random), shown only where supervised minus random is itself "
        "significant: 'saturated' where its interval includes zero, 'n/a (one draw)' where there is no interval "
        "(all labels: one draw).")]
    if len(proxies) > 1:
        blocks.append(Heading("Which proxy task wins (fine-tuning accuracy)", 3))
        blocks.append(Table(["k", "best proxy", "accuracy", "runner-up", "accuracy", "best - runner-up [95% CI]", "interval excludes zero"],
                            [[str(w["k"]), w["best"], f"{w['best_accuracy']:.3f}", w["runner_up"], f"{w['runner_up_accuracy']:.3f}",
                              format_interval(w["difference"]), "yes" if w["settled"] else "no"]
                             for w in winners(study["jobs"], results, proxies, budgets)]))
    return blocks


def _degenerate_blocks(jobs: list[dict[str, Any]]) -> list[Block]:
    collapsed = [job for job in jobs if job.get("degenerate")]
    text = ("A job is flagged when every test prediction falls in one class, or (fine-tuning) when its training loss "
            "never fell (mean of the last 10% of steps not below the first 10%). Cells marked !n hold n such jobs.")
    if not collapsed:
        return [Heading("Collapsed models", 3), Paragraph(f"None. {text}")]
    rows = [[job["init"], job["mode"], str(job["k"]), str(job["draw"]), f"{job['accuracy']:.3f}", str(job["predicted_classes"]),
             f"{job['loss_first']:.3f} -> {job['loss_last']:.3f}" if "loss_first" in job else "-"] for job in collapsed]
    return [Heading("Collapsed models", 3), Paragraph(text),
            Table(["init", "mode", "k", "draw", "accuracy", "classes predicted", "training loss first -> last"], rows)]


def _pretraining_blocks(pretraining: dict[str, dict[str, Any]]) -> list[Block]:
    budget = [[task, str(m.get("input", "-")), str(m["steps"]), str(m.get("images_seen", "-")), f"{m['epochs']:.2f}",
               f"{m['train_seconds']:.0f}" if "train_seconds" in m else "-",
               f"{m['flops_per_image'] / 1e9:.2f}" if "flops_per_image" in m else "-"] for task, m in pretraining.items()]
    blocks: list[Block] = [Heading("Pretraining runs"), Table(
        ["run", "input", "steps", "pool images seen", "epochs of its pool", "training seconds", "GFLOP per image (forward + backward)"], budget)]
    metric_names = sorted({k for m in pretraining.values() for k, v in m.items() if isinstance(v, float)}
                          - {"epochs", "train_seconds", "flops_per_image"})
    blocks.append(Table(["run"] + metric_names, [[task] + [f"{m[k]:.4g}" if k in m else "-" for k in metric_names]
                                                 for task, m in pretraining.items()]))
    return blocks


def _time_blocks(stages: dict[str, float]) -> list[Block]:
    total = sum(stages.values()) or 1.0
    ranked = sorted(stages.items(), key=lambda item: -item[1])
    rows = [[stage, f"{seconds:.0f}", f"{seconds / total:.1%}"] for stage, seconds in ranked]
    return [Heading("Where the time went"), Table(["stage", "seconds", "share"], rows), Paragraph(
        f"Seconds of computation per stage, summed over the jobs of the study whenever they ran (pretraining: its "
        f"training loop); {total:.0f} s in all. The first linear-probe job of each init includes extracting its frozen "
        f"features. Writing this report is timed after it is written: its seconds are in results.json.")]


def write_report(study: dict[str, Any], out: Path) -> None:
    """Write the figures, report.md and report.html of a finished study into ``out``."""
    config, records = study["config"], study["jobs"]
    variants = set(study["analyses"]["runs"])
    results = [r for r in study["results"] if r["init"] not in variants]  # analysis runs have their own section
    budgets = budget_keys(config["budgets"])
    proxies = list(config["tasks"])
    downstream = study["downstream"]
    blocks = _setup_blocks(study) + _headline_blocks(study, results, proxies, budgets)
    modes = [m for m in MODES if any(r["mode"] == m for r in results)]
    blocks += [Heading("Paired differences in every mode (test accuracy, mean [95% CI] over draws)"),
               paired_table(results, study["comparisons"], modes, budgets)]
    blocks += [Heading("All results"), results_table(results, modes, budgets)]
    shorts = sorted({c for r in results for c in r["short_classes"]})
    if shorts:
        blocks.append(Paragraph(f"Classes with fewer training images than a budget asks for (all of theirs used): {', '.join(shorts)}."))
    blocks += _degenerate_blocks(records)

    figures: list[Figure] = []
    if any(r["mode"] in ("finetune", "svm") for r in results):
        budget_curves(results, budgets, ["finetune", "svm"], out / "budgets_finetune.png")
        figures.append(Figure(out / "budgets_finetune.png",
                              "Fine-tuning (and eigenfaces + SVM): test accuracy and macro-F1 against labels per class"))
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
    blocks += _pretraining_blocks(study["pretraining"])
    blocks += _time_blocks(study["time_by_stage"])
    data = config["pretrain"]["data"]
    blocks.append(Heading("Inputs"))
    blocks.append(Paragraph(
        f"Color pictures go to every model as they are; each backbone converts them to the input it was pretrained on "
        f"(saved with its run as input.json): here {config['pretrain']['input']} for every init of the main tables. "
        "Jigsaw standardizes each tile in pretraining and each whole image in transfer; the others scale to [-1, 1]. The "
        "eigenfaces baseline reads gray 50x37 crops as in the scikit-learn example. Every network sees the central "
        f"128x128 face crop resized to {data['image_size']} px (random {data['crop_size']} px crops and flips in training, "
        "the centre crop in evaluation)."))
    write_text_atomic(out / "report.md", to_markdown(blocks, out))
    write_text_atomic(out / "report.html", to_html(blocks, "proxytask study"))
