"""Random init: weights drawn from its seed on every draw, and the random state it leaves behind the
same as a pretrained init's, so that the head and the batches follow the draw."""

import torch

from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.transfer.inits import RandomInit, random_init_name, random_inits, resolve_init


def weights(backbone):
    return torch.cat([value.flatten().float() for value in backbone.state_dict().values()])


def test_random_weights_follow_the_seed_and_the_random_state_follows_the_draw():
    init = RandomInit("random", "vgg_small", NetworkInput(), seed=1)
    first, second = init.backbone(draw_seed=0), init.backbone(draw_seed=5)
    assert torch.equal(weights(first), weights(second))  # the same weights on every draw
    torch.manual_seed(1)
    assert torch.equal(weights(first), weights(Backbone("vgg_small", 1)))  # drawn from the init's seed
    assert not torch.equal(weights(first), weights(RandomInit("random", "vgg_small", NetworkInput(), seed=0).backbone(0)))
    init.backbone(draw_seed=5)
    after_random = torch.get_rng_state()
    torch.manual_seed(5)
    Backbone("vgg_small", 1)  # what a pretrained init does before loading its weights
    assert torch.equal(after_random, torch.get_rng_state())


def test_seed_zero_draws_the_weights_the_previous_protocol_drew_on_draw_zero():
    torch.manual_seed(0)
    before = Backbone("vgg_small", 1)  # protocol 2: weights from the draw's fine-tuning seed (0 on draw 0)
    assert torch.equal(weights(before), weights(RandomInit("random", "vgg_small", NetworkInput(), seed=0).backbone(0)))


def test_random_inits_are_named_by_their_input_conversion():
    assert random_init_name(NetworkInput("intensity", "standardize"), "intensity") == "random-standardized"
    assert random_init_name(NetworkInput("rgb"), "intensity") == "random-rgb"
    assert set(random_inits("intensity")) >= {"random", "random-rgb", "random-standardized", "random-rgb-standardized", "random-intensity"}
    assert resolve_init("random-standardized", "vgg_small").network_input == NetworkInput("intensity", "standardize")
