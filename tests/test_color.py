import math

import pytest
import torch

from proxytask import color


def rgb(*values: float) -> torch.Tensor:
    """One pixel as a (1, 3, 1, 1) image."""
    return torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1)


@pytest.mark.parametrize("pixel, hue, chroma", [
    ((1.0, 0.0, 0.0), 0.0, 1.0),
    ((0.0, 1.0, 0.0), 1 / 3, 1.0),
    ((0.0, 0.0, 1.0), 2 / 3, 1.0),
    ((1.0, 1.0, 0.0), 1 / 6, 1.0),
    ((0.0, 1.0, 1.0), 1 / 2, 1.0),
    ((1.0, 0.0, 1.0), 5 / 6, 1.0),
    ((0.6, 0.4, 0.2), 1 / 12, 0.4),
    ((0.0, 0.0, 0.0), 0.0, 0.0),
    ((1.0, 1.0, 1.0), 0.0, 0.0),
    ((0.5, 0.5, 0.5), 0.0, 0.0),
])
def test_hue_chroma_of_known_colors(pixel, hue, chroma):
    got_hue, got_chroma = color.hue_chroma(rgb(*pixel))
    assert got_hue.item() == pytest.approx(hue, abs=1e-5)
    assert got_chroma.item() == pytest.approx(chroma, abs=1e-6)


def test_intensity_is_mean_of_rgb():
    assert color.intensity(rgb(0.9, 0.3, 0.0)).item() == pytest.approx(0.4)


def test_hue_wraps_around_red():
    just_below_red, _ = color.hue_chroma(rgb(1.0, 0.0, 0.02))
    just_above_red, _ = color.hue_chroma(rgb(1.0, 0.02, 0.0))
    assert 0.99 < just_below_red.item() < 1.0
    assert 0.0 < just_above_red.item() < 0.01
    assert color.quantize(just_below_red, 32).item() == 31
    assert color.quantize(just_above_red, 32).item() == 0


def test_quantize_edges():
    values = torch.tensor([0.0, 1 / 32 - 1e-6, 1 / 32, 0.5, 1.0 - 1e-6, 1.0])
    assert color.quantize(values, 32).tolist() == [0, 0, 1, 16, 31, 31]


def test_rebuild_from_hue_chroma_and_intensity_round_trips():
    torch.manual_seed(0)
    images = torch.rand(4, 3, 8, 8)
    images[0, :, 0, 0] = torch.tensor([0.0, 0.0, 0.0])
    images[0, :, 0, 1] = torch.tensor([1.0, 1.0, 1.0])
    images[0, :, 0, 2] = torch.tensor([1.0, 0.0, 0.0])
    hue, chroma = color.hue_chroma(images)
    rebuilt = color.rgb_from_hue_chroma(hue, chroma, color.intensity(images)[:, 0])
    torch.testing.assert_close(rebuilt, images, atol=1e-5, rtol=0)


def test_histogram_median_of_one_hot_is_bin_center_and_of_uniform_is_half():
    one_hot = torch.zeros(32)
    one_hot[5] = 1.0
    assert color.histogram_median(one_hot).item() == pytest.approx(5.5 / 32)
    assert color.histogram_median(torch.full((32,), 1 / 32)).item() == pytest.approx(0.5)


def test_circular_mean_wraps_and_measures_confidence():
    probs = torch.zeros(32)
    probs[0] = probs[31] = 0.5
    hue, confidence = color.hue_circular_mean(probs)
    assert min(hue.item(), 1 - hue.item()) < 1e-5
    assert confidence.item() == pytest.approx(math.cos(math.pi / 32), abs=1e-5)
    opposite = torch.zeros(32)
    opposite[0] = opposite[16] = 0.5
    assert color.hue_circular_mean(opposite)[1].item() < 1e-5


def test_chromatic_fading_grays_out_uncertain_hue():
    chroma_probs = torch.zeros(32)
    chroma_probs[10] = 1.0
    certain = torch.zeros(32)
    certain[3] = 1.0
    _, sure_chroma = color.decode_hue_chroma(certain, chroma_probs)
    _, faded_chroma = color.decode_hue_chroma(torch.full((32,), 1 / 32), chroma_probs)
    assert sure_chroma.item() == pytest.approx(10.5 / 32)
    assert faded_chroma.item() == pytest.approx(0.0, abs=1e-4)


def test_point_histograms_count_only_inside_pixels():
    bins = torch.zeros(1, 5, 5, dtype=torch.long)
    bins[0, 0, 0] = 3
    rows, cols = torch.tensor([[0, 1, 3]]), torch.tensor([[0, 1, 3]])
    hist = color.point_histograms(bins, rows, cols, 4, 3)
    torch.testing.assert_close(hist.sum(-1), torch.ones(1, 3))
    assert hist[0, 0, 3].item() == pytest.approx(1 / 4)  # the corner window holds 2x2 pixels
    assert hist[0, 1, 3].item() == pytest.approx(1 / 9)
    assert hist[0, 2, 3].item() == 0.0


@pytest.mark.parametrize("window", [1, 3, 7])
def test_point_histograms_equal_dense_window_average(window):
    torch.manual_seed(window)
    bins = torch.randint(0, 8, (2, 12, 10))
    rows, cols = torch.randint(0, 12, (2, 30)), torch.randint(0, 10, (2, 30))
    one_hot = torch.nn.functional.one_hot(bins, 8).permute(0, 3, 1, 2).float()
    dense = torch.nn.functional.avg_pool2d(one_hot, window, 1, window // 2, count_include_pad=False)
    expected = torch.stack([dense[b, :, rows[b], cols[b]].T for b in range(2)])
    torch.testing.assert_close(color.point_histograms(bins, rows, cols, 8, window), expected)


def test_psnr_of_known_error():
    target = torch.zeros(1, 3, 4, 4)
    assert color.psnr(target + 0.1, target).item() == pytest.approx(20.0, abs=1e-4)


def test_hue_votes_are_weighted_by_chroma_so_gray_neighbours_vote_for_no_hue():
    # A saturated cyan pixel in a 7x7 window of gray pixels: gray has hue 0 (red's bin), but no chroma.
    rgb = torch.full((1, 3, 9, 9), 0.5)
    rgb[0, :, 4, 4] = torch.tensor([0.0, 1.0, 1.0])
    hue, chroma = color.hue_chroma(rgb)
    bins = color.quantize(hue, 32)
    centre = torch.tensor([[4]])
    weighted = color.point_histograms(bins, centre, centre, 32, 7, weights=chroma)
    cyan_bin = int(bins[0, 4, 4])
    assert cyan_bin == 16  # hue 0.5
    assert weighted[0, 0, cyan_bin].item() == pytest.approx(1.0)
    unweighted = color.point_histograms(bins, centre, centre, 32, 7)
    assert unweighted[0, 0, 0].item() == pytest.approx(48 / 49)  # what a full vote of every gray neighbour gave


def test_a_window_without_any_hue_vote_is_uniform():
    bins = torch.zeros(1, 5, 5, dtype=torch.long)
    hist = color.point_histograms(bins, torch.tensor([[2]]), torch.tensor([[2]]), 8, 3, weights=torch.zeros(1, 5, 5))
    torch.testing.assert_close(hist, torch.full((1, 1, 8), 1 / 8))
