"""What the new surfaces do when things go wrong (docs/reliability.md): names that are not UTF-8, a
start that fails, linked class folders, data that changes under a run, full disks and bombs,
unbounded settings, exports that must not be turned against their reader, raw errors, and own
pictures without LFW. The lock and signal cases run real processes: tests/faults/test_signals.py."""

from __future__ import annotations

import errno
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from proxytask import load_backbone, load_classifier
from proxytask.cli import main
from proxytask.config import ConfigError, apply_overrides, load_yaml
from proxytask.data import cache as cache_module
from proxytask.data.folders import labeled_folder
from proxytask.data.images import BadImage, decode_image
from proxytask.data.lfw import DataError
from proxytask.data.splits import budget_split, write_manifest
from proxytask.export import export_backbone
from proxytask.files import write_text_atomic
from proxytask.runs import PretrainConfig
from proxytask.train import pretrain
from tests.conftest import face_image, tiny_overrides

SURROGATE_CLASS = os.fsdecode(b"lat\xe9")
SURROGATE_FILE = os.fsdecode(b"b\xff.png")


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """``task/<class>/`` (2 classes x 6 pictures of 40 px) and a flat ``pool/`` of 30 pictures."""
    task, pool = tmp_path / "task", tmp_path / "pool"
    for label, name in enumerate(("alpha", "beta")):
        (task / name).mkdir(parents=True)
        for i in range(6):
            face_image(100 * label + i, size=40).save(task / name / f"{i}.png")
    pool.mkdir()
    for i in range(30):
        face_image(1000 + i, size=40).save(pool / f"{i}.png")
    return task, pool


def run_settings(task: Path, pool: Path, *extra: str) -> list[str]:
    """``pretrain`` arguments for a 2-step run of a folder pool and a folder task, small pictures."""
    keep = [o for o in tiny_overrides(task) if not o.startswith(("data.lfw=", "data.downstream=", "train.max_steps="))]
    sets = [*keep, "data.image_size=16", "data.crop_size=14", *extra]
    return ["--pool", str(pool), "--downstream", str(task), "--max-steps", "2", *[a for s in sets for a in ("--set", s)]]


# 1. Names that are not UTF-8 -------------------------------------------------------------------

def test_writers_take_names_that_are_not_utf8_and_write_back_their_bytes(folders, tmp_path):
    task, pool = folders
    (task / "alpha").rename(task / SURROGATE_CLASS)
    shutil.copy(task / "beta" / "0.png", task / "beta" / SURROGATE_FILE)
    images = labeled_folder(task)
    write_manifest(images, budget_split(images, 2, 0), tmp_path / "manifest.csv")
    raw = (tmp_path / "manifest.csv").read_bytes()
    assert b"lat\xe9" in raw and b"b\xff.png" in raw  # the names' own bytes: a reader finds the files
    (pool / SURROGATE_FILE).write_bytes(b"not a picture")
    run = tmp_path / "run"
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool)]) == 0
    assert b"b\xff.png" in (run / "skipped.txt").read_bytes()


# 2. A start that fails writes nothing ----------------------------------------------------------

def test_a_refused_start_writes_nothing_and_the_corrected_command_runs(folders, tmp_path, capsys):
    task, pool = folders
    run = tmp_path / "runs" / "run"
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool), "--batch-size", "500"]) == 2
    assert "batch" in capsys.readouterr().err
    assert not run.exists() and not run.parent.exists()
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool)]) == 0
    assert (run / "metrics.json").is_file()


def test_a_start_that_fails_before_its_first_checkpoint_does_not_block_the_corrected_command(folders, tmp_path, capsys):
    task, pool = folders
    run = tmp_path / "run"
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool, "optim.lr=1e30")]) == 2
    assert "the training loss became" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool)]) == 0
    assert json.loads((run / "metrics.json").read_text())["steps"] == 2


# 3. A class folder linked to another -----------------------------------------------------------

def test_a_class_folder_linked_to_another_is_refused(folders):
    task, _ = folders
    (task / "zeta").symlink_to(task / "alpha", target_is_directory=True)
    with pytest.raises(DataError, match="hold the same picture.*zeta is a link"):
        labeled_folder(task)


