"""The gallery layout: examples side by side for a 16:9 slide, readable cells, titles that fit their
cell, no text over another or over a picture, small pictures enlarged exactly (nearest neighbour)."""

import io
import itertools

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from PIL import Image

from proxytask.config import apply_overrides
from proxytask.gallery import DPI, SLIDE, SMALLEST_CELL, gallery_figure, gallery_layout, plan_gallery, save_gallery, text_width, wrap_to_width
from proxytask.runs import PretrainConfig
from proxytask.tasks import TASKS, build_task


def boxes(figure):
    """Window extents (px) of the figure's texts and of its picture axes, drawn as savefig draws them."""
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    texts = [(text.get_text(), text.get_window_extent(renderer)) for text in figure.texts if text.get_text()]
    return texts, [axis.get_window_extent(renderer) for axis in figure.axes]


def assert_readable(figure):
    """Every text inside the figure, over no other text and no picture; every picture cell readable."""
    texts, pictures = boxes(figure)
    frame = figure.bbox
    for name, box in texts:
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name
        assert not any(box.overlaps(picture) for picture in pictures), f"{name!r} lies over a picture"
    for (first, a), (second, b) in itertools.combinations(texts, 2):
        assert not a.overlaps(b), f"{first!r} overlaps {second!r}"
    for a, b in itertools.combinations(pictures, 2):
        assert not a.overlaps(b)
    assert frame.width <= SLIDE[0] and frame.height <= SLIDE[1]


def png_of(figure) -> np.ndarray:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    plt.close(figure)
    return np.asarray(Image.open(buffer).convert("RGB"))


def test_eight_examples_of_three_panels_sit_side_by_side_on_a_landscape_slide(tmp_path):
    pictures = torch.rand(8, 3, 32, 32)
    save_gallery([("intensity", pictures), ("predicted", pictures), ("true", pictures)], tmp_path / "g.png",
                 title="colorization: held-out pool images")
    with Image.open(tmp_path / "g.png") as saved:
        width, height = saved.size
    assert height < width <= SLIDE[0] and height <= SLIDE[1]
    layout = plan_gallery(["intensity", "predicted", "true"], [(32, 32)] * 3, 8, "colorization: held-out pool images").layout
    assert (layout.width, layout.height) == (width, height)
    assert layout.groups > 1 and layout.groups * layout.rows == 8  # examples side by side, no empty place
    assert min(layout.cell) >= SMALLEST_CELL and layout.zoom == int(layout.zoom)


@pytest.mark.parametrize("panels, groups", [(1, 4), (2, 4), (3, 2), (4, 2)])
def test_the_layout_fills_a_slide_with_whole_groups(panels, groups):
    layout = gallery_layout(8, panels, (32, 32), top=60, header=25)
    assert layout.groups == groups and layout.full and layout.width > layout.height
    assert layout.width <= SLIDE[0] and layout.height <= SLIDE[1] and min(layout.cell) >= SMALLEST_CELL


def test_a_photo_is_shown_at_full_resolution_when_it_fits_and_shrunk_when_it_does_not():
    assert gallery_layout(1, 3, (250, 250), 60, 25, largest_cell=250).zoom == 1
    large = gallery_layout(1, 3, (900, 1200), 60, 25, largest_cell=1200)
    assert large.zoom < 1 and large.width <= SLIDE[0] and large.height <= SLIDE[1]
    assert gallery_layout(1, 3, (60, 80), 60, 25).zoom == 4  # small: enlarged by a whole factor, up to LARGEST_CELL


def test_long_titles_wrap_within_their_cell_and_no_text_overlaps():
    pictures = torch.rand(8, 3, 24, 24)
    titles = ["reconstructed (counted pixels only, the corrupted input elsewhere)", "put back by the prediction", "x"]
    legend = "two augmented views of each picture; red bar: the view's nearest other view is not its partner, " * 3
    figure = gallery_figure([(title, pictures) for title in titles], title="supervised: held-out pool images " * 4, legend=legend)
    texts, pictures_boxes = boxes(figure)
    cell = min(box.width for box in pictures_boxes)
    for title in titles:
        wrapped = [box for text, box in texts if text.replace("\n", " ") == " ".join(wrap_to_width(title, cell, 11.0))]
        assert wrapped and all(box.width <= cell for box in wrapped), title
    assert_readable(figure)
    plt.close(figure)


def test_wrapping_measures_the_rendered_text():
    lines = wrap_to_width("a long column title that cannot fit one narrow cell", 100, 11.0)
    assert len(lines) > 1 and all(text_width(line, 11.0) <= 100 for line in lines)
    assert wrap_to_width("short", 100, 11.0) == ["short"] and wrap_to_width("", 100, 11.0) == []


def test_small_pictures_are_enlarged_by_a_whole_factor_with_nearest_neighbour():
    torch.manual_seed(0)
    pictures = torch.rand(4, 3, 16, 16)
    figure = gallery_figure([("a", pictures), ("b", pictures.flip(-1))], title="t")
    layout = plan_gallery(["a", "b"], [(16, 16)] * 2, 4, "t").layout
    png = png_of(figure).astype(int)
    zoom = int(layout.zoom)
    for example, panel in [(0, 0), (3, 1)]:
        left, top, width, height = layout.cell_box(example, panel)
        shown = (pictures if panel == 0 else pictures.flip(-1))[example].permute(1, 2, 0).numpy() * 255
        expected = np.kron(shown, np.ones((zoom, zoom, 1)))
        inside = slice(3, -3)  # the frame is drawn over the border pixels
        assert np.abs(png[top:top + height, left:left + width][inside, inside] - expected[inside, inside]).max() <= 1


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_gallery_is_readable(name):
    torch.manual_seed(0)
    task = build_task(apply_overrides(PretrainConfig(), [f"task={name}", "data.image_size=32", "data.crop_size=28"]), num_classes=3).eval()
    panels, _ = task.visualize(torch.rand(8, 3, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    assert isinstance(task.gallery_legend, str)
    figure = gallery_figure(panels, title=f"{name}: held-out pool images", legend=task.gallery_legend)
    assert_readable(figure)
    texts, pictures = boxes(figure)
    assert min(min(box.width, box.height) for box in pictures) >= SMALLEST_CELL * 0.75  # a jigsaw's mosaic is a crop
    assert any("nearest neighbour" in text for text, _ in texts)  # the caption says the pictures are enlarged
    plt.close(figure)


def test_a_gallery_without_heading_or_legend_and_with_an_empty_place_is_readable():
    figure = gallery_figure([("input", torch.rand(5, 3, 40, 30))], title="")
    assert_readable(figure)
    texts, pictures = boxes(figure)
    assert len(pictures) == 5 and [text for text, _ in texts].count("input") == plan_gallery(["input"], [(40, 30)], 5).layout.groups
    plt.close(figure)
