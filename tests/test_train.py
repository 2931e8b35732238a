import json

import numpy as np
import pytest
import torch

from proxytask import train as train_module
from proxytask.checkpoint import latest_checkpoint, load_weights
from proxytask.config import ConfigError
from proxytask.engine import lr_factor
from proxytask.train import pretrain
from tests.conftest import tiny_config, tiny_overrides


def test_pretrain_writes_run_folder_and_metrics(fake_lfw, tmp_path):
    run = tmp_path / "run"
    metrics = pretrain(tiny_config(fake_lfw, "train.max_steps=8"), run)
    for name in ("config.yaml", "log.csv", "metrics.json", "gallery.png", "model.safetensors", "data.json"):
        assert (run / name).is_file(), name
    assert list((run / "tb").iterdir())
    saved = json.loads((run / "metrics.json").read_text())
    for key in ("loss_first", "loss_last", "psnr_colorized", "psnr_gray", "images_per_second"):
        assert isinstance(saved[key], float), key
    assert saved == metrics
    assert metrics["train_images"] == 36 - 4 and metrics["heldout_images"] == 4
    step, folder = latest_checkpoint(run / "checkpoints")
    assert step == 8
    info = json.loads((folder / "checkpoint.json").read_text())
    assert info["step"] == 8 and info["config"]["train"]["max_steps"] == 8


