"""The report's figures: one colour per init in every figure, legends outside the data, budgets on a readable axis."""

import math

import matplotlib.colors
import pytest

from proxytask.paired import Interval
from proxytask.report.colors import FIXED_COLORS, init_color
from proxytask.report.figures import Curve, ForestRow, Panel, budget_positions, draw_budget_grid, draw_forest, save_png


def point(mean, half=0.05):
    return Interval(mean, mean - half, mean + half, 3)


def curve_colors(figure):
    """Label -> colours of every error-bar curve drawn in the figure."""
    found = {}
    for axis in figure.axes:
        for container in axis.containers:
            found.setdefault(container.get_label(), set()).add(matplotlib.colors.to_hex(container.lines[0].get_color()))
    return found


def test_every_init_has_one_colour_in_every_figure():
    inits = ["random", "colorization", "supervised", "rotation", "denoising+mask_fraction=0.3"]
    curves = [Curve(name, name, {5: point(0.4), 10: point(0.6), None: Interval(0.9, None, None, 1)}) for name in inits]
    grid = draw_budget_grid([Panel("fine-tuning", curves, {"always Bush (0.41)": 0.41}), Panel("probe", curves[::-1], {})],
                            [5, 10, None], "test accuracy", "t")
    drawn = curve_colors(grid)
    assert set(drawn) == set(inits)
    for label, colors in drawn.items():
        assert colors == {init_color(label)}, label
    forest = draw_forest([("k=5", [ForestRow(name, name, point(2.0, 3.0), False) for name in inits])], 1, "points", "t")
    for axis in forest.axes:
        drawn = {matplotlib.colors.to_hex(line.get_color()) for line in axis.get_lines()[:-1]}  # the last: the zero line
        assert drawn == {init_color(name) for name in inits}


def test_colours_are_fixed_by_name_and_the_baselines_stand_apart():
    assert init_color("colorization") == FIXED_COLORS["colorization"]
    assert init_color("a user's own task") == "#aec7e8"  # by the name's CRC-32: the same in every report and process
    one_study = [name for name in FIXED_COLORS if not name.startswith("random-intensity")]  # its RGB study's random-rgb grays
    assert len({init_color(name) for name in one_study}) == len(one_study)


def test_the_legend_sits_outside_every_panel():
    curves = [Curve(name, name, {5: point(0.4), 10: point(0.6)}) for name in ("random", "colorization", "supervised")]
    figure = draw_budget_grid([Panel(title, curves, {"uniform guess (0.14)": 0.14}) for title in ("a", "b", "c")],
                              [5, 10], "test accuracy", "t")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legend = figure.legends[0].get_window_extent(renderer)
    for axis in figure.axes:
        assert not legend.overlaps(axis.get_window_extent(renderer))


def test_all_labels_sit_apart_from_the_budgets_on_a_log_axis():
    positions = budget_positions([5, 10, 25, None])
    assert positions[10] - positions[5] == pytest.approx(math.log10(2))
    assert positions[None] > positions[25]
    assert budget_positions([None]) == {None: 0.0}


def test_the_slides_hold_a_page_per_table_and_figure_and_survive_an_empty_table(tmp_path):
    from proxytask.report.document import Bullets, Figure, Heading, Paragraph, Table
    from proxytask.report.slides import slide_pages, write_slides

    figure = draw_forest([("k=5", [ForestRow("random", "random", point(1.0), True)])], 1, "points", "t")
    save_png(figure, tmp_path / "forest.png")
    long = Table(["a", "b"], [[f"row {i}", "x " * 60] for i in range(30)])  # wrapped rows: more than one page
    blocks = [Heading("study", 1), Paragraph("what it asks"), Heading("Summary"), Bullets(["one.", "two."]),
              Heading("Empty"), Table(["a", "b"], []), long, Figure(tmp_path / "forest.png", "caption")]
    pages = list(slide_pages(blocks))
    titles = [page.texts[0].get_text() for page in pages]
    assert titles[:3] == ["study", "Summary", "Empty"] and titles[-1] == "Empty"  # title page, sentences, tables, figure
    assert len(pages) >= 5 and any("(1 of" in title for title in titles)
    for page in pages:
        assert tuple(page.get_size_inches()) == pytest.approx((13.333, 7.5))  # 16:9
    write_slides(blocks, tmp_path / "report.pdf")
    assert (tmp_path / "report.pdf").read_bytes().startswith(b"%PDF")


def test_the_predictors_that_read_no_picture_score_as_scikit_learn_says():
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    from proxytask.transfer.metrics import trivial_scores

    counts = {"bush": 6, "blair": 3, "powell": 1}
    truth = np.repeat([0, 1, 2], [6, 3, 1])
    scores = trivial_scores(counts)
    always = np.zeros_like(truth)
    assert scores["always the largest class"] == pytest.approx((accuracy_score(truth, always), f1_score(truth, always, average="macro")))
    guesses = np.random.default_rng(0).integers(0, 3, size=(4000, len(truth)))  # the uniform guess's expectation, by simulation
    simulated = np.mean([f1_score(truth, guess, average="macro", zero_division=0) for guess in guesses])
    assert scores["uniform guess"][0] == pytest.approx(1 / 3)
    assert scores["uniform guess"][1] == pytest.approx(simulated, abs=0.01)
