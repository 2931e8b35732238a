"""Compose the study report (report.md and a self-contained report.html) and its figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from proxytask.budgets import Budget, budget_name
from proxytask.files import write_text_atomic
from proxytask.paired import Comparison, format_interval
from proxytask.records import JobRecord, PretrainingRecord, ResultRow, StudyResults, find
from proxytask.report.analyses import analysis_blocks
from proxytask.report.document import Block, Figure, Heading, Paragraph, Table, to_html, to_markdown
from proxytask.report.figures import budget_curves, confusion_figure, loss_curves
from proxytask.report.summary import SUPERVISED, format_cell, format_share, headline, ranking, winners
from proxytask.runs import RunFolder
from proxytask.tasks import task_class
from proxytask.transfer.baselines import EIGENFACES
from proxytask.transfer.inits import RANDOM, RANDOM_RGB
from proxytask.transfer.modes import MODES

CONFUSION_BUDGET = 10
# Modes in the report's order: the trained ones (and the eigenfaces baseline beside them), then the frozen ones.
TRAINED_MODES = [name for name, mode in MODES.items() if mode.trains_network or not mode.on_backbones]
FROZEN_MODES = [name for name in MODES if name not in TRAINED_MODES]


def _inits(rows: list[ResultRow], mode: str) -> list[str]:
    order = {RANDOM: 0, RANDOM_RGB: 1, SUPERVISED: 9, EIGENFACES: 10}
    return sorted({r.init for r in rows if r.mode == mode}, key=lambda name: (order.get(name, 5), name))


def results_table(rows: list[ResultRow], modes: list[str], budgets: list[Budget]) -> Table:
    """Rows: (init, mode); columns: budgets; cells: accuracy / macro-F1 (mean ± std over seeds and draws)."""
    table = []
    for mode in modes:
        for init in _inits(rows, mode):
            input_kind = next(r.input for r in rows if r.init == init and r.mode == mode)
            table.append([init, mode, input_kind] + [format_cell(find(rows, init, mode, k)) for k in budgets])
    return Table(["init", "mode", "input"] + [f"k={budget_name(k)}" for k in budgets], table)


def paired_table(study: StudyResults, rows: list[ResultRow], modes: list[str], budgets: list[Budget]) -> Table:
    """Rows: (init, mode, baseline); columns: budgets; cells: mean paired accuracy difference [95% CI]
    against the random init reading the init's input and against supervised pretraining."""
    table = []
    for mode in modes:
        for init in _inits(rows, mode):
            floors = {c.baseline for k in budgets if (c := study.floor(init, mode, k)) is not None}
            for baseline in [*sorted(floors), SUPERVISED]:
                cells = [format_interval(study.comparison(init, baseline, mode, k)) for k in budgets]
                if any(cell != "-" for cell in cells):
                    table.append([init, mode, f"minus {baseline}"] + cells)
    return Table(["init", "mode", "difference"] + [f"k={budget_name(k)}" for k in budgets], table)


def spread_table(study: StudyResults, rows: list[ResultRow], modes: list[str], budgets: list[Budget]) -> Table:
    """Per init's comparison with its random init: seeds x draws, the estimated spread of each source
    (pretraining seed, label draw, the rest) and the smallest difference the study could detect."""
    table = []
    for mode in modes:
        for init in _inits(rows, mode):
            for k in budgets:
                c = study.floor(init, mode, k)
                if c is None:
                    continue
                table.append([init, mode, budget_name(k), f"{c.n_seeds} x {c.n_draws}", _sd(c.seed_sd), _sd(c.draw_sd),
                              _sd(c.residual_sd), _sd(c.detectable)])
    return Table(["init", "mode", "k", "seeds x draws", "pretraining seed sd", "label draw sd", "rest sd",
                  "smallest detectable difference"], table)


