import numpy as np
import pytest
import torch

from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.transfer.feature_change import feature_change, linear_cka, relative_weight_change, stage_of_modules


def test_linear_cka_is_one_under_rotation_and_scale_and_low_for_unrelated():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 10, generator=generator)
    rotation, _ = torch.linalg.qr(torch.randn(10, 10, generator=generator))
    assert linear_cka(x, 3.0 * x @ rotation + 1.0) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, torch.randn(200, 10, generator=generator)) < 0.2
    # Keeping half the directions: CKA strictly between the two.
    assert 0.3 < linear_cka(x, x[:, :5]) < 0.95


def test_linear_cka_needs_the_same_examples():
    with pytest.raises(ValueError, match="same n"):
        linear_cka(torch.randn(5, 3), torch.randn(6, 3))


@pytest.mark.parametrize("name", ["vgg_small", "resnet18"])
def test_every_parameter_belongs_to_a_stage_in_order(name):
    backbone = Backbone(name, 1)
    stages = stage_of_modules(backbone)
    order = [stages[n.split(".")[0]] for n, _ in backbone.body.named_parameters()]
    assert order == sorted(order) and set(order) == set(range(len(backbone.channels)))


def test_only_the_changed_stage_moves():
    torch.manual_seed(0)
    start = Backbone("vgg_small", 1)
    tuned = Backbone("vgg_small", 1)
    tuned.load_state_dict(start.state_dict())
    stages = stage_of_modules(start)
    with torch.no_grad():
        for name, parameter in tuned.body.named_parameters():
            if stages[name.split(".")[0]] == 2 and parameter.dim() == 4:
                parameter.mul_(1.5)  # conv weights of stage 3 up by half
    change = relative_weight_change(start, tuned)
    assert change[0] == change[1] == change[3] == 0.0
    assert 0.3 < change[2] <= 0.5
    pixels = torch.randint(0, 256, (12, 20, 20, 3), dtype=torch.uint8)
    result = feature_change(start, tuned, NetworkInput("intensity"), pixels, np.arange(12), 16, torch.device("cpu"))
    assert result["cka"][0] == pytest.approx(1.0) and result["cka"][1] == pytest.approx(1.0)
    assert result["weight_change"] == change
