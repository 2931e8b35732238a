"""Eigenfaces + RBF SVM, the scikit-learn face-recognition example pipeline, on the project's splits.

As in that example: the face region rows 70..194, columns 78..171 of the 250x250 image, gray
(mean of RGB), resized to 50x37; StandardScaler, PCA with 150 whitened components, SVC(rbf,
class_weight="balanced"), C and gamma drawn log-uniformly from [1e3, 1e5] and [1e-4, 1e-1]. Here the
draws are scored on the validation part (not by cross-validation on train), as every other method.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import loguniform
from sklearn.decomposition import PCA
from sklearn.model_selection import ParameterSampler
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from proxytask.data.splits import Split
from proxytask.transfer.metrics import choose_on_validation, classification_metrics

EIGENFACES = "eigenfaces"
EIGENFACES_CROP = (78, 70, 172, 195)  # left, top, right, bottom: the example's slice_ (70:195, 78:172)
EIGENFACES_SIZE = (50, 37)  # height, width: the example's resize=0.4
EIGENFACES_COMPONENTS = 150
SEARCH_DRAWS = 10


def eigenfaces_features(pixels: np.ndarray) -> np.ndarray:
    """(N, 50, 37, 3) uint8 -> (N, 1850) gray values in [0, 1]."""
    return (pixels.astype(np.float32).mean(axis=3) / 255.0).reshape(len(pixels), -1)


def eigenfaces_svm(x: np.ndarray, labels: np.ndarray, split: Split, class_names: list[str], seed: int = 0) -> dict[str, Any]:
    """Fit the eigenfaces pipeline on the budget's train images; C and gamma chosen on validation.

    PCA keeps at most 150 components, fewer when the budget has fewer training images.
    """
    components = min(EIGENFACES_COMPONENTS, len(split.train) - 1, x.shape[1])
    space = {"C": loguniform(1e3, 1e5), "gamma": loguniform(1e-4, 1e-1)}

    def fit(params: dict[str, float]):
        pipeline = make_pipeline(StandardScaler(), PCA(n_components=components, whiten=True, random_state=seed),
                                 SVC(kernel="rbf", class_weight="balanced", **params))
        return pipeline.fit(x[split.train], labels[split.train])

    draws = list(ParameterSampler(space, n_iter=SEARCH_DRAWS, random_state=seed))
    params, model, score = choose_on_validation(draws, fit, lambda m: m.predict(x[split.validation]), labels[split.validation])
    result = classification_metrics(labels[split.test], model.predict(x[split.test]), class_names)
    return {**result, "chosen": {**{k: float(v) for k, v in params.items()}, "pca_components": components},
            "validation_macro_f1": score[0]}
