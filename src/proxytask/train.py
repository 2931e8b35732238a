"""The pretraining loop: one process or many under ``torchrun``, checkpoints, resume, logs, gallery.

Flow: pool sources -> image caches -> held-out split -> per-step batches (crop, flip) -> task
(inputs, targets) -> loss -> optimizer -> checkpoint; at the end the task's gallery and metrics.
"""

from __future__ import annotations

import json
import logging
import math
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from proxytask import distributed
from proxytask.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint, save_weights
from proxytask.config import ConfigError, DataConfig, OptimConfig, PretrainConfig, changed_settings, load_yaml, save_yaml, to_dict
from proxytask.data.batches import BatchRandom, StepSampler, center_crop, random_crop_flip, to_float
from proxytask.data.cache import ImageCache, content_digest, load_cache
from proxytask.data.images import BadImage, describe_skips, read_file, skip_counts
from proxytask.data.pool import PoolRows
from proxytask.data.selection import downstream_task, pool_sources
from proxytask.files import write_json_atomic, write_text_atomic
from proxytask.flops import training_flops_per_image
from proxytask.gallery import save_gallery
from proxytask.precision import Precision
from proxytask.runlog import RunLog, read_log
from proxytask.tasks import build_task, task_class, task_input
from proxytask.tasks.base import ProxyTask

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"
FINAL_WEIGHTS = "model.safetensors"


class TrainingDiverged(ConfigError):
    """The training loss became NaN or infinite; the message names the step."""


# Steps left out of the overall images/s figure (start-up, first allocations).
WARMUP_STEPS_UNTIMED = 3


@dataclass(frozen=True)
class PoolImages:
    """Pretraining images: ``train`` read from the caches a batch at a time, ``heldout`` (N, S, S, 3)
    uint8 in memory, identities for tasks that need labels ((N,) long, else None), how the pool was
    filtered (``counts``, numbers) and what it is made of (``sources``, ``skip_reasons``)."""

    train: PoolRows
    heldout: torch.Tensor
    train_labels: torch.Tensor | None
    heldout_labels: torch.Tensor | None
    num_classes: int | None
    counts: dict[str, int | float]
    sources: list[str]
    skip_reasons: dict[str, int]
    skipped: list[tuple[str, str]]


def downstream_digests(data: DataConfig) -> set[str]:
    """Content digests of the downstream task's readable files: a pool image with one of them is a copy."""
    digests = set()
    for path in downstream_task(data).images.paths:
        try:
            digests.add(content_digest(read_file(path)))
        except BadImage:
            continue  # an unreadable downstream file is no picture the pool could copy
    return digests


def load_pool(config: PretrainConfig, task: type[ProxyTask], context: distributed.Context) -> PoolImages:
    """Cache the pool's sources (rank 0 first, the others then map them), drop unusable files and copies
    of downstream images, keep the pictures (and labels) the task chooses, hold out gallery images."""
    data = config.data
    sources = pool_sources(data)

    def cached_sources() -> list[ImageCache]:
        return [load_cache(source.paths, source.crop, data.image_size, data.workers) for source in sources]

    caches = cached_sources() if context.is_main else None
    distributed.barrier(context)
    if caches is None:
        caches = cached_sources()
    downstream = downstream_digests(data)
    kept, groups, duplicates, gray = [], [], 0, 0
    for cache in caches:
        copies = cache.usable & np.array([digest in downstream for digest in cache.digests], dtype=bool)
        usable = cache.usable & ~copies
        keep = usable & task.pool_images(cache.is_gray)
        gray += int((usable & ~keep).sum())
        duplicates += int(copies.sum())
        rows = np.flatnonzero(keep)
        kept.append(rows)
        groups += [str(Path(cache.paths[row]).parent) for row in rows]
    pool = PoolRows([cache.pixels for cache in caches], kept)
    usable = np.arange(len(pool))
    labels, num_classes = None, None
    labeled = task.pool_labels(np.array(groups), config)
    if labeled is not None:
        usable, labels, num_classes = labeled
    if len(usable) <= data.heldout_images:
        raise ConfigError(f"the pool ({', '.join(data.pool)}) has {len(usable)} usable images, not more than "
                          f"data.heldout_images={data.heldout_images}")
    order = np.random.default_rng(config.train.seed).permutation(len(usable))
    heldout, train = np.sort(order[:data.heldout_images]), order[data.heldout_images:]
    train = np.sort(train[:max(1, round(data.pool_fraction * len(train)))])
    skipped = [entry for cache in caches for entry in cache.skipped]
    counts = {
        "pool_images": sum(len(cache.paths) for cache in caches),
        "images_skipped": len(skipped),
        "pool_duplicates_of_downstream": duplicates,
        "images_gray_excluded": gray,
        "heldout_images": len(heldout),
        "train_images": len(train),
        "pool_fraction": data.pool_fraction,
        **({"identities": num_classes} if num_classes is not None else {}),
    }

    def label_tensor(part: np.ndarray) -> torch.Tensor | None:
        return torch.from_numpy(labels[part]).long() if labels is not None else None

    return PoolImages(pool.subset(usable[train]), pool.subset(usable[heldout]).gather(np.arange(len(heldout))),
                      label_tensor(train), label_tensor(heldout), num_classes, counts,
                      [source.name for source in sources], skip_counts(skipped), skipped)


