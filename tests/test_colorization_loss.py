import math

import pytest
import torch

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.colorization import Colorization, ColorizationConfig, hue_chroma_loss, lightness_weight


def test_loss_matches_hand_computation():
    # One point, 2 bins. Uniform predictions: KL(t || u) = sum t log t + log 2.
    hue_logits = torch.zeros(1, 1, 2)
    chroma_logits = torch.zeros(1, 1, 2)
    hue_target = torch.tensor([[[1.0, 0.0]]])
    chroma_target = torch.tensor([[[0.25, 0.75]]])
    chroma_true = torch.tensor([[0.4]])
    weight = torch.tensor([[1.0]])
    kl_chroma = 0.25 * math.log(0.25) + 0.75 * math.log(0.75) + math.log(2)
    kl_hue = math.log(2)
    expected = kl_chroma + 5.0 * 0.4 * kl_hue
    terms = hue_chroma_loss(hue_logits, chroma_logits, hue_target, chroma_target, chroma_true, weight, hue_weight=5.0)
    got = terms["loss"]
    torch.testing.assert_close(terms["chroma"] + terms["hue"], got)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_hue_term_vanishes_without_chroma():
    logits = torch.randn(2, 3, 4)
    target = torch.softmax(torch.randn(2, 3, 4), -1)
    with_hue = hue_chroma_loss(logits, logits, target, target, torch.zeros(2, 3), torch.ones(2, 3), 5.0)["loss"]
    other_hue_logits = torch.randn(2, 3, 4)
    without = hue_chroma_loss(other_hue_logits, logits, target, target, torch.zeros(2, 3), torch.ones(2, 3), 5.0)["loss"]
    assert with_hue.item() == pytest.approx(without.item())


def test_lightness_weighting():
    values = lightness_weight(torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]))
    torch.testing.assert_close(values, torch.tensor([0.0, 0.3, 1.0, 0.3, 0.0]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("target", ["onehot", "window"])
def test_batch_targets_are_histograms_at_sampled_pixels(target):
    config = ColorizationConfig(samples_per_image=20, border=3, target=target, head_width=16)
    task = Colorization(Backbone("vgg_small", 1), "intensity", config)
    images = torch.zeros(2, 3, 16, 16)
    images[:, 0] = 1.0  # pure red: hue 0, chroma 1, intensity 1/3
    (gray, points), (hue_t, chroma_t, chroma_true, weight) = task.make_batch(images, BatchRandom(0, 0, 2))
    assert gray.shape == (2, 1, 16, 16) and points.shape == (2, 20, 2)
    # Points are pixel centers at least `border` pixels from the edge.
    pixel = ((points + 1) * 16 - 1) / 2
    assert pixel.min() >= 3 and pixel.max() <= 16 - 1 - 3
    torch.testing.assert_close(pixel, pixel.round())
    assert hue_t.shape == chroma_t.shape == (2, 20, 32)
    assert torch.all(hue_t[..., 0] == 1) and torch.all(chroma_t[..., 31] == 1)
    assert torch.all(chroma_true == 1) and torch.all(weight == 1)
    loss = task((gray, points), (hue_t, chroma_t, chroma_true, weight))["loss"]
    loss.backward()
    assert loss.item() > 0 and next(task.backbone.parameters()).grad.abs().sum() > 0


def test_constant_prediction_loss_is_the_floor_of_input_blind_predictors():
    torch.manual_seed(0)
    task = Colorization(Backbone("vgg_small", 1), "intensity", ColorizationConfig(samples_per_image=32, head_width=16)).eval()
    images = torch.rand(3, 3, 16, 16)
    losses = task.heldout_metrics(images)
    (gray, points), targets = task.make_batch(images, BatchRandom(0, 0, 3))
    for _ in range(3):  # any other constant histogram does worse
        other = [torch.randn(32).log_softmax(-1).expand(3, 32, 32) for _ in range(2)]
        assert hue_chroma_loss(*other, *targets, hue_weight=5.0)["loss"].item() > losses["heldout_loss_constant"]
    assert losses["heldout_loss"] > 0


def test_fast_dropout_keeps_units_with_probability_one_minus_p_and_rescales_them():
    from proxytask.models.dropout import FastDropout

    torch.manual_seed(0)
    dropout = FastDropout(0.3)
    out = dropout(torch.ones(200_000))
    kept = out > 0
    assert abs(kept.float().mean().item() - 0.7) < 0.005
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], 1 / 0.7))
    x = torch.randn(50, 8, requires_grad=True)
    dropped = dropout(x)
    dropped.sum().backward()
    scale = torch.where(dropped != 0, torch.tensor(1 / 0.7), torch.tensor(0.0))
    torch.testing.assert_close(x.grad, scale)  # gradient flows through the kept units only, rescaled
    assert torch.equal(dropout.eval()(x), x)