@pytest.mark.parametrize("link", [os.symlink, os.link])
def test_a_picture_linked_into_two_classes_is_refused(folders, link):
    task, _ = folders
    link(task / "alpha" / "0.png", task / "beta" / "linked.png")
    with pytest.raises(DataError, match="'alpha' and 'beta'.*hold the same picture"):
        labeled_folder(task)


# 4. Data that changes under a run or a study ---------------------------------------------------

def test_resuming_a_run_whose_pool_changed_is_refused_naming_the_change(folders, tmp_path, capsys):
    task, pool = folders
    run = tmp_path / "run"
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool)]) == 0
    for i in range(3):
        face_image(5000 + i, size=40).save(pool / f"new{i}.png")
    (pool / "0.png").unlink()
    assert main(["pretrain", "--out", str(run), *run_settings(task, pool), "--resume", "--extend-steps", "4"]) == 2
    error = capsys.readouterr().err
    assert "changed since it started" in error and "3 added" in error and "1 removed" in error and "0.png" in error
    assert json.loads((run / "metrics.json").read_text())["steps"] == 2  # nothing was trained on the changed pool


def test_a_study_rerun_on_changed_downstream_pictures_is_refused(fake_lfw, tmp_path, capsys):
    lfw = tmp_path / "lfw"
    shutil.copytree(fake_lfw, lfw)
    sets = [f"pretrain.{o}" for o in tiny_overrides(lfw) if not o.startswith("train.max_steps")]
    sets += ["pretrain_steps=2", "budgets=1", "draws=1", "frozen_draws=1", "baselines=random", "modes=knn"]
    command = ["study", "--preset", "quick", "--out", str(tmp_path / "study"), "--executor", "inprocess",
               *[a for s in sets for a in ("--set", s)]]
    assert main(command) == 0
    person = lfw / "lfw-deepfunneled" / "Alice_Alpha"
    face_image(777).save(person / "Alice_Alpha_0099.jpg")
    assert main(command) == 2
    assert "1 added (e.g." in capsys.readouterr().err


# 7. Full disks, YAML and picture bombs ---------------------------------------------------------

def test_a_cache_that_does_not_fit_on_the_disk_names_the_folder_and_the_bytes(folders, monkeypatch, tmp_path):
    _, pool = folders
    real = shutil.disk_usage
    monkeypatch.setattr(cache_module.shutil, "disk_usage", lambda path: real(path)._replace(free=1000))
    with pytest.raises(DataError, match=r"not enough disk space for the image cache in .*\.partial: it needs 38,\d{3} bytes, 1,000 are free"):
        cache_module.load_cache(sorted(pool.glob("*.png")), "center", 16, 1)


def test_a_disk_that_fills_up_while_the_cache_is_reserved_is_named(folders, monkeypatch):
    _, pool = folders

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module.os, "posix_fallocate", full)
    with pytest.raises(DataError, match=r"not enough disk space for the image cache .*pixels\.npy"):
        cache_module.load_cache(sorted(pool.glob("*.png")), "center", 16, 1)


def test_a_full_disk_elsewhere_is_one_line_naming_the_file(folders, monkeypatch, tmp_path, capsys):
    task, pool = folders

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("proxytask.train.write_json_atomic", full)
    assert main(["pretrain", "--out", str(tmp_path / "run"), *run_settings(task, pool)]) == 2
    error = capsys.readouterr().err
    assert "no space left on the disk writing" in error and "data.json" in error and "Traceback" not in error
    assert "then continue with: proxytask pretrain --out" in error and "--resume" not in error  # nothing had started


def test_yaml_aliases_and_keys_given_twice_are_refused_naming_the_file(tmp_path):
    bomb = tmp_path / "bomb.yaml"
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'] + [f'{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]'
                                                            for p, c in zip("abcdefgh", "bcdefghi")]
    bomb.write_text("\n".join(lines) + "\ntask: *i\n")
    with pytest.raises(ConfigError, match=f"{bomb}.*aliases"):
        load_yaml(PretrainConfig, bomb)
    twice = tmp_path / "twice.yaml"
    twice.write_text("task: colorization\ntask: rotation\n")
    with pytest.raises(ConfigError, match=f"{twice}.*'task' is given twice"):
        load_yaml(PretrainConfig, twice)
    with pytest.raises(ConfigError, match="--set data.pool: the value is not valid YAML.*aliases"):
        apply_overrides(PretrainConfig(), ["data.pool=[&a x, *a]"])
    unhashable = tmp_path / "unhashable.yaml"
    unhashable.write_text("? [a]\n: 1\n")
    with pytest.raises(ConfigError, match=f"{unhashable}.*a setting's name must be text"):
        load_yaml(PretrainConfig, unhashable)