class Killed(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_weights(fake_lfw, tmp_path, monkeypatch):
    straight = tmp_path / "straight"
    pretrain(tiny_config(fake_lfw, "train.max_steps=6"), straight)

    real_save = train_module.save_checkpoint

    def save_then_die(run_dir, step, *args, **kwargs):
        real_save(run_dir, step, *args, **kwargs)
        if step == 4:
            raise Killed

    interrupted = tmp_path / "interrupted"
    monkeypatch.setattr(train_module, "save_checkpoint", save_then_die)
    with pytest.raises(Killed):
        pretrain(tiny_config(fake_lfw, "train.max_steps=6"), interrupted)
    monkeypatch.undo()
    assert not (interrupted / "model.safetensors").exists()
    pretrain(tiny_config(fake_lfw, "train.max_steps=6"), interrupted, resume=True)
    a, b = load_weights(straight / "model.safetensors"), load_weights(interrupted / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], msg=key)
    rows = (interrupted / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["2", "4", "6"]
    for step in (1, 2):  # the weights kept at 1/9 and 1/3 of the run: the same bytes after the resume
        kept = f"kept/step-{step:08d}.safetensors"
        assert (straight / kept).read_bytes() == (interrupted / kept).read_bytes()


def test_a_run_keeps_its_backbone_at_a_ninth_and_a_third_of_its_steps(fake_lfw, tmp_path):
    constant = ["optim.schedule=constant", "optim.warmup_steps=0"]  # so that a shorter run takes the same steps
    pretrain(tiny_config(fake_lfw, "train.max_steps=9", *constant), tmp_path / "long")
    pretrain(tiny_config(fake_lfw, "train.max_steps=3", *constant), tmp_path / "short")
    assert sorted(p.name for p in (tmp_path / "long" / "kept").iterdir()) == [
        "step-00000001.safetensors", "step-00000001.sha256", "step-00000003.safetensors", "step-00000003.sha256"]
    kept = load_weights(tmp_path / "long" / "kept" / "step-00000003.safetensors",
                        (tmp_path / "long" / "kept" / "step-00000003.sha256").read_text().strip())
    short = load_weights(tmp_path / "short" / "model.safetensors")
    final = load_weights(tmp_path / "long" / "model.safetensors")
    assert kept.keys() == {key.removeprefix("backbone.") for key in short if key.startswith("backbone.")}
    for key in kept:
        torch.testing.assert_close(kept[key], short[f"backbone.{key}"], msg=key)  # the network after 3 of the 9 steps
    assert any(not torch.equal(kept[key], final[f"backbone.{key}"]) for key in kept if kept[key].is_floating_point())


def test_existing_run_needs_resume_flag(fake_lfw, tmp_path):
    run = tmp_path / "run"
    pretrain(tiny_config(fake_lfw, "train.max_steps=2"), run)
    with pytest.raises(ConfigError, match="pass --resume"):
        pretrain(tiny_config(fake_lfw, "train.max_steps=2"), run)
    with pytest.raises(ConfigError, match="not a run folder"):
        pretrain(tiny_config(fake_lfw), tmp_path / "empty", resume=True)


def test_grayscale_pool_images_are_left_out_of_colorization(fake_lfw, tmp_path):
    import shutil

    from tests.conftest import face_image

    lfw = tmp_path / "lfw"
    shutil.copytree(fake_lfw, lfw)
    face_image(99).convert("L").save(lfw / "lfw-deepfunneled" / "Pool_Person00" / "Pool_Person00_0001.jpg")
    (lfw / "lfw-deepfunneled" / "Pool_Person01" / "Pool_Person01_0001.jpg").write_bytes(b"broken")
    metrics = pretrain(tiny_config(lfw, "train.max_steps=2"), tmp_path / "run")
    assert metrics["images_gray_excluded"] == 1 and metrics["images_skipped"] == 1
    assert metrics["train_images"] == 36 - 2 - 4
    assert "Pool_Person01_0001.jpg" in (tmp_path / "run" / "skipped.txt").read_text()


@pytest.mark.parametrize("schedule", ["cosine", "step", "constant"])
def test_lr_schedule_warms_up_then_decays(schedule):
    from proxytask.config import OptimConfig

    optim = OptimConfig(schedule=schedule, warmup_steps=10)
    factors = [lr_factor(s, 100, optim) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    if schedule == "constant":
        assert factors[-1] == 1.0
    else:
        assert factors[-1] < 0.01 and all(a >= b for a, b in zip(factors[9:], factors[10:]))


def test_supervised_pretraining_learns_pool_identities(fake_lfw, tmp_path):
    run = tmp_path / "supervised"
    metrics = pretrain(tiny_config(fake_lfw, "task=supervised", "supervised.min_images_per_identity=3",
                                   "train.max_steps=4", "data.heldout_images=2"), run)
    assert metrics["identities"] == 12  # the 12 pool people with 3 images; the 2 downstream people excluded
    assert metrics["train_images"] == 36 - 2 and 0.0 <= metrics["heldout_accuracy"] <= 1.0
    weights = load_weights(run / "model.safetensors")
    assert weights["head.1.weight"].shape[0] == 12


def test_identity_labels_keep_people_with_enough_images():
    import numpy as np

    from proxytask.tasks.supervised import identity_labels

    groups = np.array(["0/Ann", "0/Ann", "0/Bob", "0/Cid", "0/Cid", "0/Cid", "1/Ann"])
    rows, labels, classes = identity_labels(groups, min_images=2)
    assert rows.tolist() == [0, 1, 3, 4, 5] and labels.tolist() == [0, 0, 1, 1, 1] and classes == 2


def test_pool_fraction_keeps_a_seeded_share_and_the_same_heldout_images(fake_lfw):
    from proxytask.data.pool import load_pool
    from proxytask.distributed import Context
    from proxytask.tasks import task_class

    context = Context(0, 1, torch.device("cpu"))
    task = task_class("colorization")

    def pool(*overrides):
        config = tiny_config(fake_lfw, *overrides)
        return load_pool(config.data, config.train.seed, task.pool_images, lambda folders: task.pool_labels(folders, config), context)

    whole, half = pool(), pool("data.pool_fraction=0.5")
    assert torch.equal(whole.heldout, half.heldout)
    assert len(half.train) == round(0.5 * len(whole.train)) and half.counts["pool_fraction"] == 0.5
    whole_rows = {row.numpy().tobytes() for row in whole.train.gather(np.arange(len(whole.train)))}
    assert all(row.numpy().tobytes() in whole_rows for row in half.train.gather(np.arange(len(half.train))))


def test_resume_keeps_the_saved_settings_and_refuses_a_changed_one(fake_lfw, tmp_path):
    from proxytask.cli import main
    from proxytask.config import load_yaml
    from proxytask.runs import PretrainConfig

    run = tmp_path / "run"
    settings = [f"--set={o}" for o in tiny_overrides(fake_lfw) if not o.startswith("train.max_steps")]
    assert main(["pretrain", "--out", str(run), "--max-steps", "2", *settings]) == 0
    before = (run / "config.yaml").read_text()
    assert main(["pretrain", "--out", str(run), "--resume"]) == 0  # the --help form: no settings repeated
    assert load_yaml(PretrainConfig, run / "config.yaml").train.max_steps == 2
    assert main(["pretrain", "--out", str(run), "--resume", "--max-steps", "5"]) == 2  # refused, nothing written
    assert main(["pretrain", "--out", str(run), "--resume", "--set", "optim.lr=0.5"]) == 2
    assert (run / "config.yaml").read_text() == before
    assert main(["pretrain", "--out", str(run), "--resume", "--extend-steps", "4"]) == 0
    assert json.loads((run / "metrics.json").read_text())["steps"] == 4


@pytest.mark.parametrize("damage", ["truncate", "random bytes", "nan"])
def test_resume_falls_back_to_the_newest_good_checkpoint(fake_lfw, tmp_path, damage):
    from safetensors.torch import save_file

    from proxytask.checkpoint import checkpoint_problem

    run = tmp_path / "run"
    pretrain(tiny_config(fake_lfw, "train.max_steps=4"), run)  # checkpoints at steps 2 and 4 (the newest two kept)
    newest = run / "checkpoints" / "step-00000004" / "model.safetensors"
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[: len(data) // 2])
    elif damage == "random bytes":
        newest.write_bytes(data[:-200] + np.random.default_rng(0).bytes(200))
    else:
        weights = load_weights(newest)
        name = next(key for key, tensor in weights.items() if tensor.is_floating_point())
        weights[name] = torch.full_like(weights[name], float("nan"))
        save_file(weights, str(newest))
    assert checkpoint_problem(newest.parent) is not None
    assert latest_checkpoint(run / "checkpoints") == (2, run / "checkpoints" / "step-00000002")
    (run / "model.safetensors").unlink()
    pretrain(tiny_config(fake_lfw, "train.max_steps=6"), run, resume=True, extend_steps=True)
    assert json.loads((run / "metrics.json").read_text())["steps"] == 6


def test_a_loss_that_becomes_nan_stops_the_run_and_keeps_the_good_checkpoint(fake_lfw, tmp_path):
    from proxytask.checkpoint import checkpoint_problem
    from proxytask.train import TrainingDiverged

    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match=r"became nan by step \d"):
        pretrain(tiny_config(fake_lfw, "optim.optimizer=sgd", "optim.lr=1e30", "optim.warmup_steps=0"), run)
    assert not (run / "model.safetensors").exists()
    assert all(checkpoint_problem(folder) is None for folder in (run / "checkpoints").glob("step-*"))


def test_the_log_holds_every_named_loss_term(fake_lfw, tmp_path):
    from proxytask.runlog import read_log

    pretrain(tiny_config(fake_lfw, "train.max_steps=4"), tmp_path / "run")
    rows = read_log(tmp_path / "run" / "log.csv")
    header = (tmp_path / "run" / "log.csv").read_text().splitlines()[0]
    assert header == "step,epoch,loss,loss_chroma,loss_hue,lr,images_per_second"
    for row in rows:  # colorization's loss is its chroma term plus its weighted hue term
        assert row["loss"] == pytest.approx(row["loss_chroma"] + row["loss_hue"], abs=2e-6)
