"""The report's sections for the variant sets (the paper's analyses and the user's ``--vary``) and
for how much fine-tuning changes each stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure as PlotFigure

from proxytask.budgets import Budget, budget_name, parse_budget
from proxytask.paired import format_interval
from proxytask.records import StudyResults, find
from proxytask.report.charts import score_interval
from proxytask.report.document import Block, Figure, Heading, Paragraph, Table
from proxytask.report.figures import Curve, draw_bars, draw_feature_change, draw_measure_curve, save_png
from proxytask.report.summary import format_cell, pretraining_budget
from proxytask.tasks import task_class
from proxytask.transfer.inits import RANDOM
from proxytask.transfer.modes import FINETUNE, MODES, PROBE
from proxytask.variants import ALL_PAIRS, NO_PAIRS, VariantSet

FEATURE_CHANGE_NOTE = ("Paper (recollected, not checked against the PDF): fine-tuning changes the upper layers far more than "
                       "the lower ones, and a colorization-pretrained network changes more than an ImageNet-pretrained one.")
MEASURES = {"train_images": "unlabeled pretraining images"}


def _pretext(study: StudyResults, group: VariantSet) -> tuple[str, list[str]] | None:
    """The held-out pretext measure every member's task declares first, and each member's value; None when they differ."""
    firsts = {next(iter(task_class(member.variant.task).pretext_metrics), None) for member in group.members}
    key = firsts.pop() if len(firsts) == 1 else None
    if key is None:
        return None
    label = task_class(group.members[0].variant.task).pretext_metrics[key]
    values = []
    for member in group.members:  # the mean over the member's pretraining seeds
        found = [run.metrics[key] for seed in study.seeds_of(member.variant.name)
                 if (run := study.run(member.variant.name, seed)) is not None and key in run.metrics]
        values.append(f"{np.mean(found):.3g}" if found else "-")
    return label, values


def _members_table(study: StudyResults, group: VariantSet, budgets: list[Budget]) -> Table:
    """Per member: what differs, its pretraining measure (if the set is read against one), its pretext
    measure, fine-tuned and probed accuracy, and fine-tuned minus random init on its input."""
    header = ["run", "what differs"] + ([MEASURES.get(group.against, group.against), "epochs"] if group.against else [])
    pretext = _pretext(study, group)
    header += [pretext[0]] if pretext else []
    header += [f"{mode} k={budget_name(k)}" for k in budgets for mode in (FINETUNE, PROBE)]
    header += [f"finetune k={budget_name(k)} minus random [95% CI]" for k in budgets]
    rows = []
    for index, member in enumerate(group.members):
        name = member.variant.name
        run = study.run(name)
        row = [name, member.label]
        if group.against:
            metrics = run.metrics if run is not None else {}
            row += [str(metrics.get(group.against, "-")), f"{metrics['epochs']:.1f}" if "epochs" in metrics else "-"]
        row += [pretext[1][index]] if pretext else []
        row += [format_cell(find(study.rows, name, mode, k)) for k in budgets for mode in (FINETUNE, PROBE)]
        row += [format_interval(study.floor(name, FINETUNE, k)) for k in budgets]
        rows.append(row)
    return Table(header, rows)


def _pairs_table(study: StudyResults, group: VariantSet, budgets: list[Budget]) -> Table | None:
    """The set's paired differences: each later member minus each earlier one reading the same input."""
    pairs = list(dict.fromkeys((c.init, c.baseline) for c in study.comparisons if c.role == group.name))
    if not pairs:
        return None
    header = ["difference"] + [f"{mode} k={budget_name(k)} [95% CI]" for k in budgets for mode in (FINETUNE, PROBE)]
    rows = [[f"{init} minus {baseline}"] + [format_interval(next((c for c in study.comparisons if (c.init, c.baseline, c.mode, c.k, c.metric,
                                                                   c.role) == (init, baseline, mode, k, "accuracy", group.name)), None))
                                            for k in budgets for mode in (FINETUNE, PROBE)]
            for init, baseline in pairs]
    return Table(header, rows)


def _input_table(study: StudyResults, group: VariantSet, budgets: list[Budget]) -> Table:
    """Per member: its task's main form and the member, each against random init on its own input."""
    rows = []
    for member in group.members:
        for name, label in ((member.variant.task, "main input"), (member.variant.name, member.label)):
            row = [name, label]
            for k in budgets:
                row += [format_cell(find(study.rows, name, FINETUNE, k)), format_interval(study.floor(name, FINETUNE, k))]
            rows.append(row)
    header = ["run", "input"] + [h for k in map(budget_name, budgets)
                                 for h in (f"finetune k={k}", f"minus random, same input, k={k} [95% CI]")]
    return Table(header, rows)


