"""A whole comparison in one folder, resumable: pretraining runs, then every transfer job, then the report.

Layout of a study folder::

    config.yaml                    the resolved StudyConfig
    pretrain/<task>/               one pretraining run per proxy task, supervised, and analysis variant
    splits/k<k>-d<draw>.csv        the split manifests (path, label, class, split)
    jobs/<mode>/<init>/k<k>-d<draw>.json   one result per transfer job, written atomically
    jobs/feature-change/<init>/k<k>-d0.json  per-stage weight change and CKA (analysis feature-change)
    results.json, report.md, report.html, *.png

A job whose result file exists is not run again, and a pretraining run with a checkpoint is
resumed, so an interrupted study restarted with the same command finishes the rest.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from proxytask.analyses import Variant, comparisons, extra_runs, main_runs, variant_pretrain_config
from proxytask.config import ConfigError, DataConfig, StudyConfig, load_yaml, save_yaml, to_dict
from proxytask.data.cache import load_cache
from proxytask.data.folders import LabeledImages
from proxytask.data.lfw import DataError, locate_lfw
from proxytask.data.selection import select
from proxytask.data.splits import Split, budget_split, write_manifest
from proxytask.files import write_json_atomic
from proxytask.paired import METRICS, compare
from proxytask.tasks import task_class, task_input
from proxytask.tasks.supervised import Supervised
from proxytask.train import METRICS_FILE, pretrain
from proxytask.transfer.baselines import EIGENFACES, EIGENFACES_CROP, EIGENFACES_SIZE, eigenfaces_features, eigenfaces_svm
from proxytask.transfer.feature_change import feature_change
from proxytask.transfer.finetune import extract_features, finetune, finetune_model
from proxytask.transfer.inits import RANDOM, RANDOM_RGB, Init, build_backbone, resolve_init
from proxytask.transfer.probe import knn, linear_probe

log = logging.getLogger(__name__)

SUPERVISED = Supervised.name
# Job fields kept in each job's file but left out of results.json (one number per test image).
BULKY_FIELDS = ("predictions",)


@dataclass(frozen=True)
class DownstreamData:
    """The labeled task's usable images, cached: ``pixels`` (N, S, S, 3) uint8, ``labels`` (N,)."""

    images: LabeledImages
    pixels: torch.Tensor
    labels: np.ndarray
    skipped: list[tuple[str, str]]


def load_downstream(data: DataConfig) -> DownstreamData:
    """Resolve ``data.downstream`` and cache its images; unusable files are dropped (and listed)."""
    needs_lfw = data.downstream.startswith("lfw") or data.lfw is not None
    images = select(data.downstream, locate_lfw(data.lfw) if needs_lfw else None).downstream
    cache = load_cache(images.paths, data.face_crop, data.image_size, data.workers)
    rows = np.flatnonzero(cache.usable)
    usable = LabeledImages([images.paths[r] for r in rows], [images.labels[r] for r in rows], images.class_names)
    return DownstreamData(usable, torch.from_numpy(cache.pixels[rows]), np.asarray(usable.labels), cache.skipped)


def budget_name(k: int | None) -> str:
    return "all" if k is None else str(k)


def job_path(out: Path, mode: str, init: str, k: int | None, draw: int) -> Path:
    return out / "jobs" / mode / init / f"k{budget_name(k)}-d{draw}.json"


def is_degenerate(result: dict[str, Any]) -> bool:
    """A collapsed model: every test prediction in one class, or (fine-tuning) a training loss that never fell."""
    never_fell = "loss_first" in result and not result["loss_last"] < result["loss_first"]
    return result["predicted_classes"] <= 1 or never_fell


def run_job(mode: str, init: Init, data: DownstreamData, split: Split, config: StudyConfig, device: torch.device,
            features: Callable[[Init], np.ndarray]) -> dict[str, Any]:
    """One transfer job: ``mode`` of ``init`` on ``split``; returns its result record (with its wall ``seconds``)."""
    started = time.perf_counter()
    crop = config.pretrain.data.crop_size
    names = data.images.class_names
    if mode == "finetune":
        result = finetune(init, data.pixels, data.labels, split, names, crop, config.finetune, device)
    elif mode == "probe":
        result = linear_probe(features(init), data.labels, split, names)
    elif mode == "knn":
        result = knn(features(init), data.labels, split, names)
    else:
        raise ConfigError(f"unknown transfer mode {mode!r}")
    return {"init": init.name, "mode": mode, "input": init.network_input.kind, "input_detail": init.network_input.describe(),
            **split_fields(split, data), **result, "degenerate": is_degenerate(result), "seconds": time.perf_counter() - started}


