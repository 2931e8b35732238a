import pytest

from proxytask.config import ConfigError, DataConfig
from proxytask.data.folders import image_tree, labeled_folder
from proxytask.data.images import CENTER
from proxytask.data.lfw import DataError
from proxytask.data.selection import downstream_task, pool_sources
from tests.conftest import face_image


def lfw_data(fake_lfw, spec: str, **settings) -> DataConfig:
    return DataConfig(lfw=str(fake_lfw), downstream=spec, **settings)


def test_min_faces_selection_and_pool_are_disjoint(fake_lfw):
    data = lfw_data(fake_lfw, "lfw:min_faces=5")
    task = downstream_task(data)
    assert task.images.class_names == ["Alice_Alpha", "Bob_Beta"] and task.crop == data.face_crop
    assert task.images.class_counts() == {"Alice_Alpha": 6, "Bob_Beta": 5}
    [pool] = pool_sources(data)
    assert pool.name == "lfw" and len(pool.paths) == 36 and pool.crop == data.face_crop
    assert not set(pool.paths) & set(task.images.paths)


def test_people_list_selection(fake_lfw):
    data = lfw_data(fake_lfw, "lfw:people=Bob_Beta,Pool_Person03")
    assert downstream_task(data).images.class_counts() == {"Bob_Beta": 5, "Pool_Person03": 3}
    assert len(pool_sources(data)[0].paths) == 47 - 8


def test_politicians_spec_uses_70_images_threshold(fake_lfw):
    with pytest.raises(DataError):
        downstream_task(lfw_data(fake_lfw, "lfw-politicians-7"))  # nobody has 70 images here


@pytest.mark.parametrize("spec, message", [
    ("lfw:min_faces=six", "whole number"),
    ("lfw:min_faces=100", "selects 0 people"),
    ("lfw:people=Alice_Alpha", "at least 2"),
    ("lfw:people=Alice_Alpha,Nobody_Here", "Nobody_Here"),
])
def test_bad_specs_are_named(fake_lfw, spec, message):
    with pytest.raises(DataError, match=message):
        downstream_task(lfw_data(fake_lfw, spec))


@pytest.mark.parametrize("spec, message", [
    ("lfw:colour=red", r"downstream spec 'lfw:colour=red': unknown LFW selection 'colour' \(known: min_faces, people\)"),
    ("lfw:people_=A,B", "unknown LFW selection 'people_'; did you mean people?"),
    ("lfw-dev7", "unknown downstream 'lfw-dev7'; did you mean lfw-dev-7?"),
])
def test_unknown_spec_names_get_the_nearest_one(fake_lfw, spec, message):
    with pytest.raises(ConfigError, match=message):
        downstream_task(lfw_data(fake_lfw, spec))


def write_task(root, counts, size=32):
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            face_image(i, size=size).save(root / name / f"{i}.png")
    return root


def test_image_folder_task_and_errors(tmp_path):
    write_task(tmp_path / "task", {"cats": 2, "dogs": 3})
    labeled = labeled_folder(tmp_path / "task")
    assert labeled.class_names == ["cats", "dogs"] and labeled.labels == [0, 0, 1, 1, 1]
    assert len(image_tree(tmp_path / "task")) == 5
    (tmp_path / "task" / "birds").mkdir()
    with pytest.raises(DataError, match="'birds' holds no images"):
        labeled_folder(tmp_path / "task")
    with pytest.raises(DataError, match="does not exist"):
        labeled_folder(tmp_path / "missing")


def test_folder_task_and_folder_pool_need_no_lfw(tmp_path, monkeypatch):
    """A folder downstream named like an LFW spec is a folder; a folder pool is searched recursively;
    neither looks LFW up (no download is tried)."""
    monkeypatch.setattr("proxytask.data.lfw.download_archive", lambda *a, **k: pytest.fail("LFW looked up"))
    monkeypatch.chdir(tmp_path)
    write_task(tmp_path / "lfw_faces", {"cats": 2, "dogs": 2})
    write_task(tmp_path / "pool" / "a" / "b", {"c": 3})
    data = DataConfig(downstream="lfw_faces", pool=("pool",))
    task = downstream_task(data)
    assert task.images.class_names == ["cats", "dogs"] and task.crop == CENTER
    [pool] = pool_sources(data)
    assert len(pool.paths) == 3 and pool.crop == CENTER
    assert downstream_task(DataConfig(downstream="lfw_faces", folder_crop="face")).crop == data.face_crop


def test_lfw_specs_and_pool_need_lfw(tmp_path, monkeypatch):
    monkeypatch.setenv("PROXYTASK_LFW", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="does not exist"):
        downstream_task(DataConfig(downstream="lfw:min_faces=3"))
    write_task(tmp_path / "task", {"cats": 2, "dogs": 2})
    with pytest.raises(DataError, match="does not exist"):
        pool_sources(DataConfig(downstream=str(tmp_path / "task")))


def test_symlink_loops_and_a_class_linked_to_the_root_do_not_loop(tmp_path):
    import os

    write_task(tmp_path / "task", {"cats": 2, "dogs": 2})
    os.symlink(tmp_path / "task", tmp_path / "task" / "cats" / "loop")  # a folder that links to an ancestor
    assert labeled_folder(tmp_path / "task").class_counts() == {"cats": 2, "dogs": 2}  # rglob does not follow the link
    assert len(image_tree(tmp_path / "task")) == 4
    os.symlink(tmp_path / "task", tmp_path / "task" / "root_again")  # a "class" that is the root itself
    with pytest.raises(DataError, match="root_again links to"):
        labeled_folder(tmp_path / "task")