def test_a_picture_above_the_pixel_limit_is_skipped_without_decoding_it(tmp_path):
    big = tmp_path / "big.png"
    Image.new("L", (12000, 12000)).save(big)
    with _no_warning():
        with pytest.raises(BadImage, match="too large: more than 89478485 pixels"):
            decode_image(big, "center", 16)


class _no_warning:
    """Assert that no warning is emitted inside the block."""

    def __enter__(self):
        self.catcher = warnings.catch_warnings(record=True)
        self.caught = self.catcher.__enter__()
        warnings.simplefilter("always")

    def __exit__(self, *exc):
        self.catcher.__exit__(*exc)
        assert not self.caught, [str(w.message) for w in self.caught]
        return False


# 8. Bounded settings ---------------------------------------------------------------------------

def test_whole_numbers_beyond_what_the_code_holds_are_refused_naming_the_setting():
    with pytest.raises(ConfigError, match=r"train.seed must be a whole number of at most 9007199254740992"):
        apply_overrides(PretrainConfig(), ["train.seed=99999999999999999999999"])
    with pytest.raises(ConfigError, match=r"train.seed must be a whole number in \[0, 4.29497e\+09\]"):
        apply_overrides(PretrainConfig(), ["train.seed=9007199254740992"])  # within 2^53, but its generators' seeds would not fit
    with pytest.raises(ConfigError, match=r"data.workers must be a whole number in \[1, 256\]"):
        apply_overrides(PretrainConfig(), ["data.workers=1000"])


def test_decoding_workers_are_bounded_by_the_cores_and_the_chunks(folders, monkeypatch):
    _, pool = folders
    started = []
    real = cache_module.ProcessPoolExecutor

    def recording(max_workers, **kwargs):
        started.append(max_workers)
        return real(max_workers=max_workers, **kwargs)

    monkeypatch.setattr(cache_module, "ProcessPoolExecutor", recording)
    monkeypatch.setattr(cache_module, "_CHUNK", 4)  # 30 pictures: 8 chunks
    monkeypatch.setattr(cache_module, "usable_cores", lambda: 2)
    cache_module.load_cache(sorted(pool.glob("*.png")), "center", 16, 40)
    assert started == [2]


# 9-11. Exports and their descriptions ----------------------------------------------------------

@pytest.fixture(scope="module")
def finished(fake_lfw, tmp_path_factory) -> tuple[Path, Path, Path]:
    """A finished 2-step run, its export and a fine-tuned classifier of it (folders to copy)."""
    from tests.conftest import tiny_config

    root = tmp_path_factory.mktemp("finished")
    run = root / "run"
    pretrain(tiny_config(fake_lfw, "train.max_steps=2"), run)
    export_backbone(run, root / "export")
    settings = ["--lfw", str(fake_lfw), "--downstream", "lfw:min_faces=5", "--set", "pretrain.data.image_size=24",
                "--set", "pretrain.data.crop_size=20", "--set", "finetune.min_steps=2", "--set", "finetune.max_steps=2"]
    assert main(["finetune", "--init", str(run), "--k", "2", "--out", str(root / "ft"), *settings]) == 0
    return run, root / "export", root / "ft" / "classifier"


