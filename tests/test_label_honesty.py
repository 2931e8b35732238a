"""A budget-k job reads no label outside its k per class: poisoning every other label changes nothing it chose or predicted."""

import numpy as np
import pytest
import torch

from proxytask.config import FinetuneConfig
from proxytask.data.folders import LabeledImages
from proxytask.data.splits import budget_split
from proxytask.transfer.baselines import eigenfaces_svm
from proxytask.transfer.finetune import finetune
from proxytask.transfer.inits import resolve_init
from proxytask.transfer.probe import knn, linear_probe


def separable_task(seed: int = 0, per_class: int = 40):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(3), per_class)
    features = rng.normal(size=(len(labels), 40)) + 5.0 * np.eye(3, 40)[labels]
    images = LabeledImages([f"{i}.jpg" for i in range(len(labels))], labels.tolist(), ["a", "b", "c"])
    return features, labels, images


def poisoned(labels: np.ndarray, keep: np.ndarray, seed: int = 7) -> np.ndarray:
    """Every label outside ``keep`` replaced by a random class (the test labels too)."""
    rng = np.random.default_rng(seed)
    result = rng.integers(0, labels.max() + 1, size=len(labels))
    result[keep] = labels[keep]
    return result


@pytest.mark.parametrize("method", [linear_probe, knn, eigenfaces_svm])
@pytest.mark.parametrize("k", [1, 5])
def test_frozen_modes_read_only_the_budgets_labels(method, k):
    features, labels, images = separable_task()
    split = budget_split(images, k, draw=0)
    honest = method(features, labels, split, images.class_names)
    blind = method(features, poisoned(labels, split.train), split, images.class_names)
    assert honest.chosen == blind.chosen
    assert honest.scores.predictions == blind.scores.predictions
    if k > 1:  # with one label per class nothing is cross-validated: the default settings are used
        assert "cross-validation" in honest.selection
        assert honest.scores.accuracy > 1 / 3 + 0.15  # learned something from the k labels alone
    assert honest.scores.accuracy != blind.scores.accuracy  # the poisoned test labels were read, for scoring only


def colored_task():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 12)
    shades = np.array([[230, 40, 40], [40, 230, 40], [40, 40, 230]])
    pixels = np.clip(shades[labels][:, None, None, :] + rng.normal(0, 20, (36, 24, 24, 3)), 0, 255).astype(np.uint8)
    return torch.from_numpy(pixels), labels, LabeledImages([f"{i}.jpg" for i in range(36)], labels.tolist(), ["a", "b", "c"])


def test_fine_tuning_reads_only_the_budgets_labels():
    pixels, labels, images = colored_task()
    split = budget_split(images, 3, draw=1)
    assert len(split.validation) == 0
    # eval_every=1: were any label outside the budget consulted to choose a step, it would be at every step
    config = FinetuneConfig(min_steps=6, max_steps=6, batch_size=6, warmup_steps=1, eval_every=1)
    init = resolve_init("random", "vgg_small", "rgb")
    device = torch.device("cpu")
    honest = finetune(init, pixels, labels, split, images.class_names, 20, config, device)
    blind = finetune(init, pixels, poisoned(labels, split.train), split, images.class_names, 20, config, device)
    assert honest.chosen == blind.chosen == {"step": 6} and "fixed recipe" in honest.selection
    assert honest.scores.predictions == blind.scores.predictions
    assert honest.training.seed == config.seed + 1  # the fine-tuning seed goes with the draw


def test_fine_tuning_with_all_labels_chooses_on_validation_and_never_reads_test_labels():
    pixels, labels, images = colored_task()
    split = budget_split(images, None, draw=0)
    assert len(split.validation) > 0
    config = FinetuneConfig(min_steps=6, max_steps=6, batch_size=6, warmup_steps=1, eval_every=1)
    init = resolve_init("random", "vgg_small", "rgb")
    device = torch.device("cpu")
    honest = finetune(init, pixels, labels, split, images.class_names, 20, config, device)
    blind = finetune(init, pixels, poisoned(labels, split.labeled), split, images.class_names, 20, config, device)
    assert "validation" in honest.selection and honest.chosen == blind.chosen
    assert honest.scores.predictions == blind.scores.predictions
