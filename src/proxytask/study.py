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
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from tqdm import tqdm

from proxytask.analyses import Variant, comparisons, extra_runs, planned_runs, variant_pretrain_config
from proxytask.config import ConfigError, DataConfig, StudyConfig, apply_overrides, budget_json, budget_name, load_yaml, save_yaml, to_dict
from proxytask.data.cache import ImageCache, load_cache
from proxytask.data.folders import LabeledImages
from proxytask.data.images import Crop, describe_skips
from proxytask.data.lfw import DataError, variant_of
from proxytask.data.selection import ImageSource, downstream_task, pool_sources
from proxytask.data.splits import VALIDATION_FRACTION, Split, budget_split, write_manifest
from proxytask.executors import ExecutorSettings, run_all
from proxytask.export import Preprocessing, save_classifier
from proxytask.files import write_json_atomic
from proxytask.paired import METRICS, Comparison, compare
from proxytask.presets import recipe_origin
from proxytask.records import JobRecord, ResultRow, StudyResults
from proxytask.tasks import task_input
from proxytask.tasks.supervised import Supervised, identity_labels
from proxytask.train import METRICS_FILE, pretrain
from proxytask.transfer.baselines import EIGENFACES, EIGENFACES_CROP, EIGENFACES_SIZE, SEARCH_DRAWS, eigenfaces_features
from proxytask.transfer.feature_change import feature_change
from proxytask.transfer.finetune import extract_features, finetune_model, finetune_seed, finetune_steps, transfer_precision
from proxytask.transfer.inits import RANDOM, RANDOM_RGB, Init, build_backbone, resolve_init
from proxytask.transfer.metrics import CV_FOLDS
from proxytask.transfer.modes import EIGENFACES_MODE, FINETUNE, KNN, MODES, PROBE

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
    crop: Crop
    development_overlap: tuple[str, ...] = ()


_loaded: dict[str, DownstreamData] = {}


def load_downstream(data: DataConfig) -> DownstreamData:
    """Resolve ``data.downstream`` and cache its images; unusable files are dropped (and listed).
    Loaded once per process for each setting."""
    key = repr(data)
    if key not in _loaded:
        _loaded[key] = _load_downstream(data)
    return _loaded[key]


def _load_downstream(data: DataConfig) -> DownstreamData:
    task = downstream_task(data)
    images = task.images
    cache = load_cache(images.paths, task.crop, data.image_size, data.workers)
    labels = np.asarray(images.labels)
    for number, name in enumerate(images.class_names):
        if not cache.usable[labels == number].any():
            files = {str(path) for path, label in zip(images.paths, images.labels) if label == number}
            raise DataError(f"{task.spec}: class {name!r} has no usable image ({describe_skips([s for s in cache.skipped if s[0] in files])}); "
                            f"the first: {next(reason for path, reason in cache.skipped if path in files)}")
    if cache.skipped:
        log.warning("%s: %d unusable picture(s) left out (%s), e.g. %s", task.spec, len(cache.skipped), describe_skips(cache.skipped),
                    cache.skipped[0][0])
    rows = np.flatnonzero(cache.usable)
    usable = LabeledImages([images.paths[r] for r in rows], [images.labels[r] for r in rows], images.class_names)
    return DownstreamData(usable, torch.from_numpy(cache.pixels[rows]), np.asarray(usable.labels), cache.skipped,
                          task.crop, task.development_overlap)


def lfw_variant(data: DownstreamData) -> str | None:
    """The LFW variant the downstream pictures come from (deep-funneled, funneled, original), None for a folder."""
    folder = Path(data.images.paths[0]).parent.parent
    return variant_of(folder) if variant_of(folder) != "unknown" else None


def eigenfaces_crop(data: DownstreamData) -> tuple[Crop, tuple[int, int]]:
    """The eigenfaces baseline's crop and (height, width): scikit-learn's example crop of LFW-aligned
    pictures, else the centered square at 50x50."""
    return (EIGENFACES_CROP, EIGENFACES_SIZE) if isinstance(data.crop, tuple) else (data.crop, (EIGENFACES_SIZE[0],) * 2)


def eigenfaces_cache(data: DownstreamData) -> ImageCache:
    """The downstream images cached for eigenfaces; every image must read there as it did for the others."""
    crop, size = eigenfaces_crop(data)
    cache = load_cache(data.images.paths, crop, size)
    if not cache.usable.all():
        raise DataError(f"the eigenfaces baseline cannot read {len(cache.skipped)} downstream image(s) with its crop {crop} "
                        f"({describe_skips(cache.skipped)}; first: {cache.skipped[0][0]}); leave it out with --set baselines=random,supervised")
    return cache


