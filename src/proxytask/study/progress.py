"""The study's live progress line, whichever executor runs its jobs: pretraining runs and transfer jobs
done out of the plan's, the current stage, the time elapsed and an ETA from the jobs' measured times.

It reads only the study folder (each job writes its own result file, each pretraining run its log), so
it counts work done by local workers or Slurm as well as in this process. On a terminal the line is
redrawn in place; elsewhere (a log file) it is printed once a minute and at each change of stage.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Mapping
from statistics import fmean
from typing import TextIO

from tqdm import tqdm

from proxytask.runlog import read_log
from proxytask.study.folder import StudyFolder
from proxytask.study.plan import PlannedRun, StudyPlan, TransferJob
from proxytask.transfer.modes import MODES

REFRESH_SECONDS = 1.0
LOG_EVERY_SECONDS = 60.0


def clock(seconds: float) -> str:
    """``1:02:03`` or ``4:05``."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _job_kind(job: TransferJob) -> tuple[str, object]:
    """Jobs of one kind take about as long: fine-tuning per budget (its steps), a frozen mode per mode."""
    return (job.mode, job.k) if MODES[job.mode].trains_network else (job.mode, None)


class StudyProgress:
    """Counts what the plan's runs and jobs have done in ``folder`` and estimates what is left; as a
    context manager it also redraws the line from a background thread.

    ``steps``: each run's steps (or one number for all); ``workers``: how many jobs run at once (the ETA
    divides the work left by it); ``stream``: where the line goes (stderr by default); ``now``: the
    clock (tests pass their own)."""

    def __init__(self, plan: StudyPlan, folder: StudyFolder, steps: int | Mapping[PlannedRun, int], workers: int,
                 stream: TextIO | None = None, now: Callable[[], float] = time.monotonic) -> None:
        self.plan, self.folder, self.workers = plan, folder, max(1, workers)
        self.steps = steps if isinstance(steps, Mapping) else {run: steps for run in plan.runs}
        self.stream = stream or sys.stderr
        self.now = now
        self.started = now()
        self.stage = ""
        self.job_seconds: dict[TransferJob, float] = {}
        self.run_seconds: dict[PlannedRun, float] = {}
        self._poll()
        self.done_before = set(self.job_seconds) | set(self.run_seconds)  # work of an earlier start: not timed by this one
        self.last_finished = self.started  # when this start last saw a run or job finish
        self.last_shown = -float("inf")
        self.bar = tqdm(bar_format="{desc}", file=self.stream, dynamic_ncols=True) if self.stream.isatty() else None
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)

    def __enter__(self) -> StudyProgress:
        """Redraw the line in the background too (a job in this process may run for an hour)."""
        self.ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        self.ticker.join()
        if self.bar is not None:
            self.bar.close()

    def _tick(self) -> None:
        while not self.stopped.wait(REFRESH_SECONDS):
            self.update()

    def _poll(self) -> None:
        before = len(self.job_seconds) + len(self.run_seconds)
        for job in self.plan.transfer:
            if job not in self.job_seconds and (path := self.folder.job(job)).is_file():
                self.job_seconds[job] = float(json.loads(path.read_text()).get("seconds", 0.0))
        for run in self.plan.runs:
            if run not in self.run_seconds and (folder := self.folder.run(run)).finished:
                self.run_seconds[run] = float(json.loads(folder.metrics.read_text()).get("train_seconds", 0.0))
        if len(self.job_seconds) + len(self.run_seconds) > before:
            self.last_finished = self.now()

    def _run_done(self, run: PlannedRun) -> float:
        """The share of ``run``'s steps done (from its log while it trains)."""
        if run in self.run_seconds:
            return 1.0
        log = self.folder.run(run).log
        if not log.is_file():
            return 0.0
        rows = read_log(log)
        return min(1.0, rows[-1]["step"] / self.steps[run]) if rows and self.steps[run] else 0.0

    def _rates(self) -> tuple[dict[str, float], dict[tuple[str, object], float], dict[str, float]]:
        """Measured seconds per pretraining step by task, and per transfer job by kind and by mode."""
        per_step: dict[str, list[float]] = {}
        for run, seconds in self.run_seconds.items():
            per_step.setdefault(run.variant.task, []).append(seconds / max(1, self.steps[run]))
        by_kind: dict[tuple[str, object], list[float]] = {}
        by_mode: dict[str, list[float]] = {}
        for job, seconds in self.job_seconds.items():
            by_kind.setdefault(_job_kind(job), []).append(seconds)
            by_mode.setdefault(job.mode, []).append(seconds)
        return ({task: fmean(v) for task, v in per_step.items()}, {kind: fmean(v) for kind, v in by_kind.items()},
                {mode: fmean(v) for mode, v in by_mode.items()})

    def seconds_left(self) -> float | None:
        """Estimated wall seconds until every run and job is done: the measured time of the finished ones
        (a run's seconds per step by task, else any task's; a job's by kind, else by mode) for each one left,
        over the workers, scaled by how this start's wall time up to the last finish compared with the measured
        time of the work done by then (the workers' start-up and loading). None until something of each kind
        left has been measured."""
        per_step, by_kind, by_mode = self._rates()
        any_step = fmean(per_step.values()) if per_step else None
        left = done_now = 0.0
        for run in self.plan.runs:
            share, rate = self._run_done(run), per_step.get(run.variant.task, any_step)
            if share < 1.0 and rate is None:
                return None
            left += (1.0 - share) * self.steps[run] * (rate or 0.0)
            done_now += 0.0 if run in self.done_before else share * self.steps[run] * (rate or 0.0)
        for job in self.plan.transfer:
            if job in self.job_seconds:
                done_now += 0.0 if job in self.done_before else self.job_seconds[job]
                continue
            estimate = by_kind.get(_job_kind(job), by_mode.get(job.mode))
            if estimate is None:
                return None
            left += estimate
        elapsed = self.last_finished - self.started
        overhead = elapsed / (done_now / self.workers) if done_now > 0 else 1.0
        return left / self.workers * max(1.0, overhead)

    def line(self) -> str:
        """``study: 3/24 pretraining runs, 812/2,620 transfer jobs | pretraining | elapsed 1:02:03 | ETA 3:10:00``."""
        self._poll()
        runs = len(self.plan.runs)
        parts = [f"{len(self.run_seconds)}/{runs} pretraining runs"] if runs else []
        parts.append(f"{len(self.job_seconds):,}/{len(self.plan.transfer):,} transfer jobs")
        left = self.seconds_left()
        eta = f"ETA {clock(left)}" if left is not None else "ETA after the first job of each kind"
        return f"study: {', '.join(parts)} | {self.stage} | elapsed {clock(self.now() - self.started)} | {eta}"

    def update(self, stage: str | None = None) -> None:
        """Redraw the line (at most once a second on a terminal, once a minute in a log, and at a new stage)."""
        with self.lock:
            changed = stage is not None and stage != self.stage
            self.stage = stage if stage is not None else self.stage
            wait = REFRESH_SECONDS if self.bar is not None else LOG_EVERY_SECONDS
            if not changed and self.now() - self.last_shown < wait:
                return
            self.last_shown = self.now()
            text = self.line()
            if self.bar is not None:
                self.bar.set_description_str(text, refresh=True)
            else:
                print(text, file=self.stream, flush=True)
