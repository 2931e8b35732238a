import torch

from proxytask.models.hypercolumn import dense_points, pixel_points, sample_hypercolumns


def test_values_exact_at_pixel_centers_in_every_level():
    full = torch.arange(64, dtype=torch.float32).view(1, 1, 8, 8)
    half = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4) * 10
    rows = torch.tensor([[0, 3, 5]])
    cols = torch.tensor([[0, 4, 7]])
    columns = sample_hypercolumns([full, half], pixel_points(rows, cols, 8, 8))
    assert columns.shape == (1, 3, 2)
    assert columns[0, :, 0].tolist() == [0.0, 3 * 8 + 4, 5 * 8 + 7]


def test_half_stride_level_is_bilinear_between_neighbours():
    # Pixel (1, 1) of an 8x8 image sits at (0.25, 0.25) of a 4x4 map: weights 9/16, 3/16, 3/16, 1/16.
    half = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    value = sample_hypercolumns([half], pixel_points(torch.tensor([[1]]), torch.tensor([[1]]), 8, 8))
    expected = (0 * 9 + 1 * 3 + 4 * 3 + 5 * 1) / 16
    assert abs(value.item() - expected) < 1e-6


def test_half_integer_points_average_their_neighbours():
    level = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
    x = (2 * 1.5 + 1) / 4 - 1  # between columns 1 and 2
    y = (2 * 2.0 + 1) / 4 - 1  # on row 2
    value = sample_hypercolumns([level], torch.tensor([[[x, y]]]))
    assert abs(value.item() - (9 + 10) / 2) < 1e-6


def test_gradients_reach_only_sampled_neighbourhoods():
    level = torch.randn(1, 2, 8, 8, requires_grad=True)
    points = pixel_points(torch.tensor([[2, 6]]), torch.tensor([[3, 5]]), 16, 16)
    sample_hypercolumns([level], points).sum().backward()
    touched = level.grad.abs().sum(1)[0] > 0
    # Pixel (2, 3) of 16x16 -> (0.75, 1.25) at stride 2: rows 0-1, cols 1-2; (6, 5) -> (2.75, 2.25): rows 2-3, cols 2-3.
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[0:2, 1:3] = True
    expected[2:4, 2:4] = True
    assert torch.equal(touched, expected)


def test_dense_points_cover_every_pixel_row_major():
    points = dense_points(2, 3, batch=1, device=torch.device("cpu"))
    level = torch.arange(6, dtype=torch.float32).view(1, 1, 2, 3)
    torch.testing.assert_close(sample_hypercolumns([level], points)[0, :, 0], torch.arange(6.0), atol=1e-6, rtol=0)
