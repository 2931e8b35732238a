"""The network input: what a task's backbone reads in pretraining is what transfer feeds it (the
whole chain, pretraining to transfer, is in test_task_contract)."""

import pytest
import torch

from proxytask.config import ConfigError, PretrainConfig, apply_overrides
from proxytask.data.batches import BatchRandom
from proxytask.inputs import NetworkInput
from proxytask.tasks import TASKS, build_task
from proxytask.train import pretrain
from tests.conftest import tiny_config

CASES = [(name, kind) for name, task in sorted(TASKS.items()) for kind in task.inputs]
# Tasks whose backbone reads a changed image (tiles, corruptions, views, hidden patches), not the picture as transfer reads it.
TRANSFORMED = ("jigsaw", "denoising", "inpainting", "contrastive", "masked-autoencoding")


def backbone_inputs(task, images, labels=None):
    """What the task's backbone reads in a training step on ``images`` (B, 3, H, W)."""
    seen = []
    hook = task.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    inputs, targets = task.make_batch(images, BatchRandom(0, 0, images.shape[0]), labels)
    task(inputs, targets)
    hook.remove()
    return seen[0]


@pytest.mark.parametrize("name, kind", [case for case in CASES if case[0] not in TRANSFORMED])
def test_pretraining_feeds_the_backbone_what_transfer_feeds_it(name, kind):
    config = apply_overrides(PretrainConfig(), [f"task={name}", f"input={kind}", "colorization.head_width=16",
                                                "colorization.samples_per_image=4", "colorization.border=1"])
    task = build_task(config, num_classes=3)
    images = torch.rand(2, 3, 16, 16)
    seen = backbone_inputs(task, images, torch.tensor([0, 2]))
    transfer_input = NetworkInput.load_from(task.network_input.as_dict())(images)
    torch.testing.assert_close(seen[:2], transfer_input)  # rotation: the first copies are the unrotated images


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
