"""report.pdf: the report as 16:9 pages for a presenter's slides, each titled by the section it belongs
to (matplotlib's PDF backend): the title and the verdict sentences first, then every table and figure;
the notes beside a table or figure stay in report.html and report.md."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure as PlotFigure  # noqa: E402

from proxytask.files import write_atomic  # noqa: E402
from proxytask.report.document import Block, Bullets, Figure, Heading, Paragraph, Table  # noqa: E402

PAGE = (13.333, 7.5)  # inches: 16:9
LINES_PER_PAGE = 28  # wrapped text lines of a table on one page
LINE_HEIGHT = 0.032  # of the table area, per text line
SENTENCES_PER_PAGE = 5
PAGE_CHARACTERS = 160  # characters of table text across a page; a cell wraps at its share of them
MIN_CELL_CHARACTERS = 14


def _page(title: str) -> PlotFigure:
    figure = plt.figure(figsize=PAGE)
    figure.text(0.04, 0.94, textwrap.shorten(title, 90), fontsize=20, weight="bold", va="top")
    return figure


def _text_page(title: str, paragraphs: list[str], width: int = 105, size: int = 15) -> PlotFigure:
    figure = _page(title)
    text = "\n\n".join(textwrap.fill(paragraph, width) for paragraph in paragraphs)
    figure.text(0.05, 0.84, text, fontsize=size, va="top", linespacing=1.35)
    return figure


def _figure_page(title: str, block: Figure) -> PlotFigure:
    figure = _page(title)
    axis = figure.add_axes((0.03, 0.12, 0.94, 0.76))
    axis.imshow(matplotlib.image.imread(block.path))
    axis.axis("off")
    figure.text(0.04, 0.02, textwrap.fill(block.caption, 190), fontsize=9, va="bottom", color="#333333")
    return figure


def _wrapped_rows(block: Table) -> tuple[list[str], list[list[str]]]:
    """Header and rows with each cell wrapped at the width its share of the page gives it."""
    width = max(MIN_CELL_CHARACTERS, PAGE_CHARACTERS // len(block.header))
    header = [textwrap.fill(cell, max(MIN_CELL_CHARACTERS, width // 2)) for cell in block.header]
    return header, [[textwrap.fill(cell, width) for cell in row] for row in block.rows]


def _lines(row: list[str]) -> int:
    return max(text.count("\n") + 1 for text in row)


def _table_pages(title: str, block: Table) -> Iterator[PlotFigure]:
    """The table on as many pages as its wrapped rows need (at most :data:`LINES_PER_PAGE` text lines each)."""
    header, rows = _wrapped_rows(block)
    pages: list[list[list[str]]] = [[]]
    for row in rows:
        if pages[-1] and _lines(header) + sum(map(_lines, pages[-1])) + _lines(row) > LINES_PER_PAGE:
            pages.append([])
        pages[-1].append(row)
    widths = [max(len(line) for text in [header[i], *(row[i] for row in rows)] for line in text.split("\n")) + 2
              for i in range(len(header))]
    for number, cells in enumerate(pages, start=1):
        figure = _page(title + (f" ({number} of {len(pages)})" if len(pages) > 1 else ""))
        axis = figure.add_axes((0.03, 0.03, 0.94, 0.83))
        axis.axis("off")
        cells = cells or [[""] * len(header)]  # a table without rows: its header alone
        table = axis.table(cellText=cells, colLabels=header, loc="upper center", cellLoc="left",
                           colWidths=[w / sum(widths) for w in widths])
        table.auto_set_font_size(False)
        table.set_fontsize(9 if len(header) > 6 else 10)
        lines = [_lines(row) for row in [header, *cells]]
        line_height = min(LINE_HEIGHT, 1.0 / (sum(lines) + len(lines)))
        for (row, _), cell in table.get_celld().items():
            cell.set_height(line_height * (lines[row] + 1))
            if row == 0:
                cell.set_facecolor("#eeeeee")
        yield figure


def slide_pages(blocks: list[Block]) -> Iterator[PlotFigure]:
    """The pages, one at a time: a title page (the first heading and paragraph), the verdict sentences a
    few per page, every table and figure on pages of their own titled by the heading above them, and the
    text of a section that has neither (how the study was run, what it cannot show) on a page of its own."""
    title, chapter, section, paged = "", "", "", False
    for block in blocks:
        if isinstance(block, Heading):
            title = title or block.text
            chapter = block.text if block.level <= 2 else chapter
            section = block.text if block.level <= 2 or not chapter else f"{chapter}: {block.text}"
            paged = False
            continue
        if isinstance(block, Paragraph) and not paged:
            yield _text_page(section or title, [block.text], size=17 if section == title else 14, width=95 if section == title else 110)
        elif isinstance(block, Bullets):
            for start in range(0, len(block.items), SENTENCES_PER_PAGE):
                yield _text_page(section, ["- " + item for item in block.items[start:start + SENTENCES_PER_PAGE]], width=100)
        elif isinstance(block, Table):
            yield from _table_pages(section, block)
        elif isinstance(block, Figure):
            yield _figure_page(section, block)
        paged = True


def write_slides(blocks: list[Block], path: Path) -> None:
    """Write :func:`slide_pages` of ``blocks`` to the PDF file ``path`` (atomically), closing each page once written."""

    def write(tmp: Path) -> None:
        with PdfPages(tmp) as pdf:  # the temporary name does not end in .pdf: PdfPages writes PDF whatever the name
            for page in slide_pages(blocks):
                pdf.savefig(page)
                plt.close(page)

    write_atomic(path, write)
