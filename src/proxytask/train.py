"""The pretraining loop: one process or many under ``torchrun``, checkpoints, resume, logs, gallery.

Flow: pool sources -> image caches -> held-out split -> per-step batches (crop, flip) -> task
(inputs, targets) -> loss -> optimizer step (:mod:`proxytask.engine`) -> checkpoint; at the end
the task's gallery and metrics. The run's files are named by :class:`proxytask.runs.RunFolder`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from proxytask import distributed
from proxytask.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, save_weights
from proxytask.config import ConfigError, changed_settings, save_yaml, to_dict
from proxytask.data.batches import BatchRandom, StepSampler, center_crop, to_float
from proxytask.data.fingerprint import check_fingerprint, record_fingerprint
from proxytask.data.images import describe_skips
from proxytask.data.pool import PoolImages, load_pool
from proxytask.engine import augment, compiled, make_optimizer, make_scheduler, optimize
from proxytask.files import write_atomic, write_json_atomic, write_text_atomic
from proxytask.flops import training_flops_per_image
from proxytask.gallery import save_gallery
from proxytask.inputs import NetworkInput
from proxytask.locks import folder_lock
from proxytask.models.backbones import Backbone
from proxytask.precision import Precision
from proxytask.runlog import MonitorLog, RunLog, read_log
from proxytask.runs import KEPT_FRACTIONS, PretrainConfig, RunFolder, kept_step
from proxytask.tasks import build_task, task_class, task_input
from proxytask.tasks.base import ProxyTask

log = logging.getLogger(__name__)


class TrainingDiverged(ConfigError):
    """The training loss became NaN or infinite; the message names the step."""


# Steps left out of the overall images/s figure (start-up, first allocations).
WARMUP_STEPS_UNTIMED = 3


def train_step(model: torch.nn.Module, task: ProxyTask, optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
               images: torch.Tensor, rng: BatchRandom, amp: AbstractContextManager, labels: torch.Tensor | None = None) -> torch.Tensor:
    """One optimizer step on augmented images; ``model`` is the task or its DDP wrapper. Returns the
    step's losses (1 + len(task.loss_terms),): ``"loss"`` first, then the task's named terms."""
    inputs, targets = task.make_batch(images, rng, labels)
    with amp:
        losses = model(inputs, targets)
    optimize(losses["loss"], optimizer, scheduler)
    return torch.stack([losses[name].detach().float() for name in ("loss", *task.loss_terms)])


def prepare_run_folder(config: PretrainConfig, run: RunFolder, resume: bool, extend_steps: bool = False) -> PretrainConfig:
    """Check the run folder against ``--resume`` and return the config to run with.

    A resumed run keeps the settings it was started with: a differing setting is refused, naming
    it, except a longer ``train.max_steps`` when ``extend_steps`` asks for one. A folder whose start
    failed before its first checkpoint takes a new start. Nothing is written here.
    """
    run_dir = run.root
    if resume:
        if not run.started:
            raise ConfigError(f"--resume: {run_dir} holds no {run.config.name}; it is not a run folder")
        original = run.settings()
        allowed = {"train.max_steps"} if extend_steps else set()
        refused = [(key, old, new) for key, old, new in changed_settings(original, config) if key not in allowed]
        if refused:
            listed = ", ".join(f"{key} (saved {old!r}, given {new!r})" for key, old, new in refused)
            raise ConfigError(f"--resume continues {run_dir} with the settings it started with; these differ: {listed}. "
                              "Drop them from the command (a longer run: --extend-steps N), or choose another --out")
        return config
    if run.started and (run.finished or latest_checkpoint(run.checkpoints) is not None):
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out")
    if run.started:  # a start that failed before its first checkpoint (out of memory, a diverged loss): nothing to keep
        log.info("%s holds a start that saved no checkpoint: starting over with the settings given", run_dir)
    return config


# A transfer monitor (proxytask.transfer.monitor): a backbone and its input -> named scores.
Monitor = Callable[[Backbone, NetworkInput], dict[str, float]]


def pretrain(config: PretrainConfig, run_dir: Path, resume: bool = False, extend_steps: bool = False,
             monitor: Monitor | None = None) -> dict[str, float]:
    """Run (or resume) a pretraining run in ``run_dir``; returns the metrics written to metrics.json.
    ``extend_steps``: a resumed run may be given a larger ``train.max_steps``. ``monitor``: scores the
    backbone at the first step, every ``train.monitor_every`` steps and at the last (monitor.csv)."""
    context = distributed.setup()
    try:
        with folder_lock(Path(run_dir), "run folder") if context.is_main else nullcontext():
            return _pretrain(config, Path(run_dir), resume, context, extend_steps, monitor)
    finally:
        distributed.teardown(context)


def _pretrain(config: PretrainConfig, run_dir: Path, resume: bool, context: distributed.Context,
              extend_steps: bool = False, monitor: Monitor | None = None) -> dict[str, float]:
    config.validate()
    run = RunFolder(run_dir)
    config = prepare_run_folder(config, run, resume, extend_steps)
    network_input = task_input(config)
    torch.manual_seed(config.train.seed)
    chosen = task_class(config.task)
    pool = load_pool(config.data, config.train.seed, chosen.pool_images, partial(chosen.pool_labels, config=config), context,
                     run.downstream_checked() if resume else None)
    device = context.device
    on_cuda = device.type == "cuda"
    task = build_task(config, pool.num_classes).to(device)
    if resume and run.started:
        check_fingerprint(run.files, pool.fingerprint, f"run folder {run_dir}")

    precision = Precision.choose(device, config.train.bf16, config.train.channels_last)
    memory_format = precision.memory_format
    task = task.to(memory_format=memory_format)
    model: torch.nn.Module = task
    task.data_parallel = context.world_size > 1
    if context.world_size > 1:
        if on_cuda:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = DistributedDataParallel(model, device_ids=[device.index] if on_cuda else None)
    optimizer = make_optimizer(model.parameters(), config.optim)
    if config.train.compile:
        model = compiled(model)

    sampler = StepSampler(len(pool.train), config.train.batch_size, config.train.seed, context.rank, context.world_size)
    total_steps = config.train.max_steps or max(1, math.ceil(config.train.epochs * sampler.steps_per_epoch))
    scheduler = make_scheduler(optimizer, total_steps, config.optim)
    kept_steps = {kept_step(total_steps, fraction) for fraction in KEPT_FRACTIONS} - {total_steps}

    start_step, earlier_seconds = _restore(run, task, optimizer, scheduler) if resume else (0, 0.0)
    if start_step and context.is_main:
        log.info("resuming %s from step %d", run_dir, start_step)
    # Only a run known to start is written, its settings last: a failed start leaves nothing that blocks the corrected command.
    distributed.barrier(context)  # every rank has checked the folder before rank 0 writes into it
    if context.is_main:
        network_input.save(run.input)
        _record_pool(run, pool)
        save_yaml(config, run.config)  # a resumed run's too: --extend-steps lengthens it

    run_log = RunLog(run.log, run.tensorboard, start_step, task.loss_terms) if context.is_main else None
    watching = run_log is not None and monitor is not None and config.train.monitor_every > 0
    monitor_log = MonitorLog(run.monitor, run_log.tensorboard, start_step) if watching else None

    def watch(done: int) -> None:
        """The monitor's scores of the backbone after ``done`` steps (rank 0; the others wait at the next step)."""
        if monitor_log is not None and monitor is not None:
            monitor_log.write(done, done * config.train.batch_size, monitor(task.backbone, network_input))

    if start_step == 0:
        watch(0)  # the network as initialised: the random init's level
    amp = precision.autocast()
    if context.is_main:
        log.info("computing in %s", precision.describe())
    model.train()
    window_losses: list[torch.Tensor] = []
    timed_images, timed_since = 0, None
    window_start = loop_start = time.perf_counter()
    window_images = 0

    def seconds_so_far() -> float:
        return earlier_seconds + time.perf_counter() - loop_start

    bar = tqdm(total=total_steps, initial=start_step, unit="step", desc=f"pretrain {config.task}", disable=not context.is_main, dynamic_ncols=True)
    for step, local_rows in sampler.batches(start_step):
        if step >= total_steps:
            break
        rng = BatchRandom(config.train.seed, step, config.train.batch_size, context.rank, context.world_size, device)
        rows = torch.from_numpy(local_rows)
        images = augment(pool.train.gather(local_rows), config.data.crop_size, rng, device, memory_format)
        labels = pool.train_labels[rows].to(device) if pool.train_labels is not None else None
        loss = train_step(model, task, optimizer, scheduler, images, rng, amp, labels)
        window_losses.append(loss)
        window_images += config.train.batch_size
        if step - start_step == WARMUP_STEPS_UNTIMED:
            timed_since, timed_images = time.perf_counter(), 0
        elif timed_since is not None:
            timed_images += config.train.batch_size
        done = step + 1
        checkpoint_now = done % config.train.checkpoint_every == 0 or done == total_steps
        if done % config.train.log_every == 0 or checkpoint_now:
            mean_losses = distributed.mean_over_ranks(torch.stack(window_losses).mean(dim=0))
            mean_loss = mean_losses[0]
            if not torch.isfinite(mean_loss):  # every rank sees it, before any checkpoint of this step is written
                raise TrainingDiverged(f"the training loss became {mean_loss.item()} by step {done}: {run_dir} stopped there "
                                       "and keeps its last good checkpoint; try a lower optim.lr in a new run "
                                       f"(--config {run.config} --set optim.lr=...)")
            now = time.perf_counter()
            rate = window_images / max(now - window_start, 1e-9)
            if run_log is not None:
                terms = dict(zip(task.loss_terms, mean_losses[1:].tolist()))
                run_log.write(done, done / sampler.steps_per_epoch, mean_loss.item(), scheduler.get_last_lr()[0], rate, terms)
                bar.set_postfix(loss=f"{mean_loss.item():.4f}", img_s=f"{rate:.1f}")
            window_losses, window_images, window_start = [], 0, now
        bar.update(1)
        if done % max(1, config.train.monitor_every) == 0 or done == total_steps:
            watch(done)
        if context.is_main and done in kept_steps:
            _keep_weights(run, done, task)
        if context.is_main and checkpoint_now:
            _save(run, done, task, optimizer, scheduler, config, seconds_so_far())
    bar.close()

    metrics: dict[str, float] = {}
    train_seconds = seconds_so_far()
    if context.is_main:
        assert run_log is not None
        run_log.close()
        timed_seconds = time.perf_counter() - timed_since if timed_since is not None else 0.0
        rate = timed_images / timed_seconds if timed_seconds > 0 else float("nan")
        metrics = _finish(run, config, task, pool, device, precision, rate, total_steps, train_seconds)
    distributed.barrier(context)
    return metrics


