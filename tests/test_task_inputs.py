"""The network input round-trips: every task pretrains on each input it accepts, saves it with the
run, and transfer reads the run's backbone through the very same conversion."""

import numpy as np
import pytest
import torch

from proxytask.config import ConfigError
from proxytask.inputs import NetworkInput
from proxytask.tasks import TASKS
from proxytask.train import pretrain
from proxytask.transfer.finetune import extract_features
from proxytask.transfer.inits import build_backbone, resolve_init
from tests.conftest import tiny_config

CASES = [(name, kind) for name, task in sorted(TASKS.items()) for kind in task.inputs]


@pytest.mark.parametrize("name, kind", CASES)
def test_input_round_trips_through_pretraining_and_transfer(fake_lfw, tmp_path, name, kind):
    run = tmp_path / "run"
    config = tiny_config(fake_lfw, f"task={name}", f"input={kind}", "train.max_steps=2", "data.image_size=36",
                         "data.crop_size=32", "supervised.min_images_per_identity=3")
    pretrain(config, run)
    saved = NetworkInput.load(run)
    assert saved == TASKS[name].input_for(kind) and saved.kind == kind
    init = resolve_init(str(run), "vgg_small")
    assert init.network_input == saved
    backbone = build_backbone(init)
    assert backbone.in_chans == saved.channels
    pixels = torch.randint(0, 256, (5, 36, 36, 3), dtype=torch.uint8)
    features = extract_features(init, pixels, 32, torch.device("cpu"))
    assert features.shape == (5, backbone.channels[-1]) and np.isfinite(features).all()


def test_jigsaw_transfers_on_standardized_images_as_it_pretrained_on_standardized_tiles():
    converted = TASKS["jigsaw"].input_for("intensity")(torch.rand(3, 3, 16, 16) * 0.2 + 0.5)
    assert converted.shape == (3, 1, 16, 16)
    torch.testing.assert_close(converted.flatten(1).mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(converted.flatten(1).std(1), torch.ones(3))


def test_a_task_given_an_input_it_cannot_read_fails_before_writing_anything(fake_lfw, tmp_path):
    with pytest.raises(ConfigError, match="task 'colorization' reads only intensity"):
        pretrain(tiny_config(fake_lfw, "input=rgb"), tmp_path / "run")
    assert not (tmp_path / "run").exists()