def job_path(out: Path, mode: str, init: str, k: int | None, draw: int) -> Path:
    return out / "jobs" / mode / init / f"k{budget_name(k)}-d{draw}.json"


def is_degenerate(result: dict[str, Any]) -> bool:
    """A collapsed model: every test prediction in one class, or (fine-tuning) a training loss that never fell."""
    never_fell = "loss_first" in result and not result["loss_last"] < result["loss_first"]
    return result["predicted_classes"] <= 1 or never_fell


def run_job(mode: str, init: Init, data: DownstreamData, split: Split, config: StudyConfig, device: torch.device,
            features: Callable[[Init], np.ndarray], classifier_out: Path | None = None) -> JobRecord:
    """One transfer job: ``mode`` of ``init`` on ``split``; returns its result record (with its wall ``seconds``).
    A fine-tuned classifier is saved to ``classifier_out`` when given."""
    started = time.perf_counter()
    result, model = MODES[mode].run(init, data, split, config, device, lambda: features(init))
    if classifier_out is not None and model is not None:
        preprocessing = Preprocessing(data.crop, config.pretrain.data.image_size, config.pretrain.data.crop_size)
        save_classifier(model, data.images.class_names, preprocessing, classifier_out,
                        {"init": init.name, "k": budget_name(split.k), "draw": split.draw, "test_accuracy": result["accuracy"]})
    return job_record(init.name, mode, {"input": init.network_input.kind, "input_detail": init.network_input.describe()},
                      split, data, result, started)


def job_record(init_name: str, mode: str, input_fields: dict[str, str], split: Split, data: DownstreamData,
               result: dict[str, Any], started: float) -> JobRecord:
    """A transfer job's record: who, what input, which split, its result, whether it collapsed, its wall seconds."""
    return JobRecord.from_json({"init": init_name, "mode": mode, **input_fields, **split_fields(split, data), **result,
                                "degenerate": is_degenerate(result), "seconds": time.perf_counter() - started})


def split_fields(split: Split, data: DownstreamData) -> dict[str, Any]:
    """What a job record says of its split: budget, draw, how many labels of each class it could read."""
    return {"k": budget_json(split.k), "draw": split.draw, "train_images": len(split.train),
            "labels_per_class": split.labels_per_class(data.labels, data.images.class_names), "short_classes": split.short_classes}


def check_runs_planned(config: StudyConfig) -> None:
    """Every pretraining run of the study can be built with its settings (checked before any work starts)."""
    for variant in planned_runs(config):
        task_input(variant_pretrain_config(config, variant))


def check_identities(config: StudyConfig, sources: list[ImageSource]) -> None:
    """The supervised ceiling needs identities in the pool (parent folders with enough pictures):
    checked before any work, with the way out named."""
    if "supervised" not in config.baselines:
        return
    least = config.pretrain.supervised.min_images_per_identity
    enough = identity_labels(np.array([str(path.parent) for source in sources for path in source.paths]), least)[2]
    if enough < 2:
        raise ConfigError(f"the supervised baseline learns the identities of the pool's pictures (their parent folders), but the "
                          f"pool ({', '.join(source.name for source in sources)}) has {enough} folder(s) with >= "
                          f"{least} pictures; leave it out with --set baselines=random,eigenfaces")


def pretrain_run(config: StudyConfig, variant: Variant, run_dir: Path) -> None:
    """One pretraining run of the study (resumed if it has a checkpoint): a job for the executor."""
    log.info("pretraining %s for %d steps", variant.name, config.pretrain_steps)
    pretrain(variant_pretrain_config(config, variant), run_dir, resume=(run_dir / "config.yaml").is_file())


def pretrain_stage(config: StudyConfig, out: Path, executor: ExecutorSettings, alongside: list[tuple[Any, ...]]) -> dict[str, Path]:
    """Run (or resume, or skip when finished) every pretraining run of the study, the analyses'
    extra runs last, and the jobs ``alongside`` that need none (random init, eigenfaces) while they
    train; the runs' folders by run name."""
    planned = planned_runs(config)
    runs = {variant.name: out / "pretrain" / variant.name for variant in planned}
    missing = [(pretrain_run, config, variant, runs[variant.name]) for variant in planned
               if not (runs[variant.name] / METRICS_FILE).is_file()]
    run_all(executor, out / "executor", missing, "pretraining", distributed=True, alongside=alongside)
    return runs