def split_fields(split: Split, data: DownstreamData) -> dict[str, Any]:
    """What a job record says of its split: budget, draw, how many labels of each class it could read."""
    return {"k": "all" if split.k is None else split.k, "draw": split.draw, "train_images": len(split.train),
            "labels_per_class": split.labels_per_class(data.labels, data.images.class_names), "short_classes": split.short_classes}


def check_runs_planned(config: StudyConfig) -> None:
    """Every pretraining run of the study can be built with its settings (checked before any work starts)."""
    for variant in [Variant(task, task, (), task) for task in main_runs(config)] + extra_runs(config):
        task_input(variant_pretrain_config(config, variant))


def pretrain_stage(config: StudyConfig, out: Path) -> dict[str, Path]:
    """Run (or resume, or skip when finished) every pretraining run of the study, the analyses'
    extra runs last; their folders by run name."""
    planned = [Variant(task, task, (), task) for task in main_runs(config)] + extra_runs(config)
    runs = {}
    for variant in planned:
        run_dir = out / "pretrain" / variant.name
        runs[variant.name] = run_dir
        if (run_dir / METRICS_FILE).is_file():
            log.info("pretraining %s: finished earlier, kept", variant.name)
            continue
        log.info("pretraining %s for %d steps", variant.name, config.pretrain_steps)
        pretrain(variant_pretrain_config(config, variant), run_dir, resume=(run_dir / "config.yaml").is_file())
    return runs


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation (over draws, ddof=1) per (init, mode, k), with the labels each
    draw could read and how many of its jobs collapsed."""
    groups: dict[tuple[str, str, Any], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault((record["init"], record["mode"], record["k"]), []).append(record)
    summary = []
    for (init, mode, k), members in groups.items():
        row: dict[str, Any] = {"init": init, "mode": mode, "k": k, "input": members[0]["input"], "n_draws": len(members),
                               "labels_per_class": members[0]["labels_per_class"],
                               "degenerate": sum(bool(m.get("degenerate")) for m in members)}
        for metric in METRICS:
            values = np.array([m[metric] for m in members])
            row[f"{metric}_mean"] = float(values.mean())
            row[f"{metric}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        row["short_classes"] = sorted({c for m in members for c in m["short_classes"]})
        summary.append(row)
    return summary


def comparison_pairs(main: list[str], variants: list[str]) -> list[tuple[str, str]]:
    """(init, baseline) pairs the study reports paired differences for: every init against random
    init with the same input and against supervised pretraining; RGB forms against random-rgb."""
    pairs = []
    for name in main + variants:
        if name == RANDOM_RGB:
            continue
        if name.endswith("-rgb"):
            pairs.append((name, RANDOM_RGB))
            continue
        pairs += [(name, baseline) for baseline in (RANDOM, SUPERVISED) if name != baseline and baseline in main]
    return pairs


def paired_comparisons(records: list[dict[str, Any]], pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Every pair's paired difference per mode, budget and metric present in the records."""
    keys = sorted({(r["mode"], str(r["k"])) for r in records})
    found = []
    for init, baseline in pairs:
        for mode, k_name in keys:
            k = k_name if k_name == "all" else int(k_name)
            for metric in METRICS:
                comparison = compare(records, init, baseline, mode, k, metric)
                if comparison is not None:
                    found.append(comparison.as_dict())
    return found


STAGE_NAMES = {"probe": "linear probe", "knn": "k-NN", "svm": "eigenfaces + SVM"}


