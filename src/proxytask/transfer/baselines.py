"""Eigenfaces + RBF SVM, the scikit-learn face-recognition example pipeline, on the project's splits.

As in that example: the face region rows 70..194, columns 78..171 of the 250x250 image, gray
(mean of RGB), resized to 50x37; StandardScaler, PCA with 150 whitened components, SVC(rbf,
class_weight="balanced"), C and gamma drawn log-uniformly from [1e3, 1e5] and [1e-4, 1e-1] and
scored by cross-validation, as the example does, inside the labels of the budget.
"""

from __future__ import annotations

import tempfile

import numpy as np
from joblib import Memory
from scipy.stats import loguniform
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from proxytask.data.cache import ImageCache, load_cache
from proxytask.data.downstream import DownstreamData
from proxytask.data.images import Crop, describe_skips
from proxytask.data.lfw import DataError
from proxytask.data.splits import Split
from proxytask.transfer.fitted import fitted_digest
from proxytask.transfer.metrics import ModeResult, choose_by_cross_validation, classification_metrics, smallest_fold_train

EIGENFACES = "eigenfaces"
EIGENFACES_CROP = (78, 70, 172, 195)  # left, top, right, bottom: the example's slice_ (70:195, 78:172)
EIGENFACES_SIZE = (50, 37)  # height, width: the example's resize=0.4
EIGENFACES_COMPONENTS = 150
SEARCH_DRAWS = 10
# Used when a class has a single label (nothing to cross-validate): the centres of the search ranges (log scale).
SVM_DEFAULT = {"svc__C": 1e4, "svc__gamma": 10 ** -2.5}


def eigenfaces_crop(data: DownstreamData) -> tuple[Crop, tuple[int, int]]:
    """The baseline's crop and (height, width): scikit-learn's example crop of LFW-aligned pictures,
    else the centered square at 50x50."""
    return (EIGENFACES_CROP, EIGENFACES_SIZE) if isinstance(data.crop, tuple) else (data.crop, (EIGENFACES_SIZE[0],) * 2)


def eigenfaces_input() -> str:
    """What the baseline reads, in a job record's words."""
    return f"gray {EIGENFACES_SIZE[0]}x{EIGENFACES_SIZE[1]} (scikit-learn example crop)"


def eigenfaces_cache(data: DownstreamData) -> ImageCache:
    """The downstream images cached for eigenfaces; every image must read there as it did for the others."""
    crop, size = eigenfaces_crop(data)
    cache = load_cache(data.images.paths, crop, size)
    if not cache.usable.all():
        raise DataError(f"the eigenfaces baseline cannot read {len(cache.skipped)} downstream image(s) with its crop {crop} "
                        f"({describe_skips(cache.skipped)}; first: {cache.skipped[0][0]}); leave it out with --set baselines=random,supervised")
    return cache


def eigenfaces_features(pixels: np.ndarray) -> np.ndarray:
    """(N, 50, 37, 3) uint8 -> (N, 1850) gray values in [0, 1]."""
    return (pixels.astype(np.float32).mean(axis=3) / 255.0).reshape(len(pixels), -1)


def eigenfaces_svm(x: np.ndarray, labels: np.ndarray, split: Split, class_names: list[str]) -> ModeResult:
    """Fit the eigenfaces pipeline on the budget's labels; C and gamma chosen by cross-validation inside them.

    PCA keeps at most 150 components, fewer when a cross-validation fold has fewer training images.
    """
    rows = split.labeled
    components = max(1, min(EIGENFACES_COMPONENTS, smallest_fold_train(labels[rows]) - 1, x.shape[1]))
    space = {"svc__C": loguniform(1e3, 1e5), "svc__gamma": loguniform(1e-4, 1e-1)}
    with tempfile.TemporaryDirectory(prefix="eigenfaces-") as cache:
        # The scaler and PCA of a fold do not depend on C and gamma: fitted once per fold, not once per draw.
        pipeline = make_pipeline(StandardScaler(), PCA(n_components=components, whiten=True, random_state=0),
                                 SVC(kernel="rbf", class_weight="balanced"), memory=Memory(cache, verbose=0))
        model, chosen, how = choose_by_cross_validation(pipeline, space, x[rows], labels[rows], SVM_DEFAULT,
                                                        random_draws=SEARCH_DRAWS)
        predictions, on_labeled = model.predict(x[split.test]), model.predict(x[rows])
        fitted = fitted_digest(model)
    scores = classification_metrics(labels[split.test], predictions, class_names)
    return ModeResult(scores, {"C": float(chosen["svc__C"]), "gamma": float(chosen["svc__gamma"]), "pca_components": components}, how,
                      fitted=fitted, train_predictions=on_labeled.tolist())
