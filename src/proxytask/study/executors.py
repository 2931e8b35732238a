"""Where a study's independent jobs run: in this process, in worker processes on this machine, or
on a Slurm cluster, through submitit (the launcher DINO and MAE use) rather than a scheduler of our own.

A job is a tuple: a module-level function and its arguments; it writes its own result files (atomically), so
the study collects results from the folder, whatever ran them. ``run_all`` returns when every job
has finished and raises if one failed, naming it.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from proxytask.config import ConfigError
from proxytask.distributed import usable_cores

EXECUTORS = ("inprocess", "local", "slurm")
POLL_SECONDS = 0.5
SLURM_POLL_SECONDS = 10.0
# How long an interrupted study waits for its cancelled workers to end.
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class ExecutorSettings:
    """How a study runs its jobs. ``workers``: jobs at once (local worker processes, or the Slurm
    array's parallelism). Slurm: ``partition``, ``gpus_per_job`` (a pretraining job runs one
    process per GPU, data-parallel), ``time_limit_min`` per job."""

    kind: str = "inprocess"
    workers: int = 1
    partition: str | None = None
    gpus_per_job: int = 0
    time_limit_min: int = 240

    def __post_init__(self) -> None:
        if self.kind not in EXECUTORS:
            raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, got {self.kind!r}")
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {self.workers}")
        if self.gpus_per_job < 0 or self.time_limit_min < 1:
            raise ConfigError("--gpus-per-job must be >= 0 and --time-limit >= 1 minute")


# Local workers a CPU study starts by default: one per core, at most this many.
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """Local worker processes for a CPU machine: one per usable core (at most :data:`MAX_DEFAULT_WORKERS`)."""
    return max(1, min(usable_cores(), MAX_DEFAULT_WORKERS))


def default_executor() -> ExecutorSettings:
    """In this process on a CUDA GPU; on a CPU, one local worker process per core (one thread each),
    which measured faster than one process using every core (docs/benchmarks.md)."""
    if torch.cuda.is_available() or default_workers() == 1:
        return ExecutorSettings()
    return ExecutorSettings("local", default_workers())


def _threaded(threads: int, function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` with torch and the BLAS libraries (scikit-learn's) limited to ``threads``
    CPU threads: the workers share the cores."""
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        return function(*args)


def _distributed(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function(*args)`` as one process of a multi-process Slurm job: torch.distributed's
    environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR...) is set from Slurm's first."""
    import submitit

    submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)
    return function(*args)


def _nothing() -> None:
    """The default progress callback."""


