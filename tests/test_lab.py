import kornia.color
import pytest
import torch

from proxytask import lab
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.colorization import ColorizationConfig
from proxytask.tasks.colorization_lab import LabBinsColorization, LabConfig, LabRegressionColorization


def test_bins_are_in_gamut_grid_cells():
    centers = lab.in_gamut_ab_bins()
    assert centers.shape == (261, 2)  # Zhang et al. release 313; see lab.in_gamut_ab_bins
    assert torch.all(centers % 10 == 0) and centers.abs().max() <= 110
    # every cell holds some sRGB color: check a few extremes hit by pure primaries
    primaries = torch.eye(3).view(3, 3, 1, 1)
    ab = lab.rgb_to_ab(primaries).reshape(-1, 2)
    nearest = torch.cdist(ab, centers).min(1).values
    assert torch.all(nearest <= 5 * 2**0.5 + 1e-4)
    # and a color far outside sRGB has no bin near it
    assert torch.cdist(torch.tensor([[100.0, 100.0]]), centers).min() > 20


def test_soft_encoding_sums_to_one_on_five_nearest():
    centers = lab.in_gamut_ab_bins()
    encoded = lab.soft_encode(torch.tensor([[3.0, -2.0], [40.0, 20.0]]), centers)
    torch.testing.assert_close(encoded.sum(-1), torch.ones(2))
    assert (encoded > 0).sum(-1).tolist() == [5, 5]
    assert centers[encoded[0].argmax()].tolist() == [0.0, 0.0]


def test_rebalancing_weights_have_mean_one_under_the_prior_and_favour_rare_bins():
    centers = lab.in_gamut_ab_bins()
    prior = torch.rand(len(centers)) ** 4
    prior = prior / prior.sum()
    weights = lab.rebalancing_weights(prior, centers, rebalance=0.5)
    assert (prior * weights).sum().item() == pytest.approx(1.0, abs=1e-5)
    uniform = lab.rebalancing_weights(torch.full((len(centers),), 1 / len(centers)), centers)
    assert uniform.std() < weights.std()


def test_annealed_mean_of_one_hot_is_its_center_and_sharpens_towards_the_mode():
    centers = lab.in_gamut_ab_bins()
    probs = torch.zeros(len(centers))
    probs[10] = 1.0
    torch.testing.assert_close(lab.annealed_mean(probs, centers), centers[10])
    mixed = torch.zeros(len(centers))
    mixed[10], mixed[200] = 0.6, 0.4
    mean = probs @ centers * 0.6 + centers[200] * 0.4
    annealed = lab.annealed_mean(mixed, centers, 0.38)
    assert (annealed - centers[10]).norm() < (mean - centers[10]).norm()


def test_lab_rgb_keeps_a_colors_lightness():
    rgb = torch.tensor([0.8, 0.5, 0.3]).view(1, 3, 1, 1)
    ab = lab.rgb_to_ab(rgb)
    lightness_gray = torch.full((1, 1, 1, 1), 0.5)
    rebuilt = lab.lab_rgb(lightness_gray, ab)
    l_rebuilt = kornia.color.rgb_to_lab(rebuilt)[:, 0]
    l_gray = kornia.color.rgb_to_lab(lightness_gray.expand(-1, 3, -1, -1))[:, 0]
    torch.testing.assert_close(l_rebuilt, l_gray, atol=0.5, rtol=0)


@pytest.mark.parametrize("task_class", [LabBinsColorization, LabRegressionColorization])
def test_lab_tasks_train_and_colorize(task_class):
    config = ColorizationConfig(samples_per_image=16, head_width=32, border=2)
    extra = (LabConfig(),) if task_class is LabBinsColorization else ()
    task = task_class(Backbone("vgg_small", 1), "intensity", config, *extra)
    inputs, targets = task.make_batch(torch.rand(2, 3, 16, 16), BatchRandom(0, 0, 2))
    loss = task(inputs, targets)["loss"]
    loss.backward()
    assert loss.item() > 0 and next(task.backbone.parameters()).grad.abs().sum() > 0
    panels, metrics = task.eval().visualize(torch.rand(2, 3, 16, 16))
    assert panels[1][1].shape == (2, 3, 16, 16) and metrics["psnr_colorized"] > 0
