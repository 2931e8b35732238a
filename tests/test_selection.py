import pytest

from proxytask.data.folders import image_tree, labeled_folder
from proxytask.data.lfw import DataError
from proxytask.data.selection import select
from tests.conftest import face_image


def test_min_faces_selection_and_pool_are_disjoint(fake_lfw):
    selection = select("lfw:min_faces=5", fake_lfw / "lfw-deepfunneled")
    assert selection.downstream.class_names == ["Alice_Alpha", "Bob_Beta"]
    assert selection.downstream.class_counts() == {"Alice_Alpha": 6, "Bob_Beta": 5}
    assert len(selection.pool) == 36
    assert not set(selection.pool) & set(selection.downstream.paths)


def test_people_list_selection(fake_lfw):
    selection = select("lfw:people=Bob_Beta,Pool_Person03", fake_lfw / "lfw-deepfunneled")
    assert selection.downstream.class_counts() == {"Bob_Beta": 5, "Pool_Person03": 3}
    assert len(selection.pool) == 47 - 8


def test_politicians_spec_uses_70_images_threshold(fake_lfw):
    with pytest.raises(DataError):
        select("lfw-politicians-7", fake_lfw / "lfw-deepfunneled")  # nobody has 70 images here


@pytest.mark.parametrize("spec, message", [
    ("lfw:min_faces=six", "whole number"),
    ("lfw:min_faces=100", "selects 0 people"),
    ("lfw:people=Alice_Alpha", "at least 2"),
    ("lfw:people=Alice_Alpha,Nobody_Here", "Nobody_Here"),
    ("lfw:colour=red", "expected lfw:min_faces"),
])
def test_bad_specs_are_named(fake_lfw, spec, message):
    with pytest.raises(DataError, match=message):
        select(spec, fake_lfw / "lfw-deepfunneled")


def test_image_folder_task_and_errors(tmp_path):
    for name, count in (("cats", 2), ("dogs", 3)):
        (tmp_path / "task" / name).mkdir(parents=True)
        for i in range(count):
            face_image(i, size=32).save(tmp_path / "task" / name / f"{i}.png")
    labeled = labeled_folder(tmp_path / "task")
    assert labeled.class_names == ["cats", "dogs"] and labeled.labels == [0, 0, 1, 1, 1]
    assert len(image_tree(tmp_path / "task")) == 5
    (tmp_path / "task" / "birds").mkdir()
    with pytest.raises(DataError, match="'birds' holds no images"):
        labeled_folder(tmp_path / "task")
    with pytest.raises(DataError, match="does not exist"):
        labeled_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="needs the LFW data"):
        select("lfw:min_faces=3", None)
