import pytest
import torch

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.masked_autoencoding import (
    MaskedAutoencoding,
    MaskedAutoencodingConfig,
    hidden_patches,
    patchify,
    standardize_patches,
    unpatchify,
)


def make_task(backbone="vgg_small", **settings):
    torch.manual_seed(0)
    return MaskedAutoencoding(Backbone(backbone, 1), "intensity", MaskedAutoencodingConfig(decoder_width=16, **settings))


def test_the_share_of_hidden_patches_is_exact_per_image():
    hidden = hidden_patches(5, 7, 7, 0.6, BatchRandom(0, 0, 5))
    assert hidden.shape == (5, 7, 7) and (hidden.flatten(1).sum(1) == round(0.6 * 49)).all()


def test_patches_round_trip_and_standardize():
    images = torch.rand(2, 3, 16, 24)
    patches = patchify(images, 8)
    assert patches.shape == (2, 2, 3, 3 * 64)
    torch.testing.assert_close(unpatchify(patches, 8, 3), images)
    normalized, _, _ = standardize_patches(patches)
    torch.testing.assert_close(normalized.mean(-1), torch.zeros(2, 2, 3), atol=1e-5, rtol=0)


@pytest.mark.parametrize("backbone", ["vgg_small", "resnet18"])
@pytest.mark.parametrize("training", [True, False])
def test_the_encoder_never_reads_hidden_pixels(backbone, training):
    task = make_task(backbone)
    task.train(training)
    inputs, (_, hidden) = task.make_batch(torch.rand(4, 3, 64, 64), BatchRandom(0, 1, 4))
    noisy = inputs + (1.0 - task.pixel_visibility(hidden, inputs)) * torch.randn_like(inputs)
    visible = task.pixel_visibility(hidden, inputs)
    with task.encoding.active(visible):
        clean_levels = task.backbone(inputs)
    with task.encoding.active(visible):
        noisy_levels = task.backbone(noisy)
    for a, b in zip(clean_levels, noisy_levels):
        torch.testing.assert_close(a, b)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in task.backbone.modules())  # plain again outside


@pytest.mark.parametrize("size", [32, 28])
def test_hidden_positions_stay_zero_at_every_level_and_line_up_with_the_patches(size):
    task = make_task()
    inputs, (_, hidden) = task.make_batch(torch.rand(4, 3, size, size), BatchRandom(0, 1, 4))
    visible = task.pixel_visibility(hidden, inputs)
    seen = []
    conv = next(m for m in task.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    with task.encoding.active(visible):
        levels = task.backbone(inputs)
    torch.testing.assert_close(seen[0], inputs * visible)  # the first convolution reads every visible pixel, no hidden one
    for level in levels:
        stride = size // level.shape[-1]
        centres = visible[..., stride // 2::stride, stride // 2::stride][..., :level.shape[-2], :level.shape[-1]]
        assert (level * (1 - centres)).abs().max() == 0  # batch-norm shifts and conv biases do not leak into hidden cells


def test_batch_norm_statistics_come_from_visible_positions_only():
    task = make_task()
    norm = next(m for m in task.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d))
    seen = []
    conv = next(m for m in task.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda module, args, output: seen.append(output.detach()))
    inputs, (_, hidden) = task.make_batch(torch.rand(4, 3, 32, 32), BatchRandom(0, 1, 4))
    before = norm.running_mean.clone()
    with task.encoding.active(task.pixel_visibility(hidden, inputs)):
        task.backbone(inputs)
    rows = task.pixel_visibility(hidden, inputs)[:, 0].bool()
    visible_mean = seen[0].permute(0, 2, 3, 1)[rows].mean(0)
    torch.testing.assert_close(norm.running_mean, 0.9 * before + 0.1 * visible_mean)


def test_the_loss_counts_hidden_patches_only():
    task = make_task()
    inputs, (clean, hidden) = task.make_batch(torch.rand(2, 3, 32, 32), BatchRandom(0, 1, 2))
    changed = clean + torch.randn_like(clean) * task.pixel_visibility(hidden, clean)  # targets moved where visible only
    torch.testing.assert_close(task(inputs, (clean, hidden))["loss"], task(inputs, (changed, hidden))["loss"])
    moved = clean + torch.randn_like(clean) * (1.0 - task.pixel_visibility(hidden, clean))
    assert not torch.isclose(task(inputs, (clean, hidden))["loss"], task(inputs, (moved, hidden))["loss"])


def test_sides_that_are_not_a_multiple_of_the_stride_leave_the_remainder_visible():
    task = make_task()
    inputs, (clean, hidden) = task.make_batch(torch.rand(2, 3, 28, 28), BatchRandom(0, 1, 2))
    assert hidden.shape == (2, 3, 3)
    assert (task.pixel_visibility(hidden, clean)[..., 24:, :] == 1).all()
    assert torch.isfinite(task(inputs, (clean, hidden))["loss"])


def test_a_crop_too_small_for_two_patches_is_refused_naming_the_settings():
    from proxytask.config import ConfigError, apply_overrides
    from proxytask.runs import PretrainConfig
    from proxytask.tasks import task_input

    config = apply_overrides(PretrainConfig(), ["task=masked-autoencoding", "model.backbone=resnet18"])
    with pytest.raises(ConfigError, match="data.crop_size=56 holds 1 whole one"):
        task_input(config)
    task_input(apply_overrides(config, ["data.image_size=80", "data.crop_size=64"]))


def test_a_backbone_with_other_normalization_needs_the_dense_encoder():
    from proxytask.config import ConfigError

    with pytest.raises(ConfigError, match="sparse_encoder=false"):
        make_task("efficientnet_b0")
    MaskedAutoencoding(Backbone("efficientnet_b0", 1), "intensity", MaskedAutoencodingConfig(sparse_encoder=False))
