"""A study folder, named in one place::

    config.yaml                                  the resolved StudyConfig
    pretrain/<init>/seed<s>/                     a pretraining run (a RunFolder) of each trained init and seed
    splits/k<k>-d<draw>.csv                      the split manifests (path, label, class, split)
    jobs/<mode>/<init>/seed<s>/k<k>-d<draw>.json one result per transfer job, written atomically
    jobs/feature-change/<init>/seed<s>/k<k>-d<draw>.json   per-stage weight change and CKA
    executor/                                    the executors' job logs
    results.json, report.md, report.html, report.pdf, *.png   the results and the report (its figures)
    photos/<run>/                                the user's photos colorized by a colorization run (--gallery)

A job whose result file exists is not run again, and a pretraining run with a checkpoint is
resumed, so an interrupted study restarted with the same command finishes the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxytask.budgets import Budget, budget_name
from proxytask.runs import RunFolder
from proxytask.study.plan import FeatureChangeJob, PlannedRun, TransferJob
from proxytask.study.settings import FEATURE_CHANGE


@dataclass(frozen=True)
class StudyFolder:
    """Every path of a study folder."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def pretraining(self) -> Path:
        return self.root / "pretrain"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def splits(self) -> Path:
        return self.root / "splits"

    @property
    def executor(self) -> Path:
        return self.root / "executor"

    @property
    def files(self) -> Path:
        """The fingerprint of the downstream pictures and the pool the study was built from."""
        return self.root / "files.json"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    def run(self, run: PlannedRun) -> RunFolder:
        return self.run_of(run.name, run.seed)

    def run_of(self, init: str, seed: int) -> RunFolder:
        """The run folder of trained init ``init`` at pretraining seed ``seed``."""
        return RunFolder(self.pretraining / init / f"seed{seed}")

    def job(self, job: TransferJob) -> Path:
        return self.jobs / job.mode / job.init / f"seed{job.seed}" / _job_file(job.k, job.draw)

    def feature_change(self, job: FeatureChangeJob) -> Path:
        return self.jobs / FEATURE_CHANGE / job.init / f"seed{job.seed}" / _job_file(job.k, job.draw)

    def split(self, k: Budget, draw: int) -> Path:
        return self.splits / _job_file(k, draw).replace(".json", ".csv")

    def holds_work(self) -> bool:
        """True when the folder holds a finished job or a started pretraining run (work a restart must
        keep: a pretraining run writes its settings only once it is known to start), in this layout or
        an earlier one's (runs in ``pretrain/<init>/``, jobs in ``jobs/<mode>/<init>/``)."""
        return any(self.jobs.rglob("*.json")) or any(self.pretraining.glob("*/config.yaml")) or \
            any(self.pretraining.glob("*/seed*/config.yaml"))


def _job_file(k: Budget, draw: int) -> str:
    return f"k{budget_name(k)}-d{draw}.json"