def transfer_unit(out: Path, config: StudyConfig, init_spec: str, init_name: str, jobs: list[tuple[str, int | None, int]]) -> None:
    """Run the (mode, k, draw) jobs of one init that are not done yet, each written to its own file:
    a job for the executor (the frozen modes of an init share one feature extraction)."""
    data_config = config.pretrain.data
    data = load_downstream(data_config)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    init = resolve_init(init_spec, config.pretrain.model.backbone, config.pretrain.input, name=init_name)
    extracted: list[np.ndarray] = []

    def features(chosen: Init) -> np.ndarray:
        if not extracted:
            extracted.append(extract_features(chosen, data.pixels, data_config.crop_size, device,
                                              transfer_precision(config.finetune, device)))
        return extracted[0]

    for mode, k, draw in jobs:
        path = job_path(out, mode, init_name, k, draw)
        if not path.is_file():
            write_json_atomic(path, run_job(mode, init, data, budget_split(data.images, k, draw), config, device, features).to_json())


def aggregate(records: list[JobRecord]) -> list[ResultRow]:
    """Mean and standard deviation (over draws, ddof=1) per (init, mode, k), with the labels each
    draw could read and how many of its jobs collapsed."""
    groups: dict[tuple[str, str, int | None], list[JobRecord]] = {}
    for record in records:
        groups.setdefault((record.init, record.mode, record.k), []).append(record)
    summary = []
    for (init, mode, k), members in groups.items():
        scores = {metric: np.array([m.score(metric) for m in members]) for metric in METRICS}
        summary.append(ResultRow(init, mode, members[0].input, k, len(members), members[0].details["labels_per_class"],
                                 sum(m.degenerate for m in members), {m: float(v.mean()) for m, v in scores.items()},
                                 {m: float(v.std(ddof=1)) if len(v) > 1 else 0.0 for m, v in scores.items()},
                                 sorted({c for m in members for c in m.details["short_classes"]})))
    return summary


def comparison_pairs(main: dict[str, str], variants: dict[str, str]) -> list[tuple[str, str]]:
    """(init, baseline) pairs the study reports paired differences for, from {init name: input kind}:
    every init against the random init reading the same input (``random`` reads the main input,
    ``random-rgb`` RGB) and, where it reads the main input, against supervised pretraining."""
    main_input = main.get(RANDOM, main.get(SUPERVISED))
    pairs = []
    for name, kind in {**main, **variants}.items():
        if name in (RANDOM, RANDOM_RGB):
            continue
        randoms = {main_input: RANDOM if RANDOM in main else None, "rgb": RANDOM_RGB if RANDOM_RGB in variants else None}
        baselines = [randoms.get(kind)] + ([SUPERVISED] if kind == main_input and SUPERVISED in main else [])
        pairs += [(name, baseline) for baseline in baselines if baseline is not None and baseline != name]
    return pairs


def paired_comparisons(records: list[JobRecord], pairs: list[tuple[str, str]]) -> list[Comparison]:
    """Every pair's paired difference per mode, budget and metric present in the records."""
    keys = sorted({(r.mode, r.k) for r in records}, key=lambda key: (key[0], key[1] is None, key[1] or 0))
    found = []
    for init, baseline in pairs:
        for mode, k in keys:
            for metric in METRICS:
                comparison = compare(records, init, baseline, mode, k, metric)
                if comparison is not None:
                    found.append(comparison)
    return found


