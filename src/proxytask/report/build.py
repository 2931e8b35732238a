"""Compose the study report (report.md and a self-contained report.html) and its figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from proxytask.budgets import Budget, budget_name
from proxytask.files import printable, write_text_atomic
from proxytask.paired import Comparison, format_interval
from proxytask.records import JobRecord, PretrainingRecord, ResultRow, StudyResults, find
from proxytask.report.analyses import analysis_blocks
from proxytask.report.charts import budget_figures, forest_figure, split_counts
from proxytask.report.claims import claim_rows, limits_text
from proxytask.report.document import Block, Bullets, Figure, Heading, Paragraph, Table, to_html, to_markdown
from proxytask.report.figures import draw_confusion, draw_loss_curves, save_png
from proxytask.report.monitoring import monitor_blocks
from proxytask.report.slides import write_slides
from proxytask.report.summary import (
    SUPERVISED,
    format_cell,
    format_share,
    headline,
    pool_pictures,
    pretraining_budget,
    ranking,
    winners,
)
from proxytask.report.verdicts import design, summary_sentences
from proxytask.runs import RunFolder
from proxytask.tasks import task_class
from proxytask.transfer.baselines import EIGENFACES
from proxytask.transfer.inits import RANDOM, RANDOM_RGB
from proxytask.transfer.modes import FINETUNE, MODES, PROBE

CONFUSION_BUDGET = 10


def downstream_gallery(out: Path, run: str) -> Path:
    """Where the study puts colorization run ``run``'s gallery of downstream test faces, for the report."""
    return out / f"gallery_{run}_downstream.png"


def photo_folder(out: Path, run: str) -> Path:
    """Where the study puts the figures of the user's photos colorized by ``run`` (``--gallery``)."""
    return out / "photos" / run

SOLVED_SHARE = 0.99
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
        rows.append([printable(name).replace("_", " ")] + [f"{np.mean([e[m] for e in entries]):.3f}" for m in ("precision", "recall", "f1-score")]
                    + [str(int(entries[0]["support"]))])
    return Table(["class", "precision", "recall", "F1", "test images"], rows)


GLOSSARY = [
    ("proxy task", "a task whose labels come free with the pictures (colour a gray face, undo a rotation, ...); pretraining "
                   "on it over the unlabeled pool gives a network's starting weights"),
    ("init", "the weights the downstream classifier starts from: random init (random weights: the floor), a proxy task's "
             "network, supervised pretraining on the pool's identity labels (the ceiling), or the eigenfaces baseline"),
    ("pool", "the unlabeled pictures the proxy tasks learn from (never a downstream picture)"),
    ("intensity", "the gray (lightness) channel: every init of the main tables reads only it, so colour cannot explain a difference"),
    ("k", "labeled images per class the downstream classifier may read; nothing else labeled influences a result at k"),
    ("draw", "one random choice of those k images per class; every init sees the same draws"),
    ("pretraining seed", "one pretraining run of an init (random init: one set of random weights); another seed is another network"),
    ("fine-tuning / linear probe / k-NN", "train the whole network on the k labels / a logistic regression on its frozen "
                                          "features / nearest neighbours on its frozen features"),
    ("paired difference, points", "one init's test accuracy minus another's on the same draws and seeds, in percentage points"),
    ("95% interval, told apart", "the interval covers the spread over pretraining seeds and label draws; two inits are told "
                                 "apart (one is better) only where it excludes zero, and 'not shown' is not 'no effect'"),
    ("detectable difference", "the smallest true difference this study's seeds and draws find with 80% probability"),
    ("gap closed", "(proxy - random) / (supervised - random): the share of what supervised pretraining gains that a proxy task recovers"),
]


def _intro_blocks(study: StudyResults) -> list[Block]:
    """The title and what the study asks, in words."""
    downstream, config = study.downstream, study.config
    classes = ", ".join(printable(name).replace("_", " ") for name in downstream["classes"])
    pool = pool_pictures(study)
    pool_words = f"{pool:,} unlabeled pool pictures" if pool else "the unlabeled pool"
    ceiling = " and pretrained on the pool's identity labels (the ceiling)" if SUPERVISED in study.main_inits else ""
    return [Heading(f"proxytask study: {config['pretrain']['data']['downstream']}", 1), Paragraph(
        f"Does pretraining on a proxy task help to tell {len(downstream['classes'])} classes apart ({classes}) when only a few "
        f"labeled pictures per class are given? Each proxy task pretrained a network on {pool_words}; each network was then "
        f"trained on k labeled pictures per class and scored on {sum(split_counts(study).values())} held-out test pictures, "
        f"against the same network from random weights (the floor){ceiling}.")]