def _sd(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def best_model(jobs: list[JobRecord], rows: list[ResultRow], budget: Budget) -> tuple[str, str, list[JobRecord]] | None:
    """(init, mode, its job records over seeds and draws) of the most accurate model at ``budget``."""
    candidates = [r for r in rows if r.k == budget and r.mode in TRAINED_MODES]
    if not candidates:
        return None
    best = max(candidates, key=lambda r: r.mean["accuracy"])
    return best.init, best.mode, [j for j in jobs if (j.init, j.mode, j.k) == (best.init, best.mode, budget)]


def per_class_table(jobs: list[JobRecord], class_names: list[str]) -> Table:
    """Precision, recall, F1 and test support per class, mean over draws."""
    rows = []
    for name in class_names:
        entries = [job.details["per_class"][name] for job in jobs]
        rows.append([name.replace("_", " ")] + [f"{np.mean([e[m] for e in entries]):.3f}" for m in ("precision", "recall", "f1-score")]
                    + [str(int(entries[0]["support"]))])
    return Table(["class", "precision", "recall", "F1", "test images"], rows)


def _setup_blocks(study: StudyResults) -> list[Block]:
    config, downstream = study.config, study.downstream
    counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in downstream["images_per_class"].items())
    pretrain = config["pretrain"]
    blocks: list[Block] = [Heading(f"proxytask study: {pretrain['data']['downstream']}", 1), Paragraph(
        f"Preset {config['preset']} on {study.device}; backbone {pretrain['model']['backbone']}; "
        f"{downstream['images']} images in {len(downstream['classes'])} classes ({counts}). Every initialisation in the "
        f"main tables reads the same input ({pretrain['input']}); every pretraining run saw the same number of pool "
        f"images ({config['pretrain_steps']} steps of {pretrain['train']['batch_size']}). Stratified 75/25 train/test split "
        f"(seed 42); k labeled images per class drawn from train, {config['draws']} draws for fine-tuning and "
        f"{config['frozen_draws']} for the linear probe, k-NN and eigenfaces (seeds 0, 1, ...; every init sees the same "
        f"draws, and fine-tuning seed d goes with draw d); every trained init pretrained with {config.get('pretrain_seeds', 1)} "
        "seed(s), random init with as many weight seeds (seed s of every init on draw d). Cells: test accuracy / macro-F1, "
        "mean ± standard deviation over the seeds and draws of each row.")]
    blocks += [Heading("How every choice was made", 3),
               Table(["mode", "choice"], [[mode, text] for mode, text in study.selection.items()]),
               Paragraph("No label outside a budget's k per class influences any result at that budget: the test labels "
                         "are read only to score the final predictions.")]
    return blocks


def _verdict(comparison: Comparison | None) -> str:
    """A headline cell: the difference and interval where it excludes zero, else "not shown" with the
    smallest difference the study could have detected."""
    if comparison is None or comparison.ci_low is None:
        return format_interval(comparison)
    if comparison.interval.excludes_zero:
        return format_interval(comparison)
    below = (f"; differences below {comparison.detectable:.3f} cannot be told apart reliably with these {comparison.n_seeds} "
             f"seed(s) x {comparison.n_draws} draws (80% power)") if comparison.detectable else ""
    return f"not shown: {format_interval(comparison)}{below}"


def _headline_blocks(study: StudyResults, results: list[ResultRow], proxies: list[str], budgets: list[Budget]) -> list[Block]:
    rows = []
    for h in headline(study, results, proxies, budgets):
        random, supervised = (f"{row.mean['accuracy']:.3f}" if row else "-" for row in (h.random, h.supervised))
        floor = h.vs_random.baseline if h.vs_random is not None else RANDOM
        rows.append([h.task, budget_name(h.k), f"{random} / {h.proxy.mean['accuracy']:.3f} / {supervised}",
                     _verdict(h.vs_random) + ("" if floor == RANDOM else f" (against {floor})"), _verdict(h.vs_supervised),
                     format_share(h.gap_closed["accuracy"]), format_share(h.gap_closed["macro_f1"])])
    seeds = max((c.n_seeds for c in study.comparisons), default=1)
    spread = (f"over {seeds} pretraining seeds and the draws: a two-way interval (seed effect, draw effect, the rest) with "
              "Satterthwaite degrees of freedom, so a verdict covers another pretraining run as well as other labels"
              if seeds > 1 else "over the draws of one pretraining run per init: a Student-t interval that holds for that "
              "run only (set pretrain_seeds to 2 or more to cover the pretraining seed)")
    blocks: list[Block] = [Heading("Headline: each proxy task against random init and supervised pretraining (fine-tuning)"), Table(
        ["proxy task", "k", "accuracy: random / proxy / supervised", "proxy - random [95% CI]", "proxy - supervised [95% CI]",
         "gap closed (accuracy) [95% CI]", "gap closed (macro-F1) [95% CI]"], rows), Paragraph(
        f"Differences are paired (same labels, same fine-tuning seed on each draw) and their 95% intervals are {spread}. "
        "A proxy task is better than its baseline where the interval excludes zero; where it includes zero the "
        "difference is not shown either way (never 'no effect'), and the cell gives the smallest difference this "
        "study could detect (80% power, two-sided 5%). Each proxy is compared with a random init reading the same input "
        "and conversion (jigsaw: standardized per image). Gap closed = (proxy - random) / (supervised - random) with a "
        "Fieller interval (the numerator against the proxy's own random init), shown only where supervised minus random "
        "is itself significant: 'saturated' where its interval includes zero, 'below random' where the proxy is "
        "significantly below its random init (and 'not shown' where it is below with an interval including zero), "
        "'n/a (one draw)' where there is no interval (all labels: one draw).")]
    if len(proxies) > 1:
        blocks.append(Heading("Which proxy task wins (fine-tuning accuracy)", 3))
        blocks.append(Table(["k", "best proxy", "accuracy", "runner-up", "accuracy", "best - runner-up [95% CI]", "interval excludes zero"],
                            [[budget_name(w.k), w.best.init, f"{w.best.mean['accuracy']:.3f}", w.runner_up.init,
                              f"{w.runner_up.mean['accuracy']:.3f}", format_interval(w.difference), "yes" if w.settled else "no"]
                             for w in winners(study, results, proxies, budgets)]))
    if len(proxies) > 2:
        blocks.append(Heading("Every pair of proxy tasks (fine-tuning accuracy, higher minus lower [95% CI])", 3))
        for k in budgets:
            ranked, pairs = ranking(study, results, proxies, k)
            if len(ranked) > 2:
                blocks.append(Table([f"k={budget_name(k)}", *ranked[1:]], [[upper] + [_pair_cell(pairs.get((upper, lower))) for lower in ranked[1:]]
                                                                             for upper in ranked[:-1]]))
        blocks.append(Paragraph("Proxies ranked by mean accuracy; a pair is told apart where its interval excludes zero. "
                                "Each proxy reads its own input conversion here, as in the headline."))
    return blocks


