import pytest
import torch

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.models.decoder import LightDecoder
from proxytask.tasks.denoising import Denoising, DenoisingConfig
from proxytask.tasks.inpainting import Inpainting, InpaintingConfig


def test_decoder_returns_to_image_resolution():
    assert LightDecoder(256, 8)(torch.rand(2, 256, 4, 4)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="power-of-two"):
        LightDecoder(64, 6)


@pytest.mark.parametrize("cell", [1, 4])
def test_denoising_masks_the_stated_fraction_and_targets_are_clean(cell):
    task = Denoising(Backbone("vgg_small", 3), "rgb", DenoisingConfig(mask_fraction=0.3, mask_cell=cell))
    images = torch.rand(8, 3, 32, 32) * 0.9 + 0.05  # no pixel is zero before masking
    inputs, (clean, weights) = task.make_batch(images, BatchRandom(0, 0, 8))
    zeroed = (inputs == -1.0).all(dim=1)
    assert abs(zeroed.float().mean().item() - 0.3) < 0.05
    torch.testing.assert_close(clean, images * 2 - 1)
    assert torch.all(weights == 1)
    unmasked = ~zeroed.unsqueeze(1).expand_as(inputs)
    torch.testing.assert_close(inputs[unmasked], clean[unmasked])


def test_gaussian_corruption_keeps_the_target_clean():
    task = Denoising(Backbone("vgg_small", 3), "rgb", DenoisingConfig(mask_fraction=0.0, gaussian_std=0.1))
    images = torch.full((2, 3, 16, 16), 0.5)
    inputs, (clean, _) = task.make_batch(images, BatchRandom(0, 0, 2))
    assert 0.15 < ((inputs + 1) / 2 - images).std().item() * 2 < 0.25
    assert torch.all(clean == 0.0)


@pytest.mark.parametrize("region", ["center", "random"])
def test_inpainting_hides_about_a_quarter_and_counts_only_hidden_pixels(region):
    task = Inpainting(Backbone("vgg_small", 3), "rgb", InpaintingConfig(region=region, fraction=0.25, block=4))
    images = torch.rand(16, 3, 32, 32)
    inputs, (clean, hidden) = task.make_batch(images, BatchRandom(0, 0, 16))
    share = hidden.mean().item()
    assert abs(share - 0.25) < (0.001 if region == "center" else 0.05)
    assert torch.all(inputs[hidden.expand_as(inputs) == 1] == 0.0)  # mid-gray
    visible = hidden.expand_as(inputs) == 0
    torch.testing.assert_close(inputs[visible], clean[visible])
    if region == "center":
        assert hidden[0, 0, 16, 16] == 1 and hidden[0, 0, 0, 0] == 0


def test_reconstruction_loss_counts_only_weighted_pixels_and_trains():
    task = Inpainting(Backbone("vgg_small", 3), "rgb", InpaintingConfig())
    inputs, targets = task.make_batch(torch.rand(2, 3, 16, 16), BatchRandom(0, 0, 2))
    clean, hidden = targets
    changed_outside = clean + (1 - hidden) * 5.0  # a different target outside the hidden square
    assert task(inputs, targets)["loss"].item() == pytest.approx(task(inputs, (changed_outside, hidden))["loss"].item(), rel=1e-5)
    task(inputs, targets)["loss"].backward()
    assert next(task.backbone.parameters()).grad.abs().sum() > 0
    images = torch.rand(2, 3, 16, 16)
    panels, metrics = task.eval().visualize(images)
    assert [p[0] for p in panels] == ["corrupted", "reconstructed", "clean"] and "psnr_reconstructed" in metrics
    assert "the input elsewhere" in task.gallery_legend  # the caption says what the panel shows
    corrupted, shown = panels[0][1], panels[1][1]
    context = hidden[:1].expand_as(shown) == 0  # the same central square in every image
    assert torch.equal(shown[context], corrupted[context])  # the context is shown as given, not as decoded


def test_reconstruction_fits_sizes_that_are_not_multiples_of_the_stride():
    task = Denoising(Backbone("vgg_small", 3), "rgb", DenoisingConfig())
    inputs, targets = task.make_batch(torch.rand(2, 3, 28, 28), BatchRandom(0, 0, 2))
    assert task.reconstruct(inputs).shape == (2, 3, 28, 28)
    assert torch.isfinite(task(inputs, targets)["loss"])