def time_by_stage(pretraining: dict[str, dict[str, Any]], records: list[JobRecord],
                  feature_change: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds spent per stage: each pretraining run's training, fine-tuning per budget, each cheap mode
    (the first probe job of an init includes extracting its frozen features), the feature-change analysis."""
    stages = {f"pretraining {name}": float(metrics.get("train_seconds", 0.0)) for name, metrics in pretraining.items()}
    for record in records:
        mode = MODES[record.mode]
        stage = f"{mode.stage} k={budget_name(record.k)}" if mode.trains_network else mode.stage
        stages[stage] = stages.get(stage, 0.0) + record.seconds
    if feature_change:
        stages["feature change"] = sum(float(record.get("seconds", 0.0)) for record in feature_change)
    return stages


def selection_summary(config: StudyConfig, data: DownstreamData) -> dict[str, str]:
    """How every choice of every mode was made, for results.json and the report."""
    recipe = config.finetune
    origin = recipe_origin(config)
    if data.development_overlap:
        origin += (f"; WARNING: the downstream classes {', '.join(data.development_overlap)} are people of the development "
                   "task, whose labels (test images included) chose the recipe")
    cv = f"stratified cross-validation (up to {CV_FOLDS} folds, macro-F1) inside the budget's labels"
    return {
        FINETUNE: f"below all labels a fixed recipe for every init (AdamW, head lr {recipe.lr:g}, backbone lr "
                    f"{recipe.lr * recipe.backbone_lr_factor:g}, cosine, {recipe.epochs:g} epochs of the budget's images "
                    f"clamped to {recipe.min_steps}..{recipe.max_steps} steps, the last step kept: no label outside the "
                    f"budget is read), {origin}; with all labels the step kept is chosen on a "
                    f"{VALIDATION_FRACTION:.0%} validation part of the train split",
        PROBE: f"C of the logistic regression by {cv}",
        KNN: f"k of k-NN by {cv}",
        EIGENFACES_MODE: f"C and gamma of the eigenfaces SVM ({SEARCH_DRAWS} log-uniform draws) by {cv}",
    }


# Settings that only say how much a study covers: a restart may change them (add tasks, budgets,
# draws, analyses...) and every job already done stays valid. All others fix what a job computes,
# except where the LFW archive lies (the same archive wherever it is).
EXTENT_SETTINGS = ("tasks", "baselines", "modes", "budgets", "draws", "frozen_draws", "analyses", "analysis_budgets",
                   "pool_fractions")


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that fix what a study's jobs compute."""
    identity = {key: value for key, value in config.items() if key not in EXTENT_SETTINGS}
    data = identity.get("pretrain", {}).get("data", {})
    identity["pretrain"] = {**identity.get("pretrain", {}), "data": {k: v for k, v in data.items() if k != "lfw"}}
    return identity


def holds_work(out: Path) -> bool:
    """True when a study folder holds a finished job or a started pretraining run (work a restart must
    keep: a pretraining run writes its config only once it is known to start)."""
    return any((out / "jobs").rglob("*.json")) or any((out / "pretrain").glob("*/config.yaml"))


def _fp32_settings() -> list[str]:
    """What a study folder saved before the ``finetune.bf16`` setting existed ran under, as settings:
    fp32 transfer jobs everywhere, and fp32 pretraining off CUDA (where ``train.bf16`` then did nothing)."""
    names = ["finetune.bf16", "finetune.channels_last"]
    return names if torch.cuda.is_available() else [*names, "pretrain.train.bf16", "pretrain.train.channels_last"]


def check_study_folder(config: StudyConfig, out: Path) -> None:
    """A study folder holds one configuration: a restart must keep every setting that changes what a job
    computes; it may extend the study (:data:`EXTENT_SETTINGS`) or find LFW elsewhere. A folder whose
    start failed before any work was done takes the new settings."""
    saved = out / "config.yaml"
    if saved.is_file() and not holds_work(out):
        shutil.rmtree(out / "splits", ignore_errors=True)  # a failed start's manifests: the new settings make their own
        return
    if saved.is_file():
        saved_values = yaml.safe_load(saved.read_text()) or {}
        made_under = saved_values.get("protocol", 1)
        if made_under != config.protocol:
            raise ConfigError(f"{out} holds a study made under protocol {made_under} (validation-based choices); its jobs "
                              f"cannot be mixed with protocol {config.protocol}'s: choose another --out")
        # A folder saved before finetune.bf16 existed ran in fp32: it is compared as it ran.
        made_in_fp32 = "bf16" not in (saved_values.get("finetune") or {})
        as_run = apply_overrides(load_yaml(StudyConfig, saved), [f"{name}=false" for name in _fp32_settings()] if made_in_fp32 else [])
        previous, current = _identity(to_dict(as_run)), _identity(to_dict(config))
        changed = sorted(key for key in current if previous.get(key) != current[key])
        if changed and made_in_fp32 and {"finetune", "pretrain"} >= set(changed):
            raise ConfigError(f"{out} was made before transfer jobs computed in bf16 where the device runs it natively; "
                              f"its jobs ran in fp32 (and, on a CPU, its pretraining too). Continue it with "
                              f"{' '.join(f'--set {name}=false' for name in _fp32_settings())}, or choose another --out")
        if changed:
            raise ConfigError(f"{out} holds a study with other settings for {', '.join(changed)} ({saved}); restart "
                              f"it with the same ones (tasks, budgets, draws and analyses may change), or choose another --out")


def study_splits(config: StudyConfig, data: DownstreamData, out: Path) -> dict[tuple[int | None, int], Split]:
    """Every (budget, draw) split the study uses, its manifest written under ``splits/``."""
    splits = {}
    for k in config.budget_values():
        for draw in range(max(config.draws_for(mode, k) for mode in (*config.modes, EIGENFACES_MODE))):
            split = splits[(k, draw)] = budget_split(data.images, k, draw)
            manifest = out / "splits" / f"k{budget_name(k)}-d{draw}.csv"
            if not manifest.is_file():
                write_manifest(data.images, split, manifest)
    return splits


def transfer_units(config: StudyConfig, out: Path, inits: list[tuple[str, str, list[int | None]]],
                   splits: dict[tuple[int | None, int], Split]) -> list[tuple[Any, ...]]:
    """The executor's transfer jobs for (init spec, name, budgets) triples: fine-tuning one per init and
    budget (its draws), the frozen modes one per init; units whose jobs are all done are left out.
    Longest first (by fine-tuning steps), so that workers finish together."""
    units = []
    trained = [mode for mode in config.modes if MODES[mode].trains_network]
    for spec, name, budgets in inits:
        groups = [[(mode, k, d) for d in range(config.draws_for(mode, k))] for mode in trained for k in budgets]
        groups.append([(mode, k, d) for mode in config.modes if mode not in trained for k in budgets for d in range(config.draws_for(mode, k))])
        for jobs in groups:
            if any(not job_path(out, mode, name, k, d).is_file() for mode, k, d in jobs):
                units.append((transfer_unit, out, config, spec, name, jobs))

    def steps(unit: tuple[Any, ...]) -> int:
        return sum(finetune_steps(config.finetune, len(splits[k, d].train)) for mode, k, d in unit[-1] if mode in trained)

    return sorted(units, key=steps, reverse=True)


def run_study(config: StudyConfig, out: Path, executor: ExecutorSettings | None = None) -> StudyResults:
    """Run every step of the study not done yet (its jobs through ``executor``, in this process by
    default), then write results.json and the report."""
    from proxytask.report.build import write_report

    executor = executor or ExecutorSettings()
    config.validate()
    check_runs_planned(config)
    out = Path(out).absolute()
    check_study_folder(config, out)
    data_config = config.pretrain.data
    data = load_downstream(data_config)
    check_identities(config, pool_sources(data_config))  # every pool source exists and holds images
    if EIGENFACES in config.baselines:  # built here, not in several workers at once; its images checked before any work
        eigenfaces_cache(data)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(config, out / "config.yaml")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    splits = study_splits(config, data, out)
    budgets = config.budget_values()
    analysis_budgets = [k for k in budgets if budget_name(k) in config.analysis_budgets]
    untrained = [(RANDOM, RANDOM, budgets)] if RANDOM in config.baselines else []
    untrained_variants = [(RANDOM_RGB, RANDOM_RGB, analysis_budgets)] if "input" in config.analyses else []
    eigenfaces_jobs = [(k, draw) for k in budgets for draw in range(config.draws_for(EIGENFACES_MODE, k))] if EIGENFACES in config.baselines else []
    missing_eigenfaces = [(k, draw) for k, draw in eigenfaces_jobs if not job_path(out, EIGENFACES_MODE, EIGENFACES, k, draw).is_file()]
    eigenfaces_units = [(eigenfaces_unit, out, config, missing_eigenfaces[part::executor.workers]) for part in range(executor.workers)]
    needing_no_run = transfer_units(config, out, untrained + untrained_variants, splits) + [u for u in eigenfaces_units if u[-1]]
    runs = pretrain_stage(config, out, executor, alongside=needing_no_run)
    extra = {variant.name for variant in extra_runs(config)}
    pretrained = [(str(run_dir), name, budgets) for name, run_dir in runs.items() if name not in extra]
    pretrained_variants = [(str(runs[name]), name, analysis_budgets) for name in extra]
    main, variants = untrained + pretrained, pretrained_variants + untrained_variants
    run_all(executor, out / "executor", transfer_units(config, out, pretrained + pretrained_variants, splits), "transfer jobs")
    paths = [job_path(out, mode, name, k, draw) for _, name, chosen in main + variants
             for mode in config.modes for k in chosen for draw in range(config.draws_for(mode, k))]
    paths += [job_path(out, EIGENFACES_MODE, EIGENFACES, k, draw) for k, draw in eigenfaces_jobs]
    records = [JobRecord.from_json(json.loads(path.read_text())) for path in paths]
    analyses: dict[str, Any] = {"budgets": list(config.analysis_budgets),
                                "comparisons": {name: [dataclasses.asdict(v) for v in group]
                                                for name, group in comparisons(config).items()}}
    inits = {name: resolve_init(spec, config.pretrain.model.backbone, config.pretrain.input, name=name) for spec, name, _ in main + variants}
    if "feature-change" in config.analyses:
        first_draws = [split for (k, draw), split in splits.items() if draw == 0 and k in analysis_budgets]
        analyses["feature_change"] = feature_change_stage([inits[name] for _, name, _ in main], data, first_draws, config, out, device)
    pairs = comparison_pairs({name: inits[name].network_input.kind for _, name, _ in main},
                             {name: inits[name].network_input.kind for _, name, _ in variants})
    analyses["runs"] = sorted(name for _, name, _ in variants)
    pretraining = {task: json.loads((run / METRICS_FILE).read_text()) for task, run in runs.items()}
    jobs = [dataclasses.replace(r, details={k: v for k, v in r.details.items() if k not in BULKY_FIELDS}) for r in records]
    computed_on = f"{device} (transfer in {transfer_precision(config.finetune, device).describe()})"
    results = StudyResults(to_dict(config), downstream_summary(data), computed_on, selection_summary(config, data), pretraining,
                           time_by_stage(pretraining, records, analyses.get("feature_change", [])), aggregate(records),
                           paired_comparisons(records, pairs), jobs, analyses)
    started = time.perf_counter()
    write_report(results, out)
    results.time_by_stage["report"] = time.perf_counter() - started
    write_json_atomic(out / "results.json", results.to_json())
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
                start = build_backbone(init, finetune_seed(config.finetune, split.draw))
                change = feature_change(start, model.backbone, init.network_input, data.pixels, split.test, crop, device)
                write_json_atomic(path, {"init": init.name, "input": init.network_input.kind, **split_fields(split, data),
                                         "accuracy": result["accuracy"], "stages": len(change["cka"]), **change,
                                         "seconds": time.perf_counter() - started})
            records.append(json.loads(path.read_text()))
    return records


def eigenfaces_unit(out: Path, config: StudyConfig, jobs: list[tuple[int | None, int]]) -> None:
    """The eigenfaces + SVM baseline on (k, draw) splits not done yet (its own crop and size, from the
    same files): a job for the executor."""
    data = load_downstream(config.pretrain.data)
    cache = eigenfaces_cache(data)
    x = eigenfaces_features(np.asarray(cache.pixels))
    for k, draw in jobs:
        path = job_path(out, EIGENFACES_MODE, EIGENFACES, k, draw)
        if not path.is_file():
            started = time.perf_counter()
            split = budget_split(data.images, k, draw)
            result, _ = MODES[EIGENFACES_MODE].run(None, data, split, config, torch.device("cpu"), lambda: x)
            write_json_atomic(path, job_record(EIGENFACES, EIGENFACES_MODE, {"input": "gray 50x37 (scikit-learn example crop)"},
                                               split, data, result, started).to_json())


def downstream_summary(data: DownstreamData) -> dict[str, Any]:
    return {"classes": data.images.class_names, "images_per_class": data.images.class_counts(), "crop": data.crop,
            "lfw_variant": lfw_variant(data),
            "images": len(data.images.paths), "skipped": [list(s) for s in data.skipped],
            "development_overlap": list(data.development_overlap)}


def transfer_once(mode: str, init_spec: str, config: StudyConfig, k: int | None, draw: int, out: Path) -> JobRecord:
    """One transfer job outside a study (``proxytask finetune|probe|knn``), written to ``out/result.json``.

    A pretraining run's own preprocessing (face crop, image and crop size) is used with its backbone.
    """
    init = resolve_init(init_spec, config.pretrain.model.backbone, config.pretrain.input)
    if init.run_dir is not None:
        trained = load_yaml(type(config.pretrain), init.run_dir / "config.yaml").data
        data_config = dataclasses.replace(config.pretrain.data, face_crop=trained.face_crop, folder_crop=trained.folder_crop,
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
        return extract_features(chosen, data.pixels, data_config.crop_size, device, transfer_precision(config.finetune, device))

    result = run_job(mode, init, data, split, config, device, features, out / "classifier")
    write_json_atomic(out / "result.json", result.to_json())
    return result
