"""Classification metrics (scikit-learn) and model selection on the validation part."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score

Candidate = TypeVar("Candidate")


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, the per-class report and the confusion matrix (rows: true class)."""
    labels = list(range(len(class_names)))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": classification_report(y_true, y_pred, labels=labels, target_names=class_names,
                                           output_dict=True, zero_division=0),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


def selection_score(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """What model selection maximizes on validation: macro-F1 (classes are imbalanced), then accuracy."""
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0)), float(accuracy_score(y_true, y_pred))


def choose_on_validation(candidates: Iterable[Candidate], fit: Callable[[Candidate], Any],
                         predict_validation: Callable[[Any], np.ndarray], y_validation: np.ndarray) -> tuple[Candidate, Any, tuple[float, float]]:
    """Fit every candidate on the training part and keep the best on validation.

    Returns:
        (best candidate, its fitted model, its validation score).
    """
    best = None
    for candidate in candidates:
        model = fit(candidate)
        score = selection_score(y_validation, predict_validation(model))
        if best is None or score > best[2]:
            best = (candidate, model, score)
    if best is None:
        raise ValueError("no candidate to choose from")
    return best
