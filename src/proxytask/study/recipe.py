"""Fix the fine-tuning recipe once on the development task, so that no label of the test task chooses it.

PROTOCOL.md: at budget k nothing outside the k labels may influence a choice; a recipe may instead
be fixed once on a development task of other identities (``lfw-dev-7``: the 7 people after the
politicians by image count, kept out of every pool) and then frozen. This module fine-tunes random
init (the floor of every comparison, so the recipe gives the baseline its best chance) on that task
with a small grid around the current recipe: learning rate x {0.5, 1, 2} and training length (epochs,
min and max steps together) x {1, 2, 4}, at every budget below all, over ``draws`` draws. Scores are
the mean test macro-F1 *of the development task*; of the candidates within ``TOLERANCE`` of the best,
the shortest is chosen (then the better one), and written as ``recipe.yaml`` for the presets.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from proxytask.config import ConfigError, FinetuneConfig, save_yaml
from proxytask.data.downstream import load_downstream
from proxytask.data.lfw import DEV_TASK
from proxytask.data.splits import budget_split
from proxytask.files import write_json_atomic
from proxytask.inputs import NetworkInput
from proxytask.precision import default_device
from proxytask.study.settings import StudyConfig
from proxytask.transfer.finetune import finetune
from proxytask.transfer.inits import RANDOM, RandomInit

LR_FACTORS = (0.5, 1.0, 2.0)
LENGTH_FACTORS = (1.0, 2.0, 4.0)
# Macro-F1 within which a shorter recipe is as good as the best (differences below it are noise of a few draws).
TOLERANCE = 0.01


def candidates(recipe: FinetuneConfig) -> list[FinetuneConfig]:
    """The grid around ``recipe``: learning rate x LR_FACTORS, training length x LENGTH_FACTORS."""
    return [dataclasses.replace(recipe, lr=recipe.lr * lr, epochs=recipe.epochs * length,
                                min_steps=round(recipe.min_steps * length), max_steps=round(recipe.max_steps * length))
            for lr, length in itertools.product(LR_FACTORS, LENGTH_FACTORS)]


def tune_recipe(config: StudyConfig, out: Path, draws: int) -> dict[str, Any]:
    """Fine-tune random init on the development task with every candidate recipe; write the scores
    (``tune.json``) and the best recipe (``recipe.yaml``) into ``out``; returns the scores."""
    budgets = [k for k in config.budget_values() if k is not None]
    if not budgets:
        raise ConfigError("budgets: tuning the recipe needs at least one budget below all (the recipe is used there)")
    data_config = dataclasses.replace(config.pretrain.data, downstream=DEV_TASK)
    data = load_downstream(data_config)
    device = default_device()
    init = RandomInit(RANDOM, config.pretrain.model.backbone, NetworkInput(config.pretrain.input))
    grid = candidates(config.finetune)
    jobs = [(index, k, draw) for index in range(len(grid)) for k in budgets for draw in range(draws)]
    scores: dict[int, list[dict[str, Any]]] = {index: [] for index in range(len(grid))}
    out = Path(out)
    started = time.perf_counter()
    for index, k, draw in tqdm(jobs, desc="recipe candidates", unit="job", dynamic_ncols=True):
        path = out / "jobs" / f"c{index}-k{k}-d{draw}.json"  # a restarted tune keeps the jobs it finished
        if not path.is_file():
            split = budget_split(data.images, k, draw)
            test = finetune(init, data.pixels, data.labels, split, data.images.class_names, data_config.crop_size,
                            grid[index], device).scores
            write_json_atomic(path, {"candidate": dataclasses.asdict(grid[index]), "k": k, "draw": draw, "accuracy": test.accuracy,
                                     "macro_f1": test.macro_f1, "predicted_classes": test.predicted_classes})
        record = json.loads(path.read_text())
        if record["candidate"] != dataclasses.asdict(grid[index]):
            raise ConfigError(f"{out} holds a tune of other candidates ({path}); choose another --out")
        scores[index].append({key: record[key] for key in ("k", "draw", "accuracy", "macro_f1", "predicted_classes")})
    table = [{**{field: getattr(grid[index], field) for field in ("lr", "epochs", "min_steps", "max_steps")},
              "macro_f1_mean": float(np.mean([s["macro_f1"] for s in runs])),
              "accuracy_mean": float(np.mean([s["accuracy"] for s in runs])),
              "collapsed": sum(s["predicted_classes"] <= 1 for s in runs), "jobs": runs}
             for index, runs in scores.items()]
    best = choose(table)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(grid[best], out / "recipe.yaml")
    summary = {"task": DEV_TASK, "init": RANDOM, "input": config.pretrain.input, "preset": config.preset, "budgets": budgets,
               "draws": draws, "seconds": time.perf_counter() - started, "chosen": table[best], "candidates": table}
    write_json_atomic(out / "tune.json", summary)
    return summary


def choose(table: list[dict[str, Any]]) -> int:
    """Index of the shortest candidate (fewest max_steps) within TOLERANCE of the best mean macro-F1."""
    top = max(row["macro_f1_mean"] for row in table)
    near = [index for index, row in enumerate(table) if row["macro_f1_mean"] >= top - TOLERANCE]
    return min(near, key=lambda index: (table[index]["max_steps"], -table[index]["macro_f1_mean"]))


def format_table(summary: dict[str, Any]) -> str:
    """The candidates as text, best marked."""
    lines = [f"development task {summary['task']}, {summary['init']} init ({summary['input']}), budgets "
             f"{summary['budgets']}, {summary['draws']} draws; mean test macro-F1 / accuracy of that task:"]
    for row in summary["candidates"]:
        mark = "  <- chosen" if row == summary["chosen"] else ""
        lines.append(f"  lr {row['lr']:.4g}  epochs {row['epochs']:g}  steps {row['min_steps']}..{row['max_steps']}: "
                     f"{row['macro_f1_mean']:.3f} / {row['accuracy_mean']:.3f}, collapsed {row['collapsed']}{mark}")
    return "\n".join(lines) + "\n" + json.dumps({k: summary["chosen"][k] for k in ("lr", "epochs", "min_steps", "max_steps")})
