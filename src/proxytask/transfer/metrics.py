"""Classification metrics (scikit-learn), a transfer job's typed result, and honest model selection:
cross-validation inside the labels a job may read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedKFold

CV_FOLDS = 5
CV_SEED = 0


@dataclass(frozen=True)
class TestScores:
    """Scores on the test images: accuracy, macro-F1, the per-class report, the confusion matrix
    (rows: true class), the predictions themselves and how many classes they use (1: a collapsed model)."""

    accuracy: float
    macro_f1: float
    per_class: dict[str, Any]
    confusion: list[list[int]]
    predicted_classes: int
    predictions: list[int]


@dataclass(frozen=True)
class TrainingTrace:
    """How a fine-tuning job trained: its steps, its seed, and its mean loss over the first and the last steps."""

    steps: int
    seed: int
    loss_first: float
    loss_last: float


@dataclass(frozen=True)
class ModeResult:
    """What one transfer job found: its test scores, the settings it chose and how, (fine-tuning) how it
    trained, the digest of the state it fitted (:func:`proxytask.transfer.fitted.fitted_digest`) and its
    predictions on the labelled images it read (the split's ``labeled`` rows)."""

    scores: TestScores
    chosen: dict[str, Any]
    selection: str
    training: TrainingTrace | None = None
    fitted: str = ""
    train_predictions: list[int] = field(default_factory=list)

    @property
    def collapsed(self) -> bool:
        """Every test prediction in one class, or a training loss that never fell."""
        never_fell = self.training is not None and not self.training.loss_last < self.training.loss_first
        return self.scores.predicted_classes <= 1 or never_fell

    def as_dict(self) -> dict[str, Any]:
        """The fields a job record holds (results.json's ``jobs``)."""
        return {**asdict(self.scores), "chosen": self.chosen, "selection": self.selection,
                **(asdict(self.training) if self.training is not None else {}), "fitted_sha256": self.fitted,
                "train_predictions": self.train_predictions}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> TestScores:
    """The test scores of predictions ``y_pred`` against ``y_true``."""
    labels = list(range(len(class_names)))
    return TestScores(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        per_class=classification_report(y_true, y_pred, labels=labels, target_names=class_names, output_dict=True, zero_division=0),
        confusion=confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        predicted_classes=int(len(np.unique(y_pred))),
        predictions=[int(p) for p in y_pred],
    )


def selection_score(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """What model selection maximizes on held-out labels: macro-F1 (classes are imbalanced), then accuracy."""
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0)), float(accuracy_score(y_true, y_pred))


def cv_folds(y: np.ndarray) -> int:
    """Folds of stratified cross-validation the labels ``y`` allow: at most 5, at most the smallest class count."""
    return min(CV_FOLDS, int(np.unique(y, return_counts=True)[1].min()))


def smallest_fold_train(y: np.ndarray) -> int:
    """The fewest training examples any fold of :func:`cv_folds` leaves (the whole set without CV)."""
    folds = cv_folds(y)
    return len(y) - -(-len(y) // folds) if folds >= 2 else len(y)


def choose_by_cross_validation(estimator: BaseEstimator, candidates: dict[str, Any], x: np.ndarray, y: np.ndarray,
                               default: dict[str, Any], random_draws: int | None = None) -> tuple[Any, dict[str, Any], str]:
    """Choose ``estimator``'s settings by stratified k-fold cross-validation (macro-F1) on (x, y) alone,
    then refit the best on all of (x, y).

    Args:
        candidates: a grid (lists) or, with ``random_draws``, distributions to draw that many settings from.
        default: the settings used when a class has fewer than 2 labels (nothing to cross-validate).
    Returns:
        (fitted estimator, chosen settings, how they were chosen).
    """
    folds = cv_folds(y)
    if folds < 2:
        model = clone(estimator).set_params(**default).fit(x, y)
        return model, dict(default), "fixed default (a class has fewer than 2 labels: nothing to cross-validate)"
    cv = StratifiedKFold(folds, shuffle=True, random_state=CV_SEED)
    if random_draws is None:
        search = GridSearchCV(estimator, candidates, scoring="f1_macro", cv=cv, n_jobs=1)
    else:
        search = RandomizedSearchCV(estimator, candidates, n_iter=random_draws, scoring="f1_macro", cv=cv, n_jobs=1,
                                    random_state=CV_SEED)
    search.fit(x, y)
    return search.best_estimator_, dict(search.best_params_), f"{folds}-fold stratified cross-validation (macro-F1) inside the {len(y)} labels"


def trivial_scores(test_counts: dict[str, int]) -> dict[str, tuple[float, float]]:
    """(accuracy, macro-F1) on a test split with ``test_counts`` images per class of the two predictors
    that read no picture: always the most frequent class, and a uniform guess (expected scores)."""
    counts = np.array(list(test_counts.values()), dtype=float)
    shares, classes = counts / counts.sum(), len(counts)
    majority = float(shares.max())
    guess_f1 = 2 * shares / classes / (shares + 1 / classes)  # per class: precision = its share, recall = 1 / classes
    return {"always the largest class": (majority, 2 * majority / (1 + majority) / classes),
            "uniform guess": (1 / classes, float(guess_f1.mean()))}
