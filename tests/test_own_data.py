"""Pretraining on one's own unlabeled folder and classifying one's own labeled folder, without LFW."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from proxytask.config import ConfigError, DataConfig, apply_overrides
from proxytask.data.lfw import DataError
from proxytask.study.settings import StudyConfig
from proxytask.train import pretrain
from tests.conftest import face_image, tiny_overrides


@pytest.fixture
def no_lfw(monkeypatch, tmp_path):
    """Any LFW lookup fails the test: these data never need it."""
    monkeypatch.setattr("proxytask.data.selection.locate_lfw", lambda *a, **k: pytest.fail("LFW looked up"))


@pytest.fixture
def own_data(tmp_path):
    """``task/<class>/`` of 100x100 pictures (2 classes x 6) and a nested ``pool/`` of 120x90 pictures
    with 3 copies of task images, an empty file and a text file named like an image."""
    task, pool = tmp_path / "task", tmp_path / "pool"
    for label, name in enumerate(("cat", "dog")):
        (task / name).mkdir(parents=True)
        for i in range(6):
            face_image(100 * label + i, size=100).save(task / name / f"{i}.png")
    for i in range(40):
        folder = pool / f"part{i % 3}" / f"deeper{i % 2}"
        folder.mkdir(parents=True, exist_ok=True)
        face_image(1000 + i, size=120).crop((0, 15, 120, 105)).save(folder / f"{i}.jpg", quality=90)
    for i in range(3):
        shutil.copy(task / "cat" / f"{i}.png", pool / f"copy_of_cat_{i}.png")
    (pool / "empty.png").write_bytes(b"")
    (pool / "part0" / "notes.jpg").write_text("not an image")
    return task, pool


def folder_overrides(task, pool) -> list[str]:
    keep = [o for o in tiny_overrides(task) if not o.startswith(("data.lfw=", "data.downstream="))]
    return [*keep, f"data.downstream={task}", f"data.pool=[{json.dumps(str(pool))}]", "data.image_size=16", "data.crop_size=14"]


def test_pretrain_on_a_pool_folder_keeps_out_copies_of_downstream_images(own_data, no_lfw, tmp_path):
    from proxytask.runs import PretrainConfig

    task, pool = own_data
    run = tmp_path / "run"
    pretrain(apply_overrides(PretrainConfig(), [*folder_overrides(task, pool), "train.max_steps=2"]), run)
    data = json.loads((run / "data.json").read_text())
    assert data["pool_images"] == 45 and data["images_skipped"] == 2
    assert data["pool_duplicates_of_downstream"] == 3
    assert data["train_images"] + data["heldout_images"] == 40
    assert data["skip_reasons"] == {"empty file": 1, "not a readable image": 1}
    assert data["sources"] == [str(pool)]
    assert "copy_of_cat" not in (run / "skipped.txt").read_text()


def test_a_labeled_folder_of_small_pictures_reads_without_lfw(own_data, no_lfw):
    from proxytask.data.downstream import load_downstream

    task, pool = own_data
    loaded = load_downstream(DataConfig(downstream=str(task), pool=(str(pool),), image_size=16, crop_size=14, workers=1))
    assert loaded.pixels.shape == (12, 16, 16, 3) and not loaded.skipped
    # the centered square of a 100x100 picture is all of it: the cached row is the picture resized
    expected = np.asarray(Image.open(task / "cat" / "0.png").convert("RGB").resize((16, 16), Image.Resampling.BILINEAR))
    assert np.abs(loaded.pixels[0].numpy().astype(int) - expected.astype(int)).max() <= 1


def test_a_class_without_usable_pictures_names_the_reason(own_data, no_lfw):
    from proxytask.data.downstream import load_downstream

    task, pool = own_data
    with pytest.raises(DataError, match=r"class 'cat' has no usable image \(6 smaller than the crop\)"):
        load_downstream(DataConfig(downstream=str(task), pool=(str(pool),), folder_crop="face", image_size=16, crop_size=14))


def test_pool_and_folder_crop_settings_are_checked():
    with pytest.raises(ConfigError, match="data.folder_crop"):
        apply_overrides(StudyConfig(), ["pretrain.data.folder_crop=square"])
    with pytest.raises(ConfigError, match="data.pool"):
        apply_overrides(StudyConfig(), ["pretrain.data.pool=[]"])


def test_a_failed_pretraining_start_leaves_nothing_that_blocks_the_corrected_command(own_data, no_lfw, tmp_path):
    from proxytask.cli import main

    task, pool = own_data
    run = tmp_path / "run"
    common = ["pretrain", "--out", str(run), "--downstream", str(task), "--max-steps", "1", "--set", "data.image_size=16",
              "--set", "data.crop_size=14", "--set", "data.heldout_images=4", "--set", "train.batch_size=4"]
    assert main([*common, "--pool", str(tmp_path / "no-such-folder")]) == 2
    assert not (run / "config.yaml").exists()
    assert main([*common, "--pool", str(pool)]) == 0
    assert (run / "model.safetensors").is_file()


def test_pictures_the_eigenfaces_crop_cannot_read_stop_the_study_before_any_work(tmp_path, no_lfw):
    """190x190 pictures pass the LFW face box (189x189) but not the eigenfaces example's (172x195)."""
    from proxytask.study.presets import study_config
    from proxytask.study.run import run_study

    task = tmp_path / "task"
    for name in ("a", "b"):
        (task / name).mkdir(parents=True)
        for i in range(4):
            face_image(i, size=190).save(task / name / f"{i}.png")
    config = study_config("quick", [f"pretrain.data.downstream={task}", "pretrain.data.folder_crop=face",
                                    f"pretrain.data.pool=[{json.dumps(str(task))}]", "baselines=random,eigenfaces"])
    with pytest.raises(DataError, match="eigenfaces baseline cannot read 8"):
        run_study(config, tmp_path / "study")
    assert not (tmp_path / "study").exists()


