"""Carry out a study's plan, stage by stage, through the executors: every check before any work,
then the pretraining runs (with the jobs that need none beside them), the transfer jobs, the
feature-change jobs, and results.json with the report. Every job writes its own file
(:class:`proxytask.study.folder.StudyFolder`), so a restart with the same command finishes only what
is missing, and a restart with more tasks, budgets, draws, seeds, analyses or variants adds only
their work."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from proxytask.config import ConfigError, save_yaml, to_dict
from proxytask.data.downstream import DownstreamData, load_downstream
from proxytask.data.fingerprint import check_fingerprint, file_fingerprint, record_fingerprint
from proxytask.data.selection import ImageSource, downstream_task, pool_sources
from proxytask.data.splits import budget_split, write_manifest
from proxytask.files import write_json_atomic
from proxytask.locks import folder_lock
from proxytask.precision import default_device
from proxytask.records import FeatureChangeRecord, JobRecord, PretrainingRecord, StudyResults
from proxytask.report.build import write_report
from proxytask.study.executors import ExecutorSettings, run_all
from proxytask.study.folder import StudyFolder
from proxytask.study.pictures import check_photo_folder, write_picture_galleries
from proxytask.study.plan import (
    BASELINE_SOURCE,
    KEPT_SOURCE,
    RANDOM_SOURCE,
    PlannedInit,
    PlannedRun,
    StudyPlan,
    TransferJob,
    describe_plan,
    plan_study,
)
from proxytask.study.progress import StudyProgress
from proxytask.study.results import aggregate, downstream_summary, paired_comparisons, selection_summary, time_by_stage
from proxytask.study.resume import check_study_folder, holds_earlier_layout, move_earlier_layout, set_aside_protocol2_jobs
from proxytask.study.settings import StudyConfig, run_settings
from proxytask.tasks import task_class
from proxytask.train import pretrain
from proxytask.transfer.features import transfer_precision
from proxytask.transfer.finetune import finetune_steps
from proxytask.transfer.inits import BASELINE_INITS, Init, RandomInit, RunInit
from proxytask.transfer.jobs import run_feature_change, run_job
from proxytask.transfer.modes import MODES
from proxytask.transfer.monitor import run_monitor
from proxytask.transfer.runners import TransferContext

log = logging.getLogger(__name__)

# Job fields kept in each job's file but left out of results.json (one number per test image).
BULKY_FIELDS = ("predictions", "train_predictions")
# The fewest frozen-feature jobs a unit gets when an init's are spread over the workers (each unit
# extracts the features once).
FROZEN_JOBS_PER_UNIT = 10



def make_init(folder: StudyFolder, config: StudyConfig, planned: PlannedInit) -> Init:
    """The init a planned one names: a random backbone, a finished run's (final or kept weights), or the eigenfaces baseline."""
    if planned.source == RANDOM_SOURCE:
        return RandomInit(planned.name, config.pretrain.model.backbone, planned.network_input, planned.seed)
    if planned.source == BASELINE_SOURCE:
        return BASELINE_INITS[planned.name]()
    if planned.source == KEPT_SOURCE:
        return RunInit.of(folder.run_of(planned.reads, planned.seed).root, planned.name, planned.seed, planned.step)
    return RunInit.of(folder.run_of(planned.name, planned.seed).root, planned.name, planned.seed)


def transfer_context(config: StudyConfig, data: DownstreamData) -> TransferContext:
    return TransferContext(data, config.finetune, config.pretrain.data.crop_size, default_device())


def pretrain_unit(root: Path, config: StudyConfig, run: PlannedRun) -> None:
    """One pretraining run of the study (resumed if it has started): a job for the executor."""
    folder = StudyFolder(root).run(run)
    settings = run_settings(config, run.variant, run.seed)
    log.info("pretraining %s (seed %d) for %d steps", run.name, run.seed, settings.train.max_steps)
    monitor = run_monitor(settings, config.monitor_task) if settings.train.monitor_every else None
    pretrain(settings, folder.root, resume=folder.started, monitor=monitor)


def transfer_unit(root: Path, config: StudyConfig, planned: PlannedInit, jobs: list[TransferJob]) -> None:
    """Run the jobs of one init that are not done yet, each written to its own file: a job for the
    executor (its frozen-feature jobs share one feature extraction)."""
    folder = StudyFolder(root)
    data = load_downstream(config.pretrain.data)
    context = transfer_context(config, data)
    init = make_init(folder, config, planned)
    extracted: list[np.ndarray] = []

    def features() -> np.ndarray:
        if not extracted:
            extracted.append(init.features(data, context.crop_size, context.device, transfer_precision(config.finetune, context.device)))
        return extracted[0]

    for job in jobs:
        path = folder.job(job)
        if not path.is_file():
            record, _ = run_job(job.mode, init, budget_split(data.images, job.k, job.draw), context, features)
            write_json_atomic(path, record.to_json())