def _restore(run: RunFolder, task: ProxyTask, optimizer, scheduler) -> tuple[int, float]:
    """Load the latest checkpoint of ``run`` into the task, optimizer, scheduler and RNGs; its step
    and the training seconds spent up to it ((0, 0.0): none)."""
    found = latest_checkpoint(run.checkpoints)
    if found is None:
        return 0, 0.0
    step, folder = found
    weights, state = load_checkpoint(folder)  # the optimizer state follows its parameters' device on loading
    task.load_state_dict(weights)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng_cpu"])
    if torch.cuda.is_available() and "rng_cuda" in state:
        torch.cuda.set_rng_state(state["rng_cuda"])
    return step, float(state.get("train_seconds", 0.0))


def _save(run: RunFolder, step: int, task: ProxyTask, optimizer, scheduler, config: PretrainConfig, train_seconds: float) -> None:
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
             "rng_cpu": torch.get_rng_state(), "train_seconds": train_seconds}
    if torch.cuda.is_available():
        state["rng_cuda"] = torch.cuda.get_rng_state()
    save_checkpoint(run.checkpoints, step, task.state_dict(), state, to_dict(config))


def _keep_weights(run: RunFolder, step: int, task: ProxyTask) -> None:
    """The backbone's weights after ``step`` steps, kept for a study's length analysis: written
    atomically, then their SHA-256 (a resumed run that passes the step again writes the same bytes)."""
    digests: list[str] = []
    write_atomic(run.kept_weights(step), lambda tmp: digests.append(save_weights(task.backbone.state_dict(), tmp)))
    write_text_atomic(run.kept_sha256(step), digests[0] + "\n")