def time_by_stage(pretraining: dict[str, dict[str, Any]], records: list[dict[str, Any]],
                  feature_change: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent per stage: each pretraining run's training, fine-tuning per budget, each cheap mode
    (the first probe job of an init includes extracting its frozen features), the feature-change analysis."""
    stages = {f"pretraining {name}": float(metrics.get("train_seconds", 0.0)) for name, metrics in pretraining.items()}
    for record in records:
        stage = f"fine-tuning k={record['k']}" if record["mode"] == "finetune" else STAGE_NAMES.get(record["mode"], record["mode"])
        stages[stage] = stages.get(stage, 0.0) + float(record.get("seconds", 0.0))
    if feature_change:
        stages["feature change"] = sum(float(record.get("seconds", 0.0)) for record in feature_change)
    return stages


def selection_summary(config: StudyConfig) -> dict[str, str]:
    """How every choice of every mode was made, for results.json and the report."""
    recipe = config.finetune
    return {
        "finetune": f"below all labels a fixed recipe for every init (AdamW, head lr {recipe.lr:g}, backbone lr "
                    f"{recipe.lr * recipe.backbone_lr_factor:g}, cosine, {recipe.epochs:g} epochs of the budget's images "
                    f"clamped to {recipe.min_steps}..{recipe.max_steps} steps, the last step kept), fixed beforehand on the "
                    "development task lfw-dev-7 (docs/recipe.md), so no label outside the budget is read; with all labels "
                    "the step kept is chosen on a 15% validation part of the train split",
        "probe": "C of the logistic regression by stratified cross-validation (up to 5 folds, macro-F1) inside the budget's labels",
        "knn": "k of k-NN by stratified cross-validation (up to 5 folds, macro-F1) inside the budget's labels",
        "svm": "C and gamma of the eigenfaces SVM (10 log-uniform draws) by stratified cross-validation inside the budget's labels",
    }


# Settings that only say how much a study covers: a restart may change them (add tasks, budgets,
# draws, analyses...) and every job already done stays valid. All others fix what a job computes.
EXTENT_SETTINGS = ("tasks", "baselines", "modes", "budgets", "draws", "frozen_draws", "analyses", "analysis_budgets",
                   "pool_fractions")


def check_study_folder(config: StudyConfig, out: Path) -> None:
    """A study folder holds one configuration: a restart must keep every setting that changes what a job
    computes; it may extend the study (:data:`EXTENT_SETTINGS`)."""
    saved = out / "config.yaml"
    if saved.is_file():
        previous, current = to_dict(load_yaml(StudyConfig, saved)), to_dict(config)
        changed = sorted(key for key in current if key not in EXTENT_SETTINGS and previous.get(key) != current[key])
        if changed:
            raise ConfigError(f"{out} holds a study with other settings for {', '.join(changed)} ({saved}); restart "
                              f"it with the same ones (tasks, budgets, draws and analyses may change), or choose another --out")


def study_splits(config: StudyConfig, data: DownstreamData, out: Path) -> dict[tuple[int | None, int], Split]:
    """Every (budget, draw) split the study uses, its manifest written under ``splits/``."""
    splits = {}
    for k in config.budget_values():
        for draw in range(max(config.draws_for(mode, k) for mode in (*config.modes, "svm"))):
            split = splits[(k, draw)] = budget_split(data.images, k, draw)
            manifest = out / "splits" / f"k{budget_name(k)}-d{draw}.csv"
            if not manifest.is_file():
                write_manifest(data.images, split, manifest)
    return splits


def run_study(config: StudyConfig, out: Path) -> dict[str, Any]:
    """Run every step of the study not done yet, then write results.json and the report."""
    from proxytask.report.build import write_report

    config.validate()
    for task in config.tasks:
        task_class(task)
    check_runs_planned(config)
    out = Path(out)
    check_study_folder(config, out)
    data_config = config.pretrain.data
    data = load_downstream(data_config)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(config, out / "config.yaml")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    runs = pretrain_stage(config, out)
    extra = {variant.name for variant in extra_runs(config)}
    backbone, input_kind = config.pretrain.model.backbone, config.pretrain.input
    inits = [resolve_init(RANDOM, backbone, input_kind)] if RANDOM in config.baselines else []
    inits += [resolve_init(str(run_dir), backbone, name=name) for name, run_dir in runs.items() if name not in extra]
    variant_inits = [resolve_init(str(runs[name]), backbone, name=name) for name in extra]
    variant_inits += [resolve_init(RANDOM_RGB, backbone)] if "input" in config.analyses else []
    splits = study_splits(config, data, out)
    analysis_budgets = {None if b == "all" else int(b) for b in config.analysis_budgets}

    feature_cache: dict[str, np.ndarray] = {}

    def features(init: Init) -> np.ndarray:
        if init.name not in feature_cache:
            feature_cache[init.name] = extract_features(init, data.pixels, data_config.crop_size, device)
        return feature_cache[init.name]

    def jobs_of(init: Init, budgets: list[int | None]) -> list[tuple[str, Init, Split]]:
        return [(mode, init, splits[(k, draw)]) for mode in config.modes for k in budgets for draw in range(config.draws_for(mode, k))]

    jobs = [job for init in inits for job in jobs_of(init, config.budget_values())]
    jobs += [job for init in variant_inits for job in jobs_of(init, [k for k in config.budget_values() if k in analysis_budgets])]
    records = []
    for mode, init, split in tqdm(jobs, desc="transfer jobs", unit="job", dynamic_ncols=True):
        path = job_path(out, mode, init.name, split.k, split.draw)
        if not path.is_file():
            write_json_atomic(path, run_job(mode, init, data, split, config, device, features))
        records.append(json.loads(path.read_text()))
    if EIGENFACES in config.baselines:
        eigen_splits = [splits[(k, draw)] for k in config.budget_values() for draw in range(config.draws_for("svm", k))]
        records += eigenfaces_stage(data, eigen_splits, out)
    analyses: dict[str, Any] = {"budgets": list(config.analysis_budgets),
                                "comparisons": {name: [dataclasses.asdict(v) for v in group]
                                                for name, group in comparisons(config).items()}}
    if "feature-change" in config.analyses:
        first_draws = [split for (k, draw), split in splits.items() if draw == 0 and k in analysis_budgets]
        analyses["feature_change"] = feature_change_stage(inits, data, first_draws, config, out, device)
    pairs = comparison_pairs([init.name for init in inits], [init.name for init in variant_inits])
    pretraining = {task: json.loads((run / METRICS_FILE).read_text()) for task, run in runs.items()}
    results = {"config": to_dict(config), "downstream": downstream_summary(data), "device": str(device),
               "selection": selection_summary(config), "pretraining": pretraining,
               "time_by_stage": time_by_stage(pretraining, records, analyses.get("feature_change", [])),
               "results": aggregate(records), "comparisons": paired_comparisons(records, pairs),
               "jobs": [{k: v for k, v in r.items() if k not in BULKY_FIELDS} for r in records], "analyses": analyses}
    started = time.perf_counter()
    write_report(results, out)
    results["time_by_stage"]["report"] = time.perf_counter() - started
    write_json_atomic(out / "results.json", results)
    return results


def feature_change_stage(inits: list[Init], data: DownstreamData, splits: list[Split], config: StudyConfig, out: Path,
                         device: torch.device) -> list[dict[str, Any]]:
    """Fine-tune each init on each split again, keeping the network, and measure per stage how far its
    weights and its features on the test images moved from where fine-tuning started."""
    crop = config.pretrain.data.crop_size
    records = []
    for init in tqdm(inits, desc="feature change", unit="init", dynamic_ncols=True):
        for split in splits:
            path = job_path(out, "feature-change", init.name, split.k, split.draw)
            if not path.is_file():
                started = time.perf_counter()
                model, result = finetune_model(init, data.pixels, data.labels, split, data.images.class_names, crop,
                                               config.finetune, device)
                start = build_backbone(init, config.finetune.seed + split.draw)
                change = feature_change(start, model.backbone, init.network_input, data.pixels, split.test, crop, device)
                write_json_atomic(path, {"init": init.name, "input": init.network_input.kind, **split_fields(split, data),
                                         "accuracy": result["accuracy"], "stages": len(change["cka"]), **change,
                                         "seconds": time.perf_counter() - started})
            records.append(json.loads(path.read_text()))
    return records


def eigenfaces_stage(data: DownstreamData, splits: list[Split], out: Path) -> list[dict[str, Any]]:
    """The eigenfaces + SVM baseline on every split (its own crop and size, from the same files)."""
    cache = load_cache(data.images.paths, EIGENFACES_CROP, EIGENFACES_SIZE)
    if not cache.usable.all():
        raise DataError(f"eigenfaces crop could not be read from: {', '.join(p for p, _ in cache.skipped)}")
    x = eigenfaces_features(np.asarray(cache.pixels))
    records = []
    for split in splits:
        path = job_path(out, "svm", EIGENFACES, split.k, split.draw)
        if not path.is_file():
            started = time.perf_counter()
            result = eigenfaces_svm(x, data.labels, split, data.images.class_names)
            write_json_atomic(path, {"init": EIGENFACES, "mode": "svm", "input": "gray 50x37 (scikit-learn example crop)",
                                     **split_fields(split, data), **result, "degenerate": is_degenerate(result),
                                     "seconds": time.perf_counter() - started})
        records.append(json.loads(path.read_text()))
    return records


def downstream_summary(data: DownstreamData) -> dict[str, Any]:
    return {"classes": data.images.class_names, "images_per_class": data.images.class_counts(),
            "images": len(data.images.paths), "skipped": [list(s) for s in data.skipped]}


def transfer_once(mode: str, init_spec: str, config: StudyConfig, k: int | None, draw: int, out: Path) -> dict[str, Any]:
    """One transfer job outside a study (``proxytask finetune|probe|knn``), written to ``out/result.json``.

    A pretraining run's own preprocessing (face crop, image and crop size) is used with its backbone.
    """
    init = resolve_init(init_spec, config.pretrain.model.backbone, config.pretrain.input)
    if init.run_dir is not None:
        trained = load_yaml(type(config.pretrain), init.run_dir / "config.yaml").data
        data_config = dataclasses.replace(config.pretrain.data, face_crop=trained.face_crop,
                                          image_size=trained.image_size, crop_size=trained.crop_size)
        config = dataclasses.replace(config, pretrain=dataclasses.replace(config.pretrain, data=data_config))
    config.validate()
    data_config = config.pretrain.data
    data = load_downstream(data_config)
    split = budget_split(data.images, k, draw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(config, out / "config.yaml")
    write_manifest(data.images, split, out / "manifest.csv")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def features(chosen: Init) -> np.ndarray:
        return extract_features(chosen, data.pixels, data_config.crop_size, device)

    result = run_job(mode, init, data, split, config, device, features)
    write_json_atomic(out / "result.json", result)
    return result
