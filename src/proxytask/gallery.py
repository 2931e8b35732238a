"""Gallery pictures laid out for a 16:9 slide: the examples side by side in groups, each group one
example's panels (e.g. intensity | predicted | true), a heading, and a one-line caption that says
what marks in the pictures mean and how much they were enlarged.

Small pictures are enlarged by a whole factor with nearest-neighbour resampling (each picture pixel
becomes a square block: nothing is invented), the same factor for every panel so their scales
compare; pictures too big for the slide are shrunk with antialiasing.
"""

from __future__ import annotations

import functools
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from matplotlib.backends.backend_agg import RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties

from proxytask.files import write_atomic

DPI = 100
GALLERY_EXAMPLES = 8  # examples a gallery shows unless told otherwise
SLIDE = (1920, 1080)  # (width, height) px: the most a gallery takes, one full-HD 16:9 slide
LARGEST_CELL = 320  # px: enlarging a small picture beyond this only makes the figure bigger
SMALLEST_CELL = 120  # px: smaller pictures are hard to read on a slide; a grid with empty places is chosen sooner
HEADING_SIZE, CAPTION_SIZE, TITLE_SIZE = 13.0, 10.0, 11.0  # points
LINE_SPACING = 1.25  # text line height, in font sizes
MARGIN, CELL_GAP, GROUP_GAP, ROW_GAP, TEXT_GAP = 16, 6, 32, 8, 6  # px


def font_pixels(points: float) -> float:
    return points * DPI / 72.0


def text_block_height(lines: int, points: float) -> int:
    """Pixels that ``lines`` lines of text at ``points`` take (0 for none)."""
    return math.ceil(lines * LINE_SPACING * font_pixels(points)) if lines else 0


@functools.cache
def _renderer() -> RendererAgg:
    return RendererAgg(1, 1, DPI)


@functools.cache
def text_width(line: str, points: float) -> float:
    """Pixels one line of text takes in the gallery's font, as the Agg renderer that saves it draws it."""
    width, _, _ = _renderer().get_text_width_height_descent(line, FontProperties(size=points), ismath=False)
    return width


def wrap_to_width(text: str, width: float, points: float) -> list[str]:
    """``text`` broken into lines (at spaces, else inside words) that each fit ``width`` px."""
    lines = text.split("\n") if text else []
    characters = max(len(line) for line in lines) if lines else 0
    while characters > 1:
        wrapped = [part for line in lines for part in textwrap.wrap(line, characters) or [""]]
        if all(text_width(part, points) <= width for part in wrapped):
            return wrapped
        characters -= 1
    return [character for line in lines for character in line]


@dataclass(frozen=True)
class GalleryLayout:
    """Where a gallery's pictures go, in pixels of the saved PNG.

    ``examples`` examples are laid out ``groups`` across and ``rows`` down (reading order), each
    example one group of ``panels`` cells of ``cell`` (height, width) px, pictures enlarged ``zoom``
    times; ``top`` px above hold the heading and caption, ``header`` px the column titles.
    """

    examples: int
    panels: int
    groups: int
    rows: int
    zoom: float
    cell: tuple[int, int]
    top: int
    header: int

    @property
    def width(self) -> int:
        return 2 * MARGIN + self.groups * self.group_width + (self.groups - 1) * GROUP_GAP

    @property
    def height(self) -> int:
        return self.top + self.header + self.rows * self.cell[0] + (self.rows - 1) * ROW_GAP + MARGIN

    @property
    def full(self) -> bool:
        """Whether every place of the grid holds an example."""
        return self.groups * self.rows == self.examples

    @property
    def group_width(self) -> int:
        return self.panels * self.cell[1] + (self.panels - 1) * CELL_GAP

    def cell_box(self, example: int, panel: int) -> tuple[int, int, int, int]:
        """(left, top, width, height) px of a cell, from the figure's top-left corner."""
        row, group = divmod(example, self.groups)
        left = MARGIN + group * (self.group_width + GROUP_GAP) + panel * (self.cell[1] + CELL_GAP)
        top = self.top + self.header + row * (self.cell[0] + ROW_GAP)
        return left, top, self.cell[1], self.cell[0]