def run_all(settings: ExecutorSettings, folder: Path, jobs: Sequence[tuple[Any, ...]], name: str, distributed: bool = False,
            alongside: Sequence[tuple[Any, ...]] = (), progress: Callable[[], None] = _nothing) -> None:
    """Run every job ``(function, *args)`` as ``settings`` say; logs go to ``folder``. Local workers
    take the jobs in the order given, each as soon as one is free.

    ``distributed`` jobs (pretraining) get ``gpus_per_job`` processes each on Slurm. ``alongside``:
    one-process jobs that run at the same time (a study's jobs that need no pretraining run).
    ``progress`` is called after each job in this process, and every poll while workers run them.
    """
    if not jobs and not alongside:
        return
    if settings.kind == "inprocess":  # the short jobs first: their measured times give the ETA early
        for function, *args in [*alongside, *jobs]:
            function(*args)
            progress()
        return
    import submitit

    executor = submitit.AutoExecutor(folder=str(folder), cluster=settings.kind)
    if settings.kind == "local":
        threads = max(1, usable_cores() // settings.workers)
        executor.update_parameters(timeout_min=settings.time_limit_min, name=name)
        calls = [(_threaded, threads, *job) for job in [*jobs, *alongside]]
        _run_in_waves(executor, settings.workers, calls, torch.cuda.device_count(), progress)
        return
    submitted = []
    for group, group_distributed in ((jobs, distributed), (alongside, False)):
        if not group:  # submitit warns about an empty batch
            continue
        processes = max(1, settings.gpus_per_job) if group_distributed else 1
        executor.update_parameters(timeout_min=settings.time_limit_min, slurm_partition=settings.partition, name=name,
                                   gpus_per_node=settings.gpus_per_job if group_distributed else min(1, settings.gpus_per_job),
                                   tasks_per_node=processes, slurm_array_parallelism=settings.workers)
        with executor.batch():
            submitted += [executor.submit(*((_distributed, *job) if processes > 1 else job)) for job in group]
    try:
        while not all(job.done() for job in submitted):
            progress()
            time.sleep(SLURM_POLL_SECONDS)
    except BaseException:
        stop_jobs([job for job in submitted if not job.done()])
        raise
    _wait(submitted)


def _run_in_waves(executor: Any, workers: int, calls: list[tuple[Any, ...]], gpus: int = 0,
                  progress: Callable[[], None] = _nothing) -> None:
    """Submit ``calls`` to a local submitit executor, at most ``workers`` running at once, calling
    ``progress`` every poll. With ``gpus`` CUDA devices, worker slot i runs its jobs on GPU i mod
    ``gpus`` alone (CUDA_VISIBLE_DEVICES)."""
    pending, running, finished = list(calls), [], []
    free_slots = list(range(workers))
    try:
        while pending or running:
            while pending and free_slots:
                slot = free_slots.pop(0)
                if gpus:
                    executor.update_parameters(gpus_per_node=1, visible_gpus=[slot % gpus])
                running.append((executor.submit(*pending.pop(0)), slot))
            time.sleep(POLL_SECONDS)
            progress()
            for job, slot in list(running):
                if job.done():
                    running.remove((job, slot))
                    finished.append(job)
                    free_slots.append(slot)
    except BaseException:  # an interruption (Ctrl-C, SIGTERM) or an error here: no worker goes on alone
        stop_jobs([job for job, _ in running])
        raise
    _wait(finished)


def stop_jobs(jobs: list[Any], grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Cancel submitit jobs, wait up to ``grace_seconds`` for them to end, then kill what is left of a
    local job (its controller and worker processes). A local job's controller interrupts its worker,
    then kills it a second later; where interrupts are ignored (a study started in the background with
    ``nohup`` or ``&``), the kill ends it. Each job's files are written atomically, so what a stopped
    worker leaves is continued by the same command."""
    for job in jobs:
        job.cancel(check=False)
    deadline = time.monotonic() + grace_seconds
    while any(not job.done() for job in jobs) and time.monotonic() < deadline:
        try:
            time.sleep(POLL_SECONDS / 5)
        except KeyboardInterrupt:  # a second Ctrl-C or SIGTERM while the workers stop: they are stopping already
            continue
    for job in jobs:
        controller = getattr(job, "_process", None)  # a local job's controller process (submitit keeps it there)
        if controller is not None and controller.poll() is None:
            for pid in [*_descendants(controller.pid), controller.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            controller.wait()


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid``, deepest first (Linux /proc; none elsewhere)."""
    try:
        children = [int(child) for task in os.listdir(f"/proc/{pid}/task")
                    for child in open(f"/proc/{pid}/task/{task}/children").read().split()]
    except OSError:
        return []
    return [grand for child in children for grand in _descendants(child)] + children


def _wait(jobs: list[Any]) -> None:
    """Wait for submitit jobs; raise naming the first that failed with the last line of its error (the
    job's own message: a diverged loss, a full disk naming the file); its log folder holds the traceback."""
    for job in jobs:
        try:
            job.result()
        except Exception as error:  # submitit re-raises the job's own error as text, its traceback included
            raise RuntimeError(f"{_own_error(str(error)) or type(error).__name__} (in job {job.job_id}; its traceback is in "
                               f"{job.paths.folder})") from error


# submitit's text of a failed job: a header, its traceback between two rules of dashes, then its log files.
_TRACE_RULE = re.compile(r"^-{10,}$", re.MULTILINE)


def _own_error(text: str) -> str:
    """The last line of the job's own traceback in submitit's text of a failed job (``OSError: ...``),
    or of the whole text when it holds no traceback between rules."""
    parts = _TRACE_RULE.split(text)
    lines = [line.strip() for line in (parts[1] if len(parts) >= 3 else text).splitlines() if line.strip()]
    return lines[-1] if lines else ""