def _setup_blocks(study: StudyResults) -> list[Block]:
    config, downstream = study.config, study.downstream
    counts = ", ".join(f"{printable(name).replace('_', ' ')} {n}" for name, n in downstream["images_per_class"].items())
    pretrain = config["pretrain"]
    blocks: list[Block] = [Heading("How the study was run"), Paragraph(
        f"Preset {config['preset']}; backbone {pretrain['model']['backbone']}; {downstream['images']} images in "
        f"{len(downstream['classes'])} classes ({counts}). Every init in the main tables reads the same input "
        f"({pretrain['input']}); {pretraining_budget(config)}. Stratified 75/25 train/test split (seed 42); k labeled images per class drawn "
        f"from train, {config['draws']} draws for fine-tuning and {config['frozen_draws']} for the linear probe, k-NN and "
        f"eigenfaces (every init sees the same draws, and fine-tuning seed d goes with draw d); every trained init pretrained "
        f"with {config.get('pretrain_seeds', 1)} seed(s), random init with as many weight seeds (seed s of every init on draw "
        "d). Table cells: test accuracy / macro-F1, mean ± standard deviation over the seeds and draws of each row.")]
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
    below = (f"; differences below {comparison.detectable:.3f} cannot be told apart with {design(comparison)} (80% power)"
             if comparison.detectable else "")
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
    note = _pretext_note(pretraining)
    return blocks + ([Paragraph(note)] if note else [])


def _time_blocks(stages: dict[str, float]) -> list[Block]:
    total = sum(stages.values()) or 1.0
    ranked = sorted(stages.items(), key=lambda item: -item[1])
    rows = [[stage, f"{seconds:.0f}", f"{seconds / total:.1%}"] for stage, seconds in ranked]
    return [Heading("Where the time went"), Table(["stage", "seconds", "share"], rows), Paragraph(
        f"Seconds of computation per stage, summed over the jobs of the study whenever they ran (pretraining: its "
        f"training loop); {total:.0f} s in all. The first linear-probe job of each init includes extracting its frozen "
        f"features. Writing this report is timed after it is written: its seconds are in results.json.")]


def _summary_blocks(study: StudyResults, proxies: list[str], out: Path) -> list[Block]:
    """The verdict in words (fine-tuning, then the linear probe) and the forest plot of fine-tuning."""
    inits = [*proxies, SUPERVISED]
    blocks: list[Block] = [Heading("Summary"), Paragraph(
        "Each sentence is generated from a paired comparison of test accuracy (differences in percentage points, 95% "
        "interval over pretraining seeds and label draws): 'beats' and 'is below' only where the interval excludes zero.")]
    for mode in (FINETUNE, PROBE):
        sentences = summary_sentences(study, inits, study.budgets, mode)
        if sentences:
            blocks += [Heading(MODES[mode].stage.capitalize(), 3), Bullets(sentences)]
    forest = forest_figure(study, inits, FINETUNE, out)
    return blocks + ([Heading("The comparison in one picture", 3), forest] if forest is not None else [])


def _pretext_note(pretraining: list[PretrainingRecord]) -> str:
    """A comment on pretext tasks solved on held-out pictures (a share of 0.99 or more)."""
    solved = sorted({r.name for r in pretraining for key, label in task_class(r.task).pretext_metrics.items()
                     if label.startswith("held-out share") and r.metrics.get(key, 0.0) >= SOLVED_SHARE})
    if not solved:
        return ""
    return (f"{', '.join(solved)}: the pretext task is solved on held-out pictures (a share of {SOLVED_SHARE} or more), so "
            "its loss no longer pushes the features once it is solved; how much they help is what the transfer tables measure.")


def _gallery_figures(study: StudyResults, out: Path) -> list[Figure]:
    """Each main run's held-out pool gallery (seed 0), copied beside the report, and where the study made
    them, a colorization run's gallery of downstream test faces and its figures of the user's photos."""
    figures = []
    for record in study.pretraining:
        if record.name not in study.main_inits or record.seed != 0:
            continue
        gallery = RunFolder(out / record.folder).gallery
        if gallery.is_file():
            shutil.copyfile(gallery, out / f"gallery_{record.name}.png")
            figures.append(Figure(out / f"gallery_{record.name}.png", f"{record.name} on held-out pool pictures (seed 0)"))
        downstream = downstream_gallery(out, record.name)
        if downstream.is_file():
            figures.append(Figure(downstream, f"{record.name} (seed 0) colorizing test faces of the downstream task"))
        figures += [Figure(photo, f"{record.name} (seed 0) colorizing {photo.stem} (your photo, at its full size where it fits)")
                    for photo in sorted(photo_folder(out, record.name).glob("*.png"))]
    return figures


