import numpy as np

from proxytask.data.folders import LabeledImages
from proxytask.data.splits import budget_split
from proxytask.transfer.baselines import eigenfaces_svm
from proxytask.transfer.probe import knn, linear_probe


def separable_task(seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), 40)
    features = rng.normal(size=(120, 16)) + 3.0 * np.eye(3, 16)[labels]
    images = LabeledImages([f"{i}.jpg" for i in range(120)], labels.tolist(), ["a", "b", "c"])
    return features, labels, images


def test_probe_and_knn_learn_a_separable_task():
    features, labels, images = separable_task()
    split = budget_split(images, None, 0)
    assert linear_probe(features, labels, split, images.class_names).scores.accuracy > 0.8  # chance is 1/3
    assert knn(features, labels, split, images.class_names).scores.accuracy > 0.8  # chance is 1/3


def test_methods_never_read_test_labels():
    features, labels, images = separable_task(1)
    split = budget_split(images, 10, 0)
    scrambled = labels.copy()
    scrambled[split.test] = np.random.default_rng(5).permutation(scrambled[split.test])
    for method in (linear_probe, knn, eigenfaces_svm):
        honest = method(features, labels, split, images.class_names)
        blind = method(features, scrambled, split, images.class_names)
        assert honest.chosen == blind.chosen
        # same predictions: the confusion matrices have the same column sums (predicted counts)
        assert np.array_equal(np.sum(honest.scores.confusion, axis=0), np.sum(blind.scores.confusion, axis=0))
        assert honest.scores.accuracy != blind.scores.accuracy
