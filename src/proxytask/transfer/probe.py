"""Linear probe and k-NN on frozen features; each choice made on the validation part alone."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler, normalize

from proxytask.data.splits import Split
from proxytask.transfer.metrics import choose_on_validation, classification_metrics

PROBE_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
KNN_NEIGHBOURS = (1, 3, 5, 10, 20)


def linear_probe(features: np.ndarray, labels: np.ndarray, split: Split, class_names: list[str]) -> dict[str, Any]:
    """Logistic regression on standardized features (N, D); C chosen by validation macro-F1.

    Test labels are read only to score the final predictions.
    """
    scaler = StandardScaler().fit(features[split.train])
    x = scaler.transform(features)
    y_train, y_validation = labels[split.train], labels[split.validation]

    def fit(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, max_iter=5000).fit(x[split.train], y_train)

    c, model, score = choose_on_validation(PROBE_C_GRID, fit, lambda m: m.predict(x[split.validation]), y_validation)
    result = classification_metrics(labels[split.test], model.predict(x[split.test]), class_names)
    return {**result, "chosen": {"C": c}, "validation_macro_f1": score[0]}


def knn(features: np.ndarray, labels: np.ndarray, split: Split, class_names: list[str]) -> dict[str, Any]:
    """k-nearest neighbours by cosine similarity (L2-normalized features); k chosen on validation."""
    x = normalize(features)
    y_train, y_validation = labels[split.train], labels[split.validation]
    options = [n for n in KNN_NEIGHBOURS if n <= len(split.train)]

    def fit(n: int) -> KNeighborsClassifier:
        return KNeighborsClassifier(n_neighbors=n).fit(x[split.train], y_train)

    n, model, score = choose_on_validation(options, fit, lambda m: m.predict(x[split.validation]), y_validation)
    result = classification_metrics(labels[split.test], model.predict(x[split.test]), class_names)
    return {**result, "chosen": {"n_neighbors": n}, "validation_macro_f1": score[0]}