def _pair_cell(comparison: Comparison | None) -> str:
    if comparison is None:
        return ""
    text = format_interval(comparison)
    return f"{text} told apart" if comparison.interval.excludes_zero else text


def _degenerate_blocks(jobs: list[JobRecord]) -> list[Block]:
    collapsed = [job for job in jobs if job.degenerate]
    text = ("A job is flagged when every test prediction falls in one class, or (fine-tuning) when its training loss "
            "never fell (mean of the last 10% of steps not below the first 10%). Cells marked !n hold n such jobs.")
    if not collapsed:
        return [Heading("Collapsed models", 3), Paragraph(f"None. {text}")]
    rows = [[job.init, job.mode, budget_name(job.k), str(job.draw), f"{job.accuracy:.3f}", str(job.predicted_classes),
             f"{job.details['loss_first']:.3f} -> {job.details['loss_last']:.3f}" if "loss_first" in job.details else "-"]
            for job in collapsed]
    return [Heading("Collapsed models", 3), Paragraph(text),
            Table(["init", "mode", "k", "draw", "accuracy", "classes predicted", "training loss first -> last"], rows)]


def _pretraining_blocks(pretraining: list[PretrainingRecord]) -> list[Block]:
    budget = [[r.name, str(r.seed), str(r.metrics.get("input", "-")), str(r.metrics["steps"]), str(r.metrics.get("images_seen", "-")),
               f"{r.metrics['epochs']:.2f}", f"{r.metrics['train_seconds']:.0f}" if "train_seconds" in r.metrics else "-",
               f"{r.metrics['flops_per_image'] / 1e9:.2f}" if "flops_per_image" in r.metrics else "-"] for r in pretraining]
    blocks: list[Block] = [Heading("Pretraining runs"), Table(
        ["run", "seed", "input", "steps", "pool images seen", "epochs of its pool", "training seconds",
         "GFLOP per image (forward + backward)"], budget)]
    pretext = [[r.name, str(r.seed), label, f"{r.metrics[key]:.4g}" if key in r.metrics else "-"]
               for r in pretraining for key, label in task_class(r.task).pretext_metrics.items()]
    blocks += [Heading("Pretext tasks on held-out pool pictures", 3), Table(["run", "seed", "measure", "value"], pretext)]
    return blocks


def _time_blocks(stages: dict[str, float]) -> list[Block]:
    total = sum(stages.values()) or 1.0
    ranked = sorted(stages.items(), key=lambda item: -item[1])
    rows = [[stage, f"{seconds:.0f}", f"{seconds / total:.1%}"] for stage, seconds in ranked]
    return [Heading("Where the time went"), Table(["stage", "seconds", "share"], rows), Paragraph(
        f"Seconds of computation per stage, summed over the jobs of the study whenever they ran (pretraining: its "
        f"training loop); {total:.0f} s in all. The first linear-probe job of each init includes extracting its frozen "
        f"features. Writing this report is timed after it is written: its seconds are in results.json.")]


