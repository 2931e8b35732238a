"""Splits of a labeled task (PROTOCOL.md): stratified train/test, label budgets, and honest selection.

- test: 25% of every class (stratified, seed 42), fixed for every method, never used for a choice;
- train: the rest. A budget of k draws k images per class from it (seeds 0, 1, 2, ...); those
  k labels are all a job may read: every choice is made inside them (cross-validation) or was
  fixed beforehand (the fine-tuning recipe). A class with fewer than k train images uses all it
  has, and the split records which classes did.
- with all labels, a validation part (15% of train, stratified, same seed) is split off for the
  choices that need held-out labels (the fine-tuning step kept).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from proxytask.data.folders import LabeledImages
from proxytask.data.lfw import DataError
from proxytask.files import TEXT_ENCODING, write_atomic

SPLIT_SEED = 42
TEST_FRACTION = 0.25
VALIDATION_FRACTION = 0.15
# Every class needs this many images: one in test, and with all labels one in validation and one to train on.
MIN_IMAGES_PER_CLASS = 3


@dataclass(frozen=True)
class Split:
    """Row indices into a LabeledImages for one budget and draw.

    ``train`` and ``validation`` (empty below all labels) are the rows whose labels a job may read;
    ``test`` labels are read only to score the final predictions.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    k: int | None
    draw: int
    short_classes: list[str] = field(default_factory=list)

    @property
    def labeled(self) -> np.ndarray:
        """Every row whose label the job may read (train and validation), sorted."""
        return np.sort(np.concatenate([self.train, self.validation]))

    def labels_per_class(self, labels: np.ndarray, class_names: list[str]) -> dict[str, int]:
        """How many labels of each class the job may read."""
        counts = np.bincount(labels[self.labeled], minlength=len(class_names))
        return {name: int(count) for name, count in zip(class_names, counts)}


def _stratified(indices: np.ndarray, labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into (rest, part) with ``fraction`` of every class in part."""
    rest, part = train_test_split(indices, test_size=fraction, stratify=labels[indices], random_state=seed)
    return np.sort(rest), np.sort(part)


def base_split(images: LabeledImages) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) row indices, identical for every method and run.

    Raises:
        DataError: a class has too few images for the split; the message names it.
    """
    labels = np.asarray(images.labels)
    for name, count in images.class_counts().items():
        if count < MIN_IMAGES_PER_CLASS:
            raise DataError(f"class {name!r} has {count} image(s); the train/test split (and a validation part with all labels) needs at least "
                            f"{MIN_IMAGES_PER_CLASS} per class")
    return _stratified(np.arange(len(labels)), labels, TEST_FRACTION, SPLIT_SEED)


def budget_split(images: LabeledImages, k: int | None, draw: int) -> Split:
    """The split for budget ``k`` images per class (None: all) and draw ``draw`` (its seed)."""
    train, test = base_split(images)
    labels = np.asarray(images.labels)
    if k is None:
        fit, validation = _stratified(train, labels, VALIDATION_FRACTION, SPLIT_SEED)
        return Split(fit, validation, test, None, draw)
    if k < 1:
        raise DataError(f"label budget must be >= 1 image per class, got {k}")
    rng = np.random.default_rng(draw)
    chosen, short = [], []
    for label, name in enumerate(images.class_names):
        members = train[labels[train] == label]
        if len(members) < k:
            short.append(name)
        chosen.append(rng.choice(members, size=min(k, len(members)), replace=False))
    return Split(np.sort(np.concatenate(chosen)), np.array([], dtype=np.int64), test, k, draw, short)


def write_manifest(images: LabeledImages, split: Split, path: Path) -> None:
    """CSV of every image: path, label, class, and its part (train, validation, test, or unused)."""
    parts = np.full(len(images.paths), "unused", dtype=object)
    parts[split.train], parts[split.validation], parts[split.test] = "train", "validation", "test"

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="", **TEXT_ENCODING) as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "label", "class", "split"])
            for image_path, label, part in zip(images.paths, images.labels, parts):
                writer.writerow([str(image_path), label, images.class_names[label], part])

    write_atomic(path, write)
