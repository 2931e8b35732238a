"""The network input: what a task's backbone reads in pretraining is what transfer feeds it, unless
the task declares that it changes the pictures (``changes_pictures``), which is checked too (the
whole chain, pretraining to transfer, is in test_task_contract)."""

import pytest
import torch

from proxytask.config import ConfigError, apply_overrides
from proxytask.data.batches import BatchRandom
from proxytask.inputs import NetworkInput
from proxytask.runs import PretrainConfig
from proxytask.tasks import TASKS, build_task
from proxytask.train import pretrain
from tests.conftest import tiny_config

CASES = [(name, kind) for name, task in sorted(TASKS.items()) for kind in task.inputs]


def backbone_inputs(task, images, labels=None):
    """What the task's backbone reads in a training step on ``images`` (B, 3, H, W)."""
    seen = []
    hook = task.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    inputs, targets = task.make_batch(images, BatchRandom(0, 0, images.shape[0]), labels)
    task(inputs, targets)
    hook.remove()
    return seen[0]


@pytest.mark.parametrize("name, kind", CASES)
def test_pretraining_feeds_the_backbone_what_transfer_feeds_it_unless_the_task_says_it_changes_pictures(name, kind):
    task = build_task(apply_overrides(PretrainConfig(), [f"task={name}", f"input={kind}"]), num_classes=3)
    images = torch.rand(2, 3, 36, 36)
    seen = backbone_inputs(task, images, torch.tensor([0, 2]))
    transfer_input = NetworkInput.load_from(task.network_input.as_dict())(images)
    same = seen.shape[1:] == transfer_input.shape[1:] and torch.allclose(seen[:2], transfer_input)
    assert same != task.changes_pictures  # rotation: the first copies are the unrotated images


@pytest.mark.parametrize("kind", ["intensity", "rgb"])
def test_jigsaw_standardizes_each_tile_in_pretraining_and_each_image_in_transfer(kind):
    task = build_task(apply_overrides(PretrainConfig(), ["task=jigsaw", f"input={kind}", "jigsaw.permutations=5"]))
    tiles = backbone_inputs(task, torch.rand(2, 3, 30, 30) * 0.3 + 0.4)
    assert tiles.shape[1] == task.network_input.channels
    torch.testing.assert_close(tiles.flatten(1).mean(1), torch.zeros(len(tiles)), atol=1e-5, rtol=0)
    torch.testing.assert_close(tiles.flatten(1).std(1), torch.ones(len(tiles)))
    whole = task.network_input(torch.rand(3, 3, 16, 16) * 0.2 + 0.5)
    torch.testing.assert_close(whole.flatten(1).std(1), torch.ones(3))


def test_a_task_given_an_input_it_cannot_read_fails_before_writing_anything(fake_lfw, tmp_path):
    with pytest.raises(ConfigError, match="task 'colorization' reads only intensity"):
        pretrain(tiny_config(fake_lfw, "input=rgb"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