def make_optimizer(parameters, optim: OptimConfig) -> torch.optim.Optimizer:
    """SGD with momentum, or AdamW, as configured."""
    if optim.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=optim.lr, momentum=optim.momentum, weight_decay=optim.weight_decay)
    return torch.optim.AdamW(parameters, lr=optim.lr, weight_decay=optim.weight_decay)


def lr_factor(step: int, total_steps: int, optim: OptimConfig) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then cosine, step (x0.1) or constant."""
    warmup = min(optim.warmup_steps, max(total_steps - 1, 0))
    if step < warmup:
        return (step + 1) / warmup
    if optim.schedule == "cosine":
        progress = (step - warmup) / max(total_steps - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    if optim.schedule == "step":
        return 0.1 ** sum(step >= fraction * total_steps for fraction in optim.step_milestones)
    return 1.0


def augment(batch: torch.Tensor, crop: int, rng: BatchRandom, device: torch.device,
            memory_format: torch.memory_format = torch.contiguous_format) -> torch.Tensor:
    """Cached rows (B, S, S, 3) uint8 -> random crop and flip on ``device``, (B, 3, crop, crop) in [0, 1]."""
    cropped = random_crop_flip(batch.to(device, non_blocking=True), crop, rng)
    return to_float(cropped).contiguous(memory_format=memory_format)


def compiled(model: torch.nn.Module) -> torch.nn.Module:
    """``torch.compile(model)``; where compiling a graph fails (no compiler, an unsupported operation)
    that graph runs eagerly instead of stopping the run."""
    import torch._dynamo

    torch._dynamo.config.suppress_errors = True
    return torch.compile(model)


def train_step(model: torch.nn.Module, task: ProxyTask, optimizer: torch.optim.Optimizer, images: torch.Tensor,
               rng: BatchRandom, amp: AbstractContextManager, labels: torch.Tensor | None = None) -> torch.Tensor:
    """One optimizer step on augmented images; ``model`` is the task or its DDP wrapper. Returns the
    step's losses (1 + len(task.loss_terms),): ``"loss"`` first, then the task's named terms."""
    inputs, targets = task.make_batch(images, rng, labels)
    with amp:
        losses = model(inputs, targets)
    optimizer.zero_grad(set_to_none=True)
    losses["loss"].backward()
    optimizer.step()
    return torch.stack([losses[name].detach().float() for name in ("loss", *task.loss_terms)])


def prepare_run_folder(config: PretrainConfig, run_dir: Path, resume: bool, extend_steps: bool = False) -> PretrainConfig:
    """Check the run folder against ``--resume`` and return the config to run with.

    A resumed run keeps the settings it was started with: a differing setting is refused, naming
    it, except a longer ``train.max_steps`` when ``extend_steps`` asks for one. Nothing is written here.
    """
    saved = run_dir / CONFIG_FILE
    if resume:
        if not saved.is_file():
            raise ConfigError(f"--resume: {run_dir} holds no {CONFIG_FILE}; it is not a run folder")
        original = load_yaml(PretrainConfig, saved)
        allowed = {"train.max_steps"} if extend_steps else set()
        refused = [(key, old, new) for key, old, new in changed_settings(original, config) if key not in allowed]
        if refused:
            listed = ", ".join(f"{key} (saved {old!r}, given {new!r})" for key, old, new in refused)
            raise ConfigError(f"--resume continues {run_dir} with the settings it started with; these differ: {listed}. "
                              "Drop them from the command (a longer run: --extend-steps N), or choose another --out")
        return config
    if saved.is_file():
        raise ConfigError(f"{run_dir} already holds a run; pass --resume to continue it, or choose another --out")
    return config


def pretrain(config: PretrainConfig, run_dir: Path, resume: bool = False, extend_steps: bool = False) -> dict[str, float]:
    """Run (or resume) a pretraining run in ``run_dir``; returns the metrics written to metrics.json.
    ``extend_steps``: a resumed run may be given a larger ``train.max_steps``."""
    context = distributed.setup()
    try:
        return _pretrain(config, Path(run_dir), resume, context, extend_steps)
    finally:
        distributed.teardown(context)


def _pretrain(config: PretrainConfig, run_dir: Path, resume: bool, context: distributed.Context,
              extend_steps: bool = False) -> dict[str, float]:
    config.validate()
    config = prepare_run_folder(config, run_dir, resume, extend_steps)
    network_input = task_input(config)
    torch.manual_seed(config.train.seed)
    pool = load_pool(config, task_class(config.task), context)
    device = context.device
    on_cuda = device.type == "cuda"
    task = build_task(config, pool.num_classes).to(device)
    # Only a run known to start is written: a failed start leaves no folder that blocks the corrected command.
    distributed.barrier(context)  # every rank has checked the folder before rank 0 writes into it
    if context.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_yaml(config, run_dir / CONFIG_FILE)
        network_input.save(run_dir)
        _record_pool(run_dir, pool)

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
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total_steps, config.optim))

    start_step, earlier_seconds = _restore(run_dir, task, optimizer, scheduler) if resume else (0, 0.0)
    if start_step and context.is_main:
        log.info("resuming %s from step %d", run_dir, start_step)

    run_log = RunLog(run_dir, start_step, task.loss_terms) if context.is_main else None
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
        loss = train_step(model, task, optimizer, images, rng, amp, labels)
        scheduler.step()
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
                                       f"(--config {run_dir / CONFIG_FILE} --set optim.lr=...)")
            now = time.perf_counter()
            rate = window_images / max(now - window_start, 1e-9)
            if run_log is not None:
                terms = dict(zip(task.loss_terms, mean_losses[1:].tolist()))
                run_log.write(done, done / sampler.steps_per_epoch, mean_loss.item(), scheduler.get_last_lr()[0], rate, terms)
                bar.set_postfix(loss=f"{mean_loss.item():.4f}", img_s=f"{rate:.1f}")
            window_losses, window_images, window_start = [], 0, now
        bar.update(1)
        if context.is_main and checkpoint_now:
            _save(run_dir, done, task, optimizer, scheduler, config, seconds_so_far())
    bar.close()

    metrics: dict[str, float] = {}
    train_seconds = seconds_so_far()
    if context.is_main:
        assert run_log is not None
        run_log.close()
        timed_seconds = time.perf_counter() - timed_since if timed_since is not None else 0.0
        rate = timed_images / timed_seconds if timed_seconds > 0 else float("nan")
        metrics = _finish(run_dir, config, task, pool, device, precision, rate, total_steps, train_seconds)
    distributed.barrier(context)
    return metrics


def _restore(run_dir: Path, task: ProxyTask, optimizer, scheduler) -> tuple[int, float]:
    """Load the latest checkpoint of ``run_dir`` into the task, optimizer, scheduler and RNGs; its step
    and the training seconds spent up to it ((0, 0.0): none)."""
    found = latest_checkpoint(run_dir)
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


def _save(run_dir: Path, step: int, task: ProxyTask, optimizer, scheduler, config: PretrainConfig, train_seconds: float) -> None:
    state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "step": step,
             "rng_cpu": torch.get_rng_state(), "train_seconds": train_seconds}
    if torch.cuda.is_available():
        state["rng_cuda"] = torch.cuda.get_rng_state()
    save_checkpoint(run_dir, step, task.state_dict(), state, to_dict(config))


def _record_pool(run_dir: Path, pool: PoolImages) -> None:
    write_json_atomic(run_dir / "data.json", {**pool.counts, "sources": pool.sources, "skip_reasons": pool.skip_reasons})
    if pool.skipped:
        write_text_atomic(run_dir / "skipped.txt", "".join(f"{path}\t{reason}\n" for path, reason in pool.skipped))
        log.warning("skipped %d unusable image files of the pool (%s; listed in %s)", len(pool.skipped),
                    describe_skips(pool.skipped), run_dir / "skipped.txt")
    if pool.counts["pool_duplicates_of_downstream"]:
        log.warning("left %d pool images out: exact copies of downstream images", pool.counts["pool_duplicates_of_downstream"])
    if pool.counts["images_gray_excluded"]:
        log.info("left %d grayscale pictures out of the training images (the task needs color)", pool.counts["images_gray_excluded"])


def _finish(run_dir: Path, config: PretrainConfig, task: ProxyTask, pool: PoolImages, device: torch.device,
            precision: Precision, images_per_second: float, total_steps: int, train_seconds: float) -> dict[str, float]:
    """Final weights, gallery on held-out images, metrics.json (with the pretraining budget: pool
    images seen, training seconds and FLOPs per image of a training step)."""
    save_weights(task.state_dict(), run_dir / FINAL_WEIGHTS)
    heldout = to_float(pool.heldout.to(device))
    heldout_labels = pool.heldout_labels.to(device) if pool.heldout_labels is not None else None
    fresh = build_task(config, pool.num_classes).to(device)
    flops = training_flops_per_image(fresh, center_crop(heldout, config.data.crop_size), heldout_labels)
    task.eval()
    panels, heldout_metrics = task.visualize(heldout, heldout_labels)
    save_gallery(panels, run_dir / "gallery.png", title=f"{config.task}: held-out pool images")
    rows = read_log(run_dir)
    previous = json.loads((run_dir / METRICS_FILE).read_text()) if (run_dir / METRICS_FILE).is_file() else {}
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
    }
    write_json_atomic(run_dir / METRICS_FILE, metrics)
    return metrics