def _record_pool(run: RunFolder, pool: PoolImages) -> None:
    """What the pool was made of (data.json, skipped.txt) and the fingerprint of its files (files.json)."""
    write_json_atomic(run.data, {**pool.counts, "sources": pool.sources, "skip_reasons": pool.skip_reasons,
                                 "downstream_checked": pool.downstream_checked})
    record_fingerprint(run.files, pool.fingerprint)
    if pool.skipped:
        write_text_atomic(run.skipped, "".join(f"{path}\t{reason}\n" for path, reason in pool.skipped))
        log.warning("skipped %d unusable image files of the pool (%s; listed in %s)", len(pool.skipped),
                    describe_skips(pool.skipped), run.skipped)
    if pool.counts["pool_duplicates_of_downstream"]:
        log.warning("left %d pool images out: exact copies of downstream images", pool.counts["pool_duplicates_of_downstream"])
    if pool.counts["images_gray_excluded"]:
        log.info("left %d grayscale pictures out of the training images (the task needs color)", pool.counts["images_gray_excluded"])


def _finish(run: RunFolder, config: PretrainConfig, task: ProxyTask, pool: PoolImages, device: torch.device,
            precision: Precision, images_per_second: float, total_steps: int, train_seconds: float) -> dict[str, float]:
    """Final weights, gallery on held-out images, metrics.json (with the pretraining budget: pool
    images seen, training seconds and FLOPs per image of a training step)."""
    weights_sha256 = save_weights(task.state_dict(), run.weights)
    heldout = to_float(pool.heldout.to(device))
    heldout_labels = pool.heldout_labels.to(device) if pool.heldout_labels is not None else None
    fresh = build_task(config, pool.num_classes).to(device)
    flops = training_flops_per_image(fresh, center_crop(heldout, config.data.crop_size), heldout_labels)
    task.eval()
    panels, heldout_metrics = task.visualize(heldout, heldout_labels)
    save_gallery(panels, run.gallery, title=f"{config.task}: held-out pool images", legend=task.gallery_legend)
    rows = read_log(run.log)
    previous = json.loads(run.metrics.read_text()) if run.finished else {}
    metrics = {
        "task": config.task,
        "backbone": config.model.backbone,
        "input": config.input,
        "steps": total_steps,
        "images_seen": total_steps * config.train.batch_size,
        "epochs": total_steps * config.train.batch_size / len(pool.train),
        "train_seconds": train_seconds,
        "flops_per_image": flops,
        "loss_first": rows[0]["loss"],
        "loss_last": rows[-1]["loss"],
        **heldout_metrics,
        # A resumed run that only wrote its final step keeps the throughput it measured before.
        "images_per_second": images_per_second if math.isfinite(images_per_second) else previous.get("images_per_second", float("nan")),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "precision": precision.describe(),
        **pool.counts,
        "weights_sha256": weights_sha256,
    }
    write_json_atomic(run.metrics, metrics)
    return metrics