def transfer_units(config: StudyConfig, folder: StudyFolder, plan: StudyPlan, inits: list[PlannedInit], workers: int,
                   data: DownstreamData) -> list[tuple[Any, ...]]:
    """The executor's transfer jobs for ``inits``: fine-tuning one unit per init and budget (its draws),
    the frozen modes of an init in up to ``workers`` parts of at least :data:`FROZEN_JOBS_PER_UNIT` jobs
    (each part extracts the features once); units whose jobs are all done are left out. Longest first
    (by fine-tuning steps), so that workers finish together."""
    units = []
    for planned in inits:
        jobs = [job for job in plan.jobs_of(planned.name, planned.seed) if not folder.job(job).is_file()]
        trained = [job for job in jobs if MODES[job.mode].trains_network]
        frozen = [job for job in jobs if not MODES[job.mode].trains_network]
        groups = [[job for job in trained if (job.mode, job.k) == key] for key in dict.fromkeys((job.mode, job.k) for job in trained)]
        parts = max(1, min(workers, len(frozen) // FROZEN_JOBS_PER_UNIT))
        groups += [frozen[part::parts] for part in range(parts)]
        units += [(transfer_unit, folder.root, config, planned, group) for group in groups if group]

    sizes = {k: len(budget_split(data.images, k, 0).train) for k in config.budget_values()}  # the same for every draw

    def steps(unit: tuple[Any, ...]) -> int:
        return sum(finetune_steps(config.finetune, sizes[job.k]) for job in unit[-1] if MODES[job.mode].trains_network)

    return sorted(units, key=steps, reverse=True)


def check_pool(config: StudyConfig, plan: StudyPlan) -> list[ImageSource]:
    """Every pool source exists and holds pictures, and every task that learns labels of the pool's
    pictures finds enough of them: checked before any work, the way out named. Returns the sources."""
    sources = pool_sources(config.pretrain.data)
    folders = np.array([str(path.parent) for source in sources for path in source.paths])
    for run in plan.runs:
        task = task_class(run.variant.task)
        if task.trains_on_labels():
            try:
                task.pool_labels(folders, run_settings(config, run.variant, run.seed))
            except ConfigError as error:
                raise ConfigError(f"{error}; leave {task.name} out (--set baselines=random,eigenfaces for the supervised "
                                  "ceiling, --tasks for a proxy)") from None
    return sources


def prepare(config: StudyConfig, out: Path) -> tuple[StudyPlan, StudyFolder, DownstreamData]:
    """Every check that needs no work (settings, the folder's earlier work, the pictures, the pool, the
    baselines' own pictures), then the folder's settings and split manifests written."""
    plan = plan_study(config)
    folder = StudyFolder(Path(out).absolute())
    check_study_folder(config, folder)
    data = load_downstream(config.pretrain.data)
    sources = check_pool(config, plan)
    fingerprint = {"downstream": file_fingerprint(downstream_task(config.pretrain.data).images.paths),  # every file, as it is now
                   "pool": file_fingerprint(path for source in sources for path in source.paths)}
    if folder.holds_work():
        check_fingerprint(folder.files, fingerprint, f"study folder {folder.root}")
    if config.pretrain.train.monitor_every:  # the monitor's task is read here, once, before any run needs it
        run_monitor(config.pretrain, config.monitor_task)
    for planned in plan.inits:
        if not planned.needs_run:  # built here, not in several workers at once; its pictures checked before any work
            make_init(folder, config, planned).prepare(data)
        elif planned.source == KEPT_SOURCE and folder.run_of(planned.reads, planned.seed).finished:
            make_init(folder, config, planned)  # a run of an earlier version kept no weights: said before any work
    folder.root.mkdir(parents=True, exist_ok=True)
    if holds_earlier_layout(folder):
        move_earlier_layout(config, plan, folder)
    set_aside_protocol2_jobs(config, plan, folder)
    record_fingerprint(folder.files, fingerprint)
    save_yaml(config, folder.config)
    for k, draw in plan.splits:
        if not folder.split(k, draw).is_file():
            write_manifest(data.images, budget_split(data.images, k, draw), folder.split(k, draw))
    return plan, folder, data


def run_study(config: StudyConfig, out: Path, executor: ExecutorSettings | None = None, gallery: Path | None = None) -> StudyResults:
    """Run every job of the study not done yet (through ``executor``, in this process by default),
    then write results.json and the report; ``gallery``: a folder of the user's photos for seed 0 of
    each colorization run of the main table to colorize beside it."""
    executor = executor or ExecutorSettings()
    photos = check_photo_folder(gallery, plan_study(config))
    with folder_lock(Path(out).absolute(), "study folder"):
        return _run_study(config, out, executor, photos)


def _run_study(config: StudyConfig, out: Path, executor: ExecutorSettings, photos: list[Path]) -> StudyResults:
    plan, folder, data = prepare(config, out)
    without_runs = [planned for planned in plan.inits if not planned.needs_run]
    with_runs = [planned for planned in plan.inits if planned.needs_run]
    missing_runs = [(pretrain_unit, folder.root, config, run) for run in plan.runs if not folder.run(run).finished]
    alongside = transfer_units(config, folder, plan, without_runs, executor.workers, data)
    steps = {run: run_settings(config, run.variant, run.seed).train.max_steps for run in plan.runs}
    with StudyProgress(plan, folder, steps, executor.workers) as progress:
        progress.update("pretraining (and the jobs that need no pretraining)")
        run_all(executor, folder.executor, missing_runs, "pretraining", distributed=True, alongside=alongside, progress=progress.update)
        progress.update("transfer jobs")
        run_all(executor, folder.executor, transfer_units(config, folder, plan, with_runs, executor.workers, data), "transfer jobs",
                progress=progress.update)
        progress.update("feature change" if plan.feature_change else "results and report")
        feature_change = feature_change_stage(config, plan, folder, data)
        write_picture_galleries(plan, folder, data, photos)
        results = collect_results(config, plan, folder, data, feature_change)
        started = time.perf_counter()
        write_report(results, folder.root)
        results.time_by_stage["report"] = time.perf_counter() - started
        write_json_atomic(folder.results, results.to_json())
        progress.update("done")
    return results


def collect_results(config: StudyConfig, plan: StudyPlan, folder: StudyFolder, data: DownstreamData,
                    feature_change: list[FeatureChangeRecord]) -> StudyResults:
    """Every finished run's and job's record of the plan, aggregated into the study's results."""
    records = [JobRecord.from_json(json.loads(folder.job(job).read_text())) for job in plan.transfer]
    pretraining = [PretrainingRecord(run.name, run.variant.task, run.seed, str(folder.run(run).root.relative_to(folder.root)),
                                     json.loads(folder.run(run).metrics.read_text())) for run in plan.runs]
    jobs = [dataclasses.replace(r, details={k: v for k, v in r.details.items() if k not in BULKY_FIELDS}) for r in records]
    device = default_device()
    modes = list(dict.fromkeys(mode for planned in plan.inits for mode in planned.modes))
    computed_on = f"{device} (transfer in {transfer_precision(config.finetune, device).describe()})"
    return StudyResults(to_dict(config), downstream_summary(data), computed_on,
                        selection_summary(config, data, modes), pretraining, time_by_stage(pretraining, records, feature_change),
                        aggregate(records), paired_comparisons(plan, records), jobs,
                        list(dict.fromkeys(planned.name for planned in plan.inits if planned.main)), list(plan.sets), feature_change,
                        {name: list(plan.seeds_of(name)) for name in dict.fromkeys(planned.name for planned in plan.inits)})


def feature_change_stage(config: StudyConfig, plan: StudyPlan, folder: StudyFolder, data: DownstreamData) -> list[FeatureChangeRecord]:
    """Every feature-change job of the plan not done yet, in this process; every record."""
    context = transfer_context(config, data)
    records = []
    for job in tqdm(plan.feature_change, desc="feature change", unit="job", dynamic_ncols=True, disable=not plan.feature_change):
        path = folder.feature_change(job)
        if not path.is_file():
            init = make_init(folder, config, plan.init(job.init, job.seed))
            write_json_atomic(path, run_feature_change(init, budget_split(data.images, job.k, job.draw), context).to_json())
        records.append(FeatureChangeRecord.from_json(json.loads(path.read_text())))
    return records


def print_plan(config: StudyConfig, out: Path) -> str:
    """The plan of ``config`` as text, with what the study folder ``out`` already holds marked; runs nothing."""
    plan = plan_study(config)
    folder = StudyFolder(Path(out).absolute())
    finished = {run for run in plan.runs if folder.run(run).finished}
    done = {job for job in plan.transfer if folder.job(job).is_file()}
    earlier = ("; it holds runs and jobs of the layout before pretraining seeds, which the study moves into seed folders "
               "when it runs (not counted as done here)") if holds_earlier_layout(folder) else ""
    return f"study {folder.root} (preset {config.preset}){earlier}\n" + describe_plan(config, plan, finished, done)
