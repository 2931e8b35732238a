import numpy as np
import pytest
import torch

from proxytask.data.batches import BatchRandom, StepSampler, center_crop, random_crop_flip


def test_ranks_together_draw_what_one_process_draws():
    whole = BatchRandom(seed=3, step=7, global_size=6).rand(5)
    parts = [BatchRandom(seed=3, step=7, global_size=6, rank=r, world_size=2).rand(5) for r in range(2)]
    torch.testing.assert_close(parts[0], whole[0::2])
    torch.testing.assert_close(parts[1], whole[1::2])


def test_step_sampler_ranks_partition_the_global_batch():
    single = StepSampler(20, 8, seed=1)
    ranks = [StepSampler(20, 8, seed=1, rank=r, world_size=2) for r in range(2)]
    for (step, whole), (_, a), (_, b) in zip(single.batches(0), ranks[0].batches(0), ranks[1].batches(0)):
        assert sorted(whole.tolist()) == sorted(a.tolist() + b.tolist())
        # rank r's t-th image is the global image t * world + r, as BatchRandom assumes
        assert whole[0::2].tolist() == a.tolist() and whole[1::2].tolist() == b.tolist()
        if step == 5:
            break


def test_step_sampler_covers_an_epoch_without_repeats_and_resumes_mid_epoch():
    sampler = StepSampler(10, 3, seed=0)
    assert sampler.steps_per_epoch == 3
    batches = [rows for _, (_, rows) in zip(range(6), sampler.batches(0))]
    assert len(set(np.concatenate(batches[:3]).tolist())) == 9
    resumed = [rows for _, (_, rows) in zip(range(2), sampler.batches(4))]
    assert [r.tolist() for r in resumed] == [r.tolist() for r in batches[4:6]]


def test_step_sampler_errors():
    with pytest.raises(ValueError, match="divisible"):
        StepSampler(10, 3, seed=0, world_size=2)
    with pytest.raises(ValueError, match="fewer than one batch"):
        StepSampler(2, 4, seed=0)


def test_crop_and_flip_take_real_windows_and_flip_about_half():
    images = torch.arange(64 * 6 * 6 * 3).view(64, 6, 6, 3)
    crops = random_crop_flip(images, 4, BatchRandom(0, 0, 64))
    assert crops.shape == (64, 4, 4, 3)
    flipped = 0
    for image, crop in zip(images, crops):
        windows = [image[t:t + 4, left:left + 4] for t in range(3) for left in range(3)]
        plain = any(torch.equal(crop, w) for w in windows)
        mirrored = any(torch.equal(crop, w.flip(1)) for w in windows)
        assert plain or mirrored
        flipped += mirrored
    assert 16 < flipped < 48
    assert torch.equal(center_crop(images.permute(0, 3, 1, 2), 4), images.permute(0, 3, 1, 2)[..., 1:5, 1:5])