def copied(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def test_an_export_is_not_replaced_without_force(finished, tmp_path, capsys):
    run, _, _ = finished
    out = tmp_path / "export"
    assert main(["export", str(run), "-o", str(out)]) == 0
    assert main(["export", str(run), "-o", str(out)]) == 2
    assert "already holds an export" in capsys.readouterr().err
    assert main(["export", str(run), "-o", str(out), "--force"]) == 0


def test_nan_or_changed_weights_are_refused_by_export_loaders_and_predict(finished, fake_lfw, tmp_path, capsys):
    run, export, classifier = finished
    run, export, classifier = copied(run, tmp_path), copied(export, tmp_path), copied(classifier, tmp_path)
    weights = load_file(run / "model.safetensors")
    save_file({k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in weights.items()},
              run / "model.safetensors")
    assert main(["export", str(run), "-o", str(tmp_path / "again")]) == 2
    assert "does not match the SHA-256" in capsys.readouterr().err
    (run / "metrics.json").write_text(json.dumps({k: v for k, v in json.loads((run / "metrics.json").read_text()).items()
                                                  if k != "weights_sha256"}))
    with pytest.raises(ConfigError, match="NaN or infinite"):
        load_backbone(run)  # no digest recorded (an earlier version's run): the finite check still holds
    knn = ["knn", "--init", str(run), "--k", "2", "--out", str(tmp_path / "knn"), "--lfw", str(fake_lfw), "--downstream", "lfw:min_faces=5"]
    assert main(knn) == 2
    assert "NaN or infinite" in capsys.readouterr().err
    assert not (tmp_path / "knn").exists()  # refused before anything is written
    flipped = bytearray((export / "backbone.safetensors").read_bytes())
    flipped[-5] ^= 0xFF
    (export / "backbone.safetensors").write_bytes(bytes(flipped))
    with pytest.raises(ConfigError, match="does not match the SHA-256"):
        load_backbone(export)
    (classifier / "classifier.safetensors").write_bytes((classifier / "classifier.safetensors").read_bytes()[:100])
    picture = tmp_path / "face.png"
    face_image(3).save(picture)
    assert main(["predict", str(picture), "--model", str(classifier), "-o", str(tmp_path / "p.csv")]) == 2
    assert "classifier.safetensors does not match the SHA-256" in capsys.readouterr().err
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.parametrize("change, message", [
    ({"timm_model": "hf-hub:timm/resnet18.a1_in1k"}, "not a model name of timm's registry"),
    ({"timm_model": "local-dir:/etc"}, "not a model name of timm's registry"),
    ({"timm_kwargs": {"checkpoint_path": "/etc/passwd"}}, "timm_kwargs may only be"),
    ({"preprocessing": {"crop": "center", "image_size": -5, "crop_size": 20}}, r"preprocessing.image_size must be a whole number in \[8, 1024\]"),
    ({"preprocessing": {"crop": "center", "image_size": 10**9, "crop_size": 20}}, r"preprocessing.image_size must be a whole number in \[8, 1024\]"),
    ({"preprocessing": {"crop": [1, 2], "image_size": 24, "crop_size": 20}}, "crop must be 'center' or a box"),
    ({"preprocessing": {"crop": "center", "image_size": 24, "crop_size": 30}}, r"preprocessing.crop_size must be between 8 and"),
    ({"preprocessing": {"crop": "center", "image_size": 32, "crop_size": 28}}, "is not the preprocessing"),
    ({"timm_keys_without_weights": ["features.0.weight"]}, "may only name weights of the classifier side"),
    ({"input": {"kind": "intensity", "normalization": "standardize"}}, "input .* is not the input"),
    ({"in_chans": "1"}, "in_chans must be int"),
    (None, "lacks the field 'timm_model'"),
])
def test_backbone_json_is_checked_before_timm_or_torch_read_anything(finished, tmp_path, change, message):
    _, export, _ = finished
    export = copied(export, tmp_path)
    info = json.loads((export / "backbone.json").read_text())
    info = {k: v for k, v in info.items() if k != "timm_model"} if change is None else {**info, **change}
    (export / "backbone.json").write_text(json.dumps(info))
    with pytest.raises(ConfigError, match=message):
        load_backbone(export)


@pytest.mark.parametrize("text, message", [
    ("{not json", "is not a readable JSON file"),
    ("[1, 2]", "must be a mapping, got list"),
])
def test_a_damaged_description_is_one_error_naming_the_file(finished, tmp_path, text, message):
    _, export, classifier = finished
    for folder, name, load in ((export, "backbone.json", load_backbone), (classifier, "classifier.json", load_classifier)):
        folder = copied(folder, tmp_path / name)
        (folder / name).write_text(text)
        with pytest.raises(ConfigError, match=f"{folder / name}.*{message}" if "JSON" in message else message):
            load(folder)


def test_a_classifier_whose_conversion_or_classes_were_edited_is_refused(finished, tmp_path):
    _, _, classifier = finished
    classifier = copied(classifier, tmp_path)
    info = json.loads((classifier / "classifier.json").read_text())
    (classifier / "classifier.json").write_text(json.dumps({**info, "input": {**info["input"], "normalization": "standardize"}}))
    with pytest.raises(ConfigError, match="input .* is not the input"):
        load_classifier(classifier)
    (classifier / "classifier.json").write_text(json.dumps({**info, "class_names": info["class_names"][::-1]}))
    with pytest.raises(ConfigError, match="class_names .* is not the class_names"):
        load_classifier(classifier)  # reordered names would label every picture wrongly


def test_a_truncated_weights_file_is_one_error_naming_it(finished, tmp_path):
    _, export, _ = finished
    export = copied(export, tmp_path)
    info = json.loads((export / "backbone.json").read_text())
    (export / "backbone.json").write_text(json.dumps({k: v for k, v in info.items() if k != "sha256"}))
    (export / "backbone.safetensors").write_bytes((export / "backbone.safetensors").read_bytes()[:64])
    with pytest.raises(ConfigError, match=r"backbone.safetensors is not a readable safetensors file"):
        load_backbone(export)


def test_a_pool_of_copies_of_the_downstream_pictures_says_so(folders, tmp_path, capsys):
    task, _ = folders
    pool = tmp_path / "copies"
    shutil.copytree(task, pool)
    assert main(["pretrain", "--out", str(tmp_path / "run"), *run_settings(task, pool)]) == 2
    assert "12 of its pictures are copies of" in capsys.readouterr().err


# 12. Own pictures, no LFW anywhere -------------------------------------------------------------

def test_a_pool_folder_alone_trains_without_lfw_and_a_later_transfer_checks_it_again(folders, tmp_path, monkeypatch, capsys):
    task, pool = folders

    def no_network(*args, **kwargs):
        pytest.fail("the network was tried")

    monkeypatch.setattr("proxytask.data.lfw.download_archive", no_network)
    run = tmp_path / "run"
    keep = [o for o in tiny_overrides(task) if not o.startswith(("data.lfw=", "data.downstream=", "train.max_steps="))]
    sets = [a for s in [*keep, "data.image_size=16", "data.crop_size=14"] for a in ("--set", s)]
    shutil.copy(task / "alpha" / "0.png", pool / "copy.png")  # a copy of a picture of a task the run never saw
    assert main(["pretrain", "--out", str(run), "--pool", str(pool), "--max-steps", "2", *sets]) == 0
    assert json.loads((run / "data.json").read_text())["downstream_checked"] is None
    finetune = ["finetune", "--init", str(run), "--k", "2", "--out", str(tmp_path / "ft"), "--downstream", str(task),
                "--set", "finetune.min_steps=2", "--set", "finetune.max_steps=2"]
    capsys.readouterr()
    assert main(finetune) == 2
    assert "1 pictures of the pool of" in capsys.readouterr().err and not (tmp_path / "ft").exists()
    (pool / "copy.png").unlink()
    checked = tmp_path / "checked"
    assert main(["pretrain", "--out", str(checked), "--pool", str(pool), "--downstream", str(task), "--max-steps", "2", *sets]) == 0
    assert json.loads((checked / "data.json").read_text())["downstream_checked"] == str(task)
    assert np.isfinite(json.loads((checked / "metrics.json").read_text())["loss_last"])


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_files_written_atomically_get_the_permissions_of_the_umask(tmp_path, mask, mode):
    before = os.umask(mask)
    try:
        write_text_atomic(tmp_path / "report.md", "x")  # its temporary file is owner-only
    finally:
        os.umask(before)
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == mode


def test_a_full_disk_at_a_checkpoint_names_the_command_that_resumes(folders, monkeypatch, tmp_path, capsys):
    task, pool = folders

    def full(root, step, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(root / "model.safetensors"))

    monkeypatch.setattr("proxytask.train.save_checkpoint", full)
    assert main(["pretrain", "--out", str(tmp_path / "run"), *run_settings(task, pool)]) == 2
    error = capsys.readouterr().err
    line = next(line for line in error.splitlines() if "no space left on the disk writing" in line)
    assert line.endswith("--resume")  # the run had started: the same command alone would be refused
