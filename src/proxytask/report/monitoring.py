"""The transfer monitor's section: each main run's development-task accuracy (linear probe and k-NN at
a fixed budget, frozen features) against pool images seen and against training FLOPs, the level of the
networks as initialised, and whether each curve had flattened by the end of its run."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proxytask.records import StudyResults
from proxytask.report.document import Block, Figure, Heading, Paragraph, Table
from proxytask.report.figures import draw_monitor_curves, save_png
from proxytask.runlog import read_log
from proxytask.runs import RunFolder

FLAT_SHARE = 0.2  # a curve has flattened when its last 20% of steps stay within the monitor's draw spread of its end
MODES = {"monitor_probe": "linear probe", "monitor_knn": "k-NN"}


def flattened(rows: list[dict[str, float]], key: str) -> bool | None:
    """Whether every score in the last :data:`FLAT_SHARE` of the run lies within one draw standard
    deviation (the monitor's own, at the end) of the final score; None with fewer than 3 rows."""
    if len(rows) < 3:
        return None
    last = rows[-1]
    tail = [r[key] for r in rows if r["step"] >= (1 - FLAT_SHARE) * last["step"]]
    return bool(np.all(np.abs(np.array(tail) - last[key]) <= last[f"{key}_sd"] + 1e-12))


def _monitored(study: StudyResults, out: Path) -> dict[str, list[tuple[int, list[dict[str, float]], float]]]:
    """Init -> (seed, monitor rows, training FLOPs per pool image) of each main run that has them."""
    found: dict[str, list[tuple[int, list[dict[str, float]], float]]] = {}
    for record in study.pretraining:
        path = RunFolder(out / record.folder).monitor
        if record.name in study.main_inits and path.is_file() and (rows := read_log(path)):
            found.setdefault(record.name, []).append((record.seed, rows, float(record.metrics.get("flops_per_image", 0.0))))
    return found


def monitor_blocks(study: StudyResults, out: Path) -> list[Block]:
    """The section, where any main run logged the monitor (``train.monitor_every``); else nothing."""
    runs = _monitored(study, out)
    if not runs:
        return []
    path = out / "monitor.png"
    save_png(draw_monitor_curves(runs, MODES), path)
    table = [[name, str(seed), *(f"{rows[-1][key]:.3f} ± {rows[-1][f'{key}_sd']:.3f}" for key in MODES),
              *({True: "yes", False: "no", None: "-"}[flattened(rows, key)] for key in MODES)]
             for name, seeds in runs.items() for seed, rows, _ in seeds]
    start = np.mean([rows[0]["monitor_probe"] for seeds in runs.values() for _, rows, _ in seeds if rows[0]["step"] == 0])
    return [Heading("Transfer during pretraining (development task)", 3),
            Figure(path, "Development-task accuracy of each run's frozen features during pretraining (mean over its seeds), "
                         "against pool images seen (left) and training FLOPs (right); dotted: the networks as initialised"),
            Table(["run", "seed", *(f"{label} at the end (± draw sd)" for label in MODES.values()),
                   *(f"{label} flattened" for label in MODES.values())], table),
            Paragraph(f"Scored on the development task (never the test task) at a fixed budget; a curve has flattened where "
                      f"its last {FLAT_SHARE:.0%} of steps stay within the monitor's draw spread of its last score. At the "
                      f"first step the networks' linear probe reads {start:.3f} on average (random weights).")]