def write_report(study: StudyResults, out: Path) -> None:
    """Write the figures, report.md and report.html of a finished study into ``out``."""
    config, records = study.config, study.jobs
    results = [r for r in study.rows if r.init in study.main_inits]  # variants have their own sections
    budgets = study.budgets
    proxies = list(config["tasks"])
    downstream = study.downstream
    blocks = _setup_blocks(study) + _headline_blocks(study, results, proxies, budgets)
    modes = [m for m in TRAINED_MODES + FROZEN_MODES if any(r.mode == m for r in results)]
    blocks += [Heading("Paired differences in every mode (test accuracy, mean [95% CI] over seeds and draws)"),
               paired_table(study, results, modes, budgets),
               Heading("Where the spread comes from (each init minus its random init, test accuracy)", 3),
               spread_table(study, results, modes, budgets), Paragraph(
                   "Standard deviations estimated from the paired differences: between pretraining seeds, between label "
                   "draws (shared by every seed), and what is left; with one seed the draw column holds all of it. The "
                   "last column is the smallest true difference the study detects with 80% power at two-sided 5%.")]
    blocks += [Heading("All results"), results_table(results, modes, budgets)]
    shorts = sorted({c for r in results for c in r.short_classes})
    if shorts:
        blocks.append(Paragraph(f"Classes with fewer training images than a budget asks for (all of theirs used): {', '.join(shorts)}."))
    blocks += _degenerate_blocks(records)

    figures: list[Figure] = []
    if any(r.mode in TRAINED_MODES for r in results):
        budget_curves(results, budgets, TRAINED_MODES, out / "budgets_finetune.png")
        figures.append(Figure(out / "budgets_finetune.png",
                              "Fine-tuning (and eigenfaces + SVM): test accuracy and macro-F1 against labels per class"))
    if any(r.mode in FROZEN_MODES for r in results):
        budget_curves(results, budgets, FROZEN_MODES, out / "budgets_frozen.png")
        figures.append(Figure(out / "budgets_frozen.png", "Frozen features: linear probe and k-NN"))
    budget = CONFUSION_BUDGET if CONFUSION_BUDGET in budgets else budgets[0]
    best = best_model(study.table_jobs(), results, budget)
    if best is not None:
        init, mode, jobs = best
        confusion = np.sum([np.array(job.details["confusion"]) for job in jobs], axis=0)
        confusion_figure(confusion, downstream["classes"], f"{init} ({mode}), k={budget_name(budget)}, summed over draws",
                         out / "confusion_best.png")
        figures.append(Figure(out / "confusion_best.png",
                              f"Confusion matrix of the most accurate model at k={budget_name(budget)}: {init} ({mode})"))
        blocks += [Heading(f"Per class: {init} ({mode}) at k={budget_name(budget)}, mean over draws", 3),
                   per_class_table(jobs, downstream["classes"])]
    blocks += analysis_blocks(study, out)
    main_runs = [record for record in study.pretraining if record.name in study.main_inits]
    several_seeds = len({record.seed for record in main_runs}) > 1
    runs = {record.name + (f" seed {record.seed}" if several_seeds else ""): RunFolder(out / record.folder) for record in main_runs}
    loss_curves(runs, out / "pretrain_loss.png")
    figures.append(Figure(out / "pretrain_loss.png", "Pretraining loss curves"))
    for record in main_runs:
        gallery = RunFolder(out / record.folder).gallery
        if record.seed == 0 and gallery.is_file():
            shutil.copyfile(gallery, out / f"gallery_{record.name}.png")
            figures.append(Figure(out / f"gallery_{record.name}.png", f"{record.name}: held-out pool images"))
    blocks.append(Heading("Figures"))
    blocks += figures
    blocks += _pretraining_blocks(study.pretraining)
    blocks += _time_blocks(study.time_by_stage)
    data = config["pretrain"]["data"]
    blocks.append(Heading("Inputs"))
    blocks.append(Paragraph(
        f"Color pictures go to every model as they are; each backbone converts them to the input it was pretrained on "
        f"(saved with its run as input.json): here {config['pretrain']['input']} for every init of the main tables. "
        "Jigsaw standardizes each tile in pretraining and each whole image in transfer, and is compared with a random "
        "init reading the same standardized input (random-standardized); the others scale to [-1, 1]. The "
        "eigenfaces baseline reads gray 50x37 crops as in the scikit-learn example. Every network sees the central "
        f"128x128 face crop resized to {data['image_size']} px (random {data['crop_size']} px crops and flips in training, "
        "the centre crop in evaluation)."))
    write_text_atomic(out / "report.md", to_markdown(blocks, out))
    write_text_atomic(out / "report.html", to_html(blocks, "proxytask study"))