def _loss_figure(study: StudyResults, out: Path) -> list[Figure]:
    """The main runs' loss curves (a panel per init, a line per seed), where their folders are beside the report."""
    runs: dict[str, list[tuple[int, RunFolder]]] = {}
    for record in study.pretraining:
        run = RunFolder(out / record.folder)
        if record.name in study.main_inits and run.log.is_file():
            runs.setdefault(record.name, []).append((record.seed, run))
    if not runs:
        return []
    save_png(draw_loss_curves(runs), out / "pretrain_loss.png")
    return [Figure(out / "pretrain_loss.png", "Pretraining loss against step, one panel per init (each on its own scale), one line per seed")]


def _claims_blocks(study: StudyResults) -> list[Block]:
    """The paper's claims beside this study's measurements, and what the study cannot show."""
    rows = claim_rows(study)
    if not rows:
        return []
    return [Heading("The paper's claims, checked"), Table(["claim (Larsson et al. 2017, and METHOD.md's numbers)", "the paper's evidence",
                                                          "our measurement [95% CI]", "verdict"],
                                                         [[r.claim, r.evidence, r.measurement, r.verdict] for r in rows]),
            Paragraph("Supported: our paired interval excludes zero in the claimed direction; contradicted: it excludes zero "
                      "the other way (for the gap closed: the interval excludes the paper's share); consistent: the gap closed's "
                      "interval holds the paper's share and excludes zero; not shown at this scale: it includes zero. Analyses the study did not run "
                      "(--analyses loss,data,head,feature-change) have no row."),
            Heading("What these experiments cannot show", 3), Paragraph(limits_text(study))]


def write_report(study: StudyResults, out: Path) -> None:
    """Write the figures, report.md, report.html and report.pdf of a finished study into ``out``."""
    config, records = study.config, study.jobs
    results = [r for r in study.rows if r.init in study.main_inits]  # variants have their own sections
    budgets = study.budgets
    proxies = list(config["tasks"])
    downstream = study.downstream
    blocks = _intro_blocks(study) + _summary_blocks(study, proxies, out) + _headline_blocks(study, results, proxies, budgets)
    blocks += [Heading("Words used here"), Table(["word", "meaning"], [list(entry) for entry in GLOSSARY])]
    blocks += _setup_blocks(study)
    modes = [m for m in TRAINED_MODES + FROZEN_MODES if any(r.mode == m for r in results)]
    blocks += [Heading("Paired differences in every mode (test accuracy, mean [95% CI] over seeds and draws)"),
               paired_table(study, results, modes, budgets)]
    blocks += [forest for mode in FROZEN_MODES if (forest := forest_figure(study, [*proxies, SUPERVISED], mode, out)) is not None]
    blocks += [Heading("Where the spread comes from (each init minus its random init, test accuracy)", 3),
               spread_table(study, results, modes, budgets), Paragraph(
                   "Standard deviations estimated from the paired differences: between pretraining seeds, between label "
                   "draws (shared by every seed), and what is left; with one seed the draw column holds all of it. The "
                   "last column is the smallest true difference the study detects with 80% power at two-sided 5%.")]
    blocks += [Heading("Scores against labels per class"), *budget_figures(study, results, proxies, out)]
    blocks += [Heading("All results", 3), results_table(results, modes, budgets)]
    shorts = sorted({c for r in results for c in r.short_classes})
    if shorts:
        blocks.append(Paragraph(f"Classes with fewer training images than a budget asks for (all of theirs used): {', '.join(shorts)}."))
    blocks += _degenerate_blocks(records)
    budget = CONFUSION_BUDGET if CONFUSION_BUDGET in budgets else budgets[0]
    best = best_model(study.table_jobs(), results, budget)
    if best is not None:
        init, mode, jobs = best
        confusion = np.sum([np.array(job.details["confusion"]) for job in jobs], axis=0)
        save_png(draw_confusion(confusion, downstream["classes"], f"{init} ({mode}), k={budget_name(budget)}, summed over seeds and draws"),
                 out / "confusion_best.png")
        blocks += [Heading(f"The most accurate model at k={budget_name(budget)}: {init} ({mode})", 3),
                   Figure(out / "confusion_best.png", f"Confusion matrix of {init} ({mode}) at k={budget_name(budget)}, summed "
                                                      "over seeds and draws (rows: the true person)"),
                   per_class_table(jobs, downstream["classes"])]
    blocks += analysis_blocks(study, out) + _claims_blocks(study)
    blocks += [Heading("Pretraining"), *_loss_figure(study, out), *monitor_blocks(study, out), *_gallery_figures(study, out)]
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
        f"the centre crop in evaluation). Computed on {study.device}."))
    write_text_atomic(out / "report.md", to_markdown(blocks, out))
    write_text_atomic(out / "report.html", to_html(blocks, "proxytask study"))
    write_slides(blocks, out / "report.pdf")