def gallery_layout(examples: int, panels: int, picture: tuple[int, int], top: int, header: int,
                   largest_cell: int = LARGEST_CELL, slide: tuple[int, int] = SLIDE) -> GalleryLayout:
    """The layout with the largest pictures that fits ``slide`` (width, height) px.

    Args:
        examples, panels: how many examples, and the panels each shows.
        picture: (height, width) px of the largest panel picture.
        top, header: px above the pictures for the heading and caption, and for the column titles.
        largest_cell: a small picture is enlarged to at most this many px a side.
    Among the numbers of groups across, landscape layouts are preferred where there is one; then
    a full grid (no empty places) whose cells are at least ``SMALLEST_CELL`` px; then the largest
    zoom (a whole number when enlarging); then the shape nearest 16:9.
    """
    if examples < 1 or panels < 1 or min(picture) < 1:
        raise ValueError(f"a gallery needs at least one example, panel and pixel, got {examples}, {panels}, {picture}")
    height, width = picture
    candidates = []
    for groups in sorted({math.ceil(examples / rows) for rows in range(1, examples + 1)}):
        rows = math.ceil(examples / groups)
        free_width = slide[0] - 2 * MARGIN - groups * (panels - 1) * CELL_GAP - (groups - 1) * GROUP_GAP
        free_height = slide[1] - top - header - (rows - 1) * ROW_GAP - MARGIN
        fit = min(free_width / (groups * panels * width), free_height / (rows * height),
                  max(1.0, largest_cell / max(height, width)))
        fit = max(fit, 1.0 / min(height, width))  # a pixel a picture at least, however much text there is
        zoom = float(math.floor(fit)) if fit >= 1 else fit
        cell = (max(1, math.floor(height * zoom)), max(1, math.floor(width * zoom)))
        candidates.append(GalleryLayout(examples, panels, groups, rows, zoom, cell, top, header))
    landscape = [layout for layout in candidates if layout.width > layout.height] or candidates
    return max(landscape, key=lambda layout: (layout.full and min(layout.cell) >= SMALLEST_CELL, layout.zoom,
                                              -abs(math.log(layout.width / layout.height / (16 / 9)))))


def zoom_note(zoom: float, sizes: set[tuple[int, int]]) -> str:
    """What the caption says of the pictures' scale (``sizes``: the panels' (height, width) px)."""
    pictures = "pictures"
    if len(sizes) == 1:
        height, width = next(iter(sizes))
        pictures = f"{width}×{height}-pixel pictures"
    if zoom > 1:
        return f"{pictures} enlarged {zoom:g}× (nearest neighbour)"
    if zoom < 1:
        return f"{pictures} shown at {zoom:.0%} of their size"
    return f"{pictures} at full resolution"


@dataclass(frozen=True)
class GalleryText:
    """A gallery's layout and its text, wrapped to fit: heading and caption lines, each column's title lines."""

    layout: GalleryLayout
    heading: list[str]
    caption: list[str]
    titles: list[list[str]]


def plan_gallery(titles: list[str], sizes: list[tuple[int, int]], examples: int, heading: str = "", legend: str = "",
                 largest_cell: int = LARGEST_CELL) -> GalleryText:
    """Lay out ``examples`` examples of panels titled ``titles`` with pictures of ``sizes`` (height,
    width) px each, and wrap every text to the width it has (column titles: their cell; heading
    and caption, ``legend`` plus the zoom note: the figure)."""
    picture = (max(size[0] for size in sizes), max(size[1] for size in sizes))
    heading_lines, caption_lines, title_lines = (1 if heading else 0), 1, 1
    for _ in range(8):  # wrapping depends on the widths, the widths on the room the wrapped text takes
        top = MARGIN + text_block_height(heading_lines, HEADING_SIZE) + text_block_height(caption_lines, CAPTION_SIZE) + TEXT_GAP
        header = text_block_height(title_lines, TITLE_SIZE) + TEXT_GAP
        layout = gallery_layout(examples, len(titles), picture, top, header, largest_cell)
        text_room = layout.width - 2 * MARGIN
        caption = "; ".join(part for part in (legend, zoom_note(layout.zoom, set(sizes))) if part) + "."
        text = GalleryText(layout, wrap_to_width(heading, text_room, HEADING_SIZE), wrap_to_width(caption, text_room, CAPTION_SIZE),
                           [wrap_to_width(title, layout.cell[1], TITLE_SIZE) for title in titles])
        needed = (len(text.heading), len(text.caption), max(len(lines) for lines in text.titles))
        if needed[0] <= heading_lines and needed[1] <= caption_lines and needed[2] <= title_lines:
            return text
        heading_lines, caption_lines, title_lines = (max(a, b) for a, b in zip(needed, (heading_lines, caption_lines, title_lines)))
    raise RuntimeError(f"gallery text does not settle into a layout: {heading!r}, {legend!r}, {titles}")


