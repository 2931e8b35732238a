"""Training logs: a CSV file and TensorBoard events of a run (written by rank 0 only)."""

from __future__ import annotations

import csv
from pathlib import Path

from torch.utils.tensorboard import SummaryWriter

LOG_COLUMNS = ("step", "epoch", "loss", "lr", "images_per_second")


class RunLog:
    """Append rows to the CSV file ``path`` (kept across resumes) and scalars to TensorBoard in the
    folder ``tensorboard``; ``terms``: the task's named loss terms, a column each after ``loss``."""

    def __init__(self, path: Path, tensorboard: Path, resume_step: int = 0, terms: tuple[str, ...] = ()) -> None:
        self.path = path
        self.terms = terms
        columns = (*LOG_COLUMNS[:3], *(f"loss_{term}" for term in terms), *LOG_COLUMNS[3:])
        rows = []
        if self.path.is_file() and resume_step > 0:
            with open(self.path, newline="") as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        self.tensorboard = SummaryWriter(log_dir=str(tensorboard), purge_step=resume_step or None)

    def write(self, step: int, epoch: float, loss: float, lr: float, images_per_second: float,
              terms: dict[str, float] | None = None) -> None:
        terms = terms or {}
        values = [f"{terms[term]:.6f}" for term in self.terms]
        with open(self.path, "a", newline="") as handle:
            csv.writer(handle).writerow([step, f"{epoch:.4f}", f"{loss:.6f}", *values, f"{lr:.6g}", f"{images_per_second:.2f}"])
        self.tensorboard.add_scalar("train/loss", loss, step)
        for term in self.terms:
            self.tensorboard.add_scalar(f"train/loss_{term}", terms[term], step)
        self.tensorboard.add_scalar("train/lr", lr, step)
        self.tensorboard.add_scalar("train/images_per_second", images_per_second, step)

    def close(self) -> None:
        self.tensorboard.close()


class MonitorLog:
    """The transfer monitor's rows in the CSV file ``path`` (kept across resumes up to ``resume_step``)
    and under ``monitor/`` in the run's TensorBoard ``writer``."""

    def __init__(self, path: Path, writer: SummaryWriter, resume_step: int = 0) -> None:
        self.path, self.writer = path, writer
        self.rows: list[dict[str, str]] = []
        if path.is_file() and resume_step > 0:
            with open(path, newline="") as handle:
                self.rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]
        self._rewrite()

    def _rewrite(self) -> None:
        columns = list(self.rows[0]) if self.rows else ["step", "images_seen"]
        with open(self.path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.rows)

    def write(self, step: int, images_seen: int, scores: dict[str, float]) -> None:
        self.rows.append({"step": str(step), "images_seen": str(images_seen), **{k: f"{v:.6f}" for k, v in scores.items()}})
        self._rewrite()
        for name, value in scores.items():
            self.writer.add_scalar(f"monitor/{name.removeprefix('monitor_')}", value, step)


def read_log(path: Path) -> list[dict[str, float]]:
    """Rows of a run's CSV log as numbers."""
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
