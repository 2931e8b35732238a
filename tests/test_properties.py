"""Property-based tests (hypothesis): color conversions, binning and decoding round trips on arbitrary inputs."""

import math

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from proxytask import color

unit = st.floats(0.0, 1.0, allow_nan=False)
pixels = st.tuples(unit, unit, unit)


@settings(max_examples=200, deadline=None)
@given(pixels)
def test_hue_chroma_and_back_keeps_any_color(rgb):
    """RGB -> (hue, chroma, intensity) -> RGB is the identity wherever the color lies in the RGB cube."""
    image = torch.tensor(rgb, dtype=torch.float64).view(1, 3, 1, 1)
    hue, chroma = color.hue_chroma(image)
    back = color.rgb_from_hue_chroma(hue, chroma, color.intensity(image)[:, 0])
    assert 0.0 <= float(hue) < 1.0 and 0.0 <= float(chroma) <= 1.0
    assert float(chroma) == max(rgb) - min(rgb)
    assert torch.allclose(back, image, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(st.lists(unit, min_size=1, max_size=50), st.integers(2, 64))
def test_quantize_puts_every_value_in_its_bin(values, bins):
    index = color.quantize(torch.tensor(values, dtype=torch.float64), bins)
    centers = color.bin_centers(bins).double()
    for value, k in zip(values, index.tolist()):
        assert 0 <= k < bins
        assert abs(value - float(centers[k])) <= 0.5 / bins + 1e-6  # the value lies in its bin (float32 centers)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 31), st.integers(2, 32))
def test_a_one_hot_histogram_decodes_to_its_bin_center(k, bins):
    k = k % bins
    probs = torch.zeros(1, bins, dtype=torch.float64)
    probs[0, k] = 1.0
    median = float(color.histogram_median(probs))
    assert k / bins - 1e-9 <= median <= (k + 1) / bins + 1e-9  # the median lies in the one full bin
    hue, confidence = color.hue_circular_mean(probs)
    center = (k + 0.5) / bins
    assert min(abs(float(hue) - center), 1 - abs(float(hue) - center)) < 1e-6 and math.isclose(float(confidence), 1.0, abs_tol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3).map(lambda r: 2 * r + 1), st.integers(0, 2**31 - 1))
def test_window_histograms_are_distributions_whatever_the_weights(window, seed):
    generator = torch.Generator().manual_seed(seed)
    bins, size = 8, 9
    index = torch.randint(bins, (2, size, size), generator=generator)
    weights = torch.rand(2, size, size, generator=generator) * (torch.rand(2, size, size, generator=generator) > 0.5)
    rows, cols = torch.randint(size, (2, 5), generator=generator), torch.randint(size, (2, 5), generator=generator)
    histograms = color.point_histograms(index, rows, cols, bins, window, weights)
    assert torch.allclose(histograms.sum(-1), torch.ones(2, 5)) and (histograms >= 0).all()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 24), st.integers(1, 24), st.integers(0, 2**31 - 1), st.sampled_from(["RGB", "L", "RGBA", "P"]))
def test_lossless_files_decode_to_their_pixels(height, width, seed, mode):
    """A PNG of any size and mode decodes (converted to RGB as the project does) to exactly its pixels."""
    import io

    import numpy as np
    from PIL import Image

    from proxytask.data.images import decode_image

    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    picture = Image.fromarray(rgb).convert(mode) if mode != "RGBA" else Image.fromarray(np.dstack([rgb, np.full((height, width), 255, np.uint8)]))
    data = io.BytesIO()
    picture.save(data, format="PNG")
    decoded = decode_image(None, data=data.getvalue()).pixels
    expected = np.asarray(picture.convert("RGB"))
    assert decoded.shape == (height, width, 3) and np.array_equal(decoded, expected)