def gallery_figure(panels: list[tuple[str, torch.Tensor]], max_examples: int = GALLERY_EXAMPLES, title: str = "", legend: str = "",
                   largest_cell: int = LARGEST_CELL) -> Figure:
    """The gallery of ``panels`` as a matplotlib figure (``save_gallery`` saves it); see :func:`save_gallery`."""
    if not panels:
        raise ValueError("a gallery needs at least one panel")
    examples = min(max_examples, min(images.shape[0] for _, images in panels))
    sizes = [(int(images.shape[-2]), int(images.shape[-1])) for _, images in panels]
    text = plan_gallery([name for name, _ in panels], sizes, examples, title, legend, largest_cell)
    layout = text.layout
    figure = plt.figure(figsize=(layout.width / DPI, layout.height / DPI), dpi=DPI)

    def place(x: float, y: float, lines: list[str], points: float, **where) -> None:
        if lines:
            figure.text(x / layout.width, 1 - y / layout.height, "\n".join(lines), fontsize=points,
                        linespacing=LINE_SPACING, ha="center", **where)

    place(layout.width / 2, MARGIN, text.heading, HEADING_SIZE, va="top")
    place(layout.width / 2, MARGIN + text_block_height(len(text.heading), HEADING_SIZE), text.caption, CAPTION_SIZE,
          va="top", color="0.25")
    for example in range(examples):
        for column, ((_, images), (height, width)) in enumerate(zip(panels, sizes)):
            left, top, cell_width, cell_height = layout.cell_box(example, column)
            shown_width, shown_height = width * layout.zoom, height * layout.zoom
            x, y = left + (cell_width - shown_width) / 2, top  # under the column title, however small the picture
            axis = figure.add_axes((x / layout.width, 1 - (y + shown_height) / layout.height,
                                    shown_width / layout.width, shown_height / layout.height))
            picture = images[example].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy()
            axis.imshow(picture, interpolation="nearest" if layout.zoom >= 1 else "antialiased", aspect="auto")
            axis.set_xticks([])
            axis.set_yticks([])
            if example < layout.groups:
                place(left + cell_width / 2, top - TEXT_GAP / 2, text.titles[column], TITLE_SIZE, va="bottom")
    return figure


def save_gallery(panels: list[tuple[str, torch.Tensor]], path: Path, max_examples: int = GALLERY_EXAMPLES, title: str = "",
                 legend: str = "", largest_cell: int = LARGEST_CELL) -> None:
    """Write a PNG of ``panels`` laid out for a 16:9 slide (at most 1920 x 1080 px).

    Args:
        panels: (column title, (B, 3, H, W) in [0, 1]) each; example ``b`` of every panel is shown
            together, as one group of cells; panels may differ in H, W.
        path: the PNG written.
        max_examples: the first this many examples are shown.
        title: the heading; legend: the caption's first part (what marks in the pictures mean).
        largest_cell: px a side that enlarging a small picture stops at.
    Titles are wrapped to their cell's width, the heading and caption to the figure's.
    """
    figure = gallery_figure(panels, max_examples, title, legend, largest_cell)
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=DPI))
    plt.close(figure)
