"""Linear probe and k-NN on frozen features; every choice made inside the labels the job may read."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize

from proxytask.data.splits import Split
from proxytask.transfer.fitted import fitted_digest
from proxytask.transfer.metrics import ModeResult, choose_by_cross_validation, classification_metrics, smallest_fold_train

PROBE_C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
PROBE_C_DEFAULT = 1.0
KNN_NEIGHBOURS = (1, 3, 5, 10, 20)


def linear_probe(features: np.ndarray, labels: np.ndarray, split: Split, class_names: list[str]) -> ModeResult:
    """Logistic regression on standardized features (N, D); C chosen by cross-validation inside the labels.

    Test labels are read only to score the final predictions.
    """
    rows = split.labeled
    estimator = make_pipeline(StandardScaler(), LogisticRegression(C=PROBE_C_DEFAULT, max_iter=5000))
    model, chosen, how = choose_by_cross_validation(estimator, {"logisticregression__C": list(PROBE_C_GRID)},
                                                    features[rows], labels[rows], {"logisticregression__C": PROBE_C_DEFAULT})
    scores = classification_metrics(labels[split.test], model.predict(features[split.test]), class_names)
    return ModeResult(scores, {"C": chosen["logisticregression__C"]}, how, fitted=fitted_digest(model),
                      train_predictions=model.predict(features[rows]).tolist())


def knn(features: np.ndarray, labels: np.ndarray, split: Split, class_names: list[str]) -> ModeResult:
    """k-nearest neighbours by cosine similarity (L2-normalized features); k chosen by cross-validation inside the labels."""
    x = normalize(features)
    rows = split.labeled
    options = [n for n in KNN_NEIGHBOURS if n <= smallest_fold_train(labels[rows])] or [1]
    model, chosen, how = choose_by_cross_validation(KNeighborsClassifier(), {"n_neighbors": options}, x[rows], labels[rows],
                                                    {"n_neighbors": 1})
    scores = classification_metrics(labels[split.test], model.predict(x[split.test]), class_names)
    return ModeResult(scores, chosen, how, fitted=fitted_digest(model), train_predictions=model.predict(x[rows]).tolist())