def test_cache_command_at_another_size_on_own_folders(own_data, no_lfw, capsys):
    from proxytask.cli import main

    task, pool = own_data
    assert main(["cache", "--image-size", "32", "--downstream", str(task), "--pool", str(pool)]) == 0
    out = capsys.readouterr().out
    assert "downstream: 12 images, 0 skipped" in out and "2 skipped (1 empty file, 1 not a readable image)" in out


def test_unusable_downstream_pictures_are_reported_not_dropped_silently(own_data, no_lfw, caplog):
    import logging

    from proxytask.data.downstream import load_downstream

    task, pool = own_data
    (task / "dog" / "broken.png").write_text("not a picture")
    with caplog.at_level(logging.WARNING):
        loaded = load_downstream(DataConfig(downstream=str(task), pool=(str(pool),), image_size=16, crop_size=14, workers=1))
    assert len(loaded.images.paths) == 12 and len(loaded.skipped) == 1
    assert "1 unusable picture(s) left out (1 not a readable image)" in caplog.text and "broken.png" in caplog.text


def test_the_quick_preset_checkpoints_its_pretraining():
    from proxytask.study.presets import study_config

    config = study_config("quick", [])
    assert config.pretrain.train.checkpoint_every < config.pretrain_steps


def test_a_flat_unlabeled_pool_with_the_supervised_baseline_is_refused_before_any_work(tmp_path, no_lfw):
    from proxytask.config import ConfigError
    from proxytask.study.presets import study_config
    from proxytask.study.run import run_study

    task, pool = tmp_path / "task", tmp_path / "pool"
    for name in ("a", "b"):
        (task / name).mkdir(parents=True)
        face_image(len(name), size=64).save(task / name / "0.png")
    pool.mkdir()
    for i in range(10):
        face_image(50 + i, size=64).save(pool / f"{i}.png")
    config = study_config("quick", [f"pretrain.data.downstream={task}", f"pretrain.data.pool=[{json.dumps(str(pool))}]"])
    with pytest.raises(ConfigError, match="baselines=random,eigenfaces"):
        run_study(config, tmp_path / "study")
    assert not (tmp_path / "study").exists()