def set_blocks(study: StudyResults, group: VariantSet, budgets: list[Budget], out: Path) -> list[Block]:
    """A variant set's section: its tables, its figure, its note."""
    blocks: list[Block] = [Heading(group.title, 3)]
    if group.pairing == NO_PAIRS:
        return blocks + [_input_table(study, group, budgets), Paragraph(group.note)]
    if group.pairing != ALL_PAIRS:  # a set of an earlier version (the seeds analysis): its comparisons are in every table now
        return []
    blocks.append(_members_table(study, group, budgets))
    pairs = _pairs_table(study, group, budgets)
    blocks += [pairs] if pairs is not None else []
    path = out / f"analysis_{''.join(c if c.isalnum() else '_' for c in group.name)}.png"
    save_png(_set_figure(study, group, budgets), path)
    return blocks + [Figure(path, f"{group.title}: fine-tuned and linear-probe test accuracy with 95% intervals over seeds and "
                                  "draws; random init fine-tuned as the gray line"), Paragraph(group.note)]


def _set_figure(study: StudyResults, group: VariantSet, budgets: list[Budget]) -> PlotFigure:
    """Bars per member and budget, or (a set read against a pretraining measure) accuracy against that measure."""
    names = [member.variant.name for member in group.members]
    reference = f"random init ({MODES[FINETUNE].stage})"
    floors = {k: (found.mean if (found := score_interval(study, RANDOM, FINETUNE, k)) else None) for k in budgets}
    if group.against:
        measures = [float(study.run(name).metrics[group.against]) for name in names]
        task = group.members[0].variant.task
        panels = [(f"k={budget_name(k)}, same number of pretraining steps",
                   [Curve(task, MODES[mode].stage, {x: found for x, name in zip(measures, names)
                                                    if (found := score_interval(study, name, mode, k)) is not None}, style)
                    for mode, style in ((FINETUNE, "-"), (PROBE, "--"))], floors[k]) for k in budgets]
        return draw_measure_curve(panels, sorted(set(measures)), MEASURES.get(group.against, group.against), reference)
    panels = []
    for k in budgets:
        members = [(name, name, score_interval(study, name, FINETUNE, k), score_interval(study, name, PROBE, k)) for name in names]
        panels.append((f"k={budget_name(k)}", [m for m in members if m[2] is not None and m[3] is not None], floors[k]))
    return draw_bars(panels, reference)


def analysis_blocks(study: StudyResults, out: Path) -> list[Block]:
    """Blocks (and figure files in ``out``) for every variant set and the feature-change analysis the study ran."""
    if not study.sets and not study.feature_change:
        return []
    analysis_budgets = [parse_budget(name) for name in study.config["analysis_budgets"]]
    where = [f"the paper's analyses at k = {', '.join(map(budget_name, analysis_budgets))}"] if any(
        group.at_analysis_budgets for group in study.sets) or study.feature_change else []
    where += ["--vary's variants at every budget"] if any(not group.at_analysis_budgets for group in study.sets) else []
    blocks: list[Block] = [Heading("Analyses and variants"), Paragraph(
        f"Extra pretraining runs ({pretraining_budget(study.config)}), transferred with the study's "
        f"draws ({'; '.join(where)}). Cells: test accuracy / macro-F1, each ± std over seeds and draws.")]
    for group in study.sets:
        blocks += set_blocks(study, group, analysis_budgets if group.at_analysis_budgets else study.budgets, out)
    change = study.feature_change
    if change:
        stages = max(record.stages for record in change)
        blocks += [Heading("How much fine-tuning changes each stage", 3), Paragraph(
            "Per backbone stage (1 = nearest the input): relative weight change ||W_finetuned - W_start|| / "
            "||W_start|| and linear CKA between the stage's features before and after fine-tuning on the test "
            "images (1 = unchanged), for the first draw of each analysis budget.")]
        blocks.append(Table(["init", "k", "test accuracy"] + [f"stage {i + 1}: change / CKA" for i in range(stages)],
                            [[r.init, budget_name(r.k), f"{r.accuracy:.3f}"] + [f"{w:.3f} / {c:.3f}" for w, c in zip(r.weight_change, r.cka)]
                             for r in change]))
        path = out / "analysis_feature_change.png"
        save_png(draw_feature_change(change), path)
        blocks += [Figure(path, "Relative weight change and CKA to the starting features, per stage"), Paragraph(FEATURE_CHANGE_NOTE)]
    return blocks
