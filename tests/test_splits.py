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
    train, test = base_split(images)
    assert len(train) + len(test) == 1288 and not set(train) & set(test)
    assert len(test) == 322  # 25%, as the scikit-learn eigenfaces example
    labels = np.asarray(images.labels)
    for label, count in enumerate([530, 236, 144, 121, 109, 77, 71]):
        assert abs((labels[test] == label).sum() - 0.25 * count) <= 1
    again = base_split(images)
    assert all(np.array_equal(a, b) for a, b in zip((train, test), again))
    everything = budget_split(images, None, draw=1)
    assert np.array_equal(everything.test, test) and np.array_equal(everything.labeled, train)
    assert not set(everything.train) & set(everything.validation)
    assert abs(len(everything.validation) - 0.15 * len(train)) <= 7  # the validation part exists with all labels only
    assert np.array_equal(budget_split(images, 5, draw=1).test, test)


@pytest.mark.parametrize("k", [5, 10, 25])
def test_budgets_draw_exactly_k_per_class_from_train_and_read_no_other_label(k):
    images = task([530, 236, 144, 121, 109, 77, 71])
    train, _ = base_split(images)
    draws = [budget_split(images, k, draw) for draw in range(3)]
    labels = np.asarray(images.labels)
    for split in draws:
        assert np.bincount(labels[split.train], minlength=7).tolist() == [k] * 7
        assert set(split.train) <= set(train) and not split.short_classes
        assert len(split.validation) == 0 and np.array_equal(split.labeled, split.train)
        assert split.labels_per_class(labels, images.class_names) == {f"class{c}": k for c in range(7)}
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
