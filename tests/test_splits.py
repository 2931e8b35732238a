import csv

import numpy as np
import pytest

from proxytask.data.folders import LabeledImages
from proxytask.data.lfw import DataError
from proxytask.data.splits import base_split, budget_split, write_manifest


def task(counts: list[int]) -> LabeledImages:
    labels = [label for label, count in enumerate(counts) for _ in range(count)]
    return LabeledImages([f"img{i}.jpg" for i in range(len(labels))], labels, [f"class{c}" for c in range(len(counts))])


def test_split_is_stratified_disjoint_and_identical_across_calls():
    images = task([530, 236, 144, 121, 109, 77, 71])
    fit, validation, test = base_split(images)
    assert len(fit) + len(validation) + len(test) == 1288
    assert not (set(fit) & set(test) or set(fit) & set(validation) or set(validation) & set(test))
    assert len(test) == 322  # 25%, as the scikit-learn eigenfaces example
    labels = np.asarray(images.labels)
    for label, count in enumerate([530, 236, 144, 121, 109, 77, 71]):
        assert abs((labels[test] == label).sum() - 0.25 * count) <= 1
    again = base_split(images)
    assert all(np.array_equal(a, b) for a, b in zip((fit, validation, test), again))
    for k in (5, None):
        split = budget_split(images, k, draw=1)
        assert np.array_equal(split.test, test) and np.array_equal(split.validation, validation)


@pytest.mark.parametrize("k", [5, 10, 25])
def test_budgets_draw_exactly_k_per_class_from_fit_and_draws_differ(k):
    images = task([530, 236, 144, 121, 109, 77, 71])
    fit, _, _ = base_split(images)
    draws = [budget_split(images, k, draw) for draw in range(3)]
    labels = np.asarray(images.labels)
    for split in draws:
        assert np.bincount(labels[split.train], minlength=7).tolist() == [k] * 7
        assert set(split.train) <= set(fit) and not split.short_classes
    assert not np.array_equal(draws[0].train, draws[1].train)
    assert np.array_equal(budget_split(images, k, 0).train, draws[0].train)


def test_class_with_fewer_than_k_uses_all_and_is_reported():
    images = task([40, 6])
    split = budget_split(images, 10, 0)
    labels = np.asarray(images.labels)
    assert (labels[split.train] == 0).sum() == 10
    assert (labels[split.train] == 1).sum() == (labels[base_split(images)[0]] == 1).sum() < 10
    assert split.short_classes == ["class1"]


def test_class_with_too_few_images_is_named():
    with pytest.raises(DataError, match="class 'class1' has 1 image"):
        base_split(task([10, 1]))


def test_manifest_lists_every_image_with_its_part(tmp_path):
    images = task([20, 12])
    split = budget_split(images, 2, 0)
    write_manifest(images, split, tmp_path / "manifest.csv")
    rows = list(csv.DictReader(open(tmp_path / "manifest.csv")))
    assert len(rows) == 32
    parts = [r["split"] for r in rows]
    assert parts.count("train") == 4 and parts.count("test") == len(split.test)
    assert {r["class"] for r in rows} == {"class0", "class1"}
