"""One colour per init, the same in every figure of every report: the baselines in grays and black,
each proxy task in a colour of its own, any other name (a variant, a user's task) in a colour fixed by
its name."""

from __future__ import annotations

import zlib

# Colour-blind-safe where it matters (Okabe-Ito for the proxies); random inits in grays, supervised black.
FIXED_COLORS = {
    "random": "#7f7f7f",
    "random-standardized": "#b0b0b0",
    "random-rgb": "#5a5a5a",
    "random-rgb-standardized": "#c8c8c8",
    "random-intensity": "#5a5a5a",  # in a study whose main input is RGB
    "random-intensity-standardized": "#c8c8c8",
    "supervised": "#000000",
    "eigenfaces": "#8c6d31",
    "colorization": "#0072b2",
    "denoising": "#e69f00",
    "inpainting": "#cc79a7",
    "rotation": "#009e73",
    "jigsaw": "#d55e00",
    "contrastive": "#56b4e9",
    "masked-autoencoding": "#9467bd",
    "colorization-lab": "#1f77b4",
    "colorization-l2": "#17becf",
}
# For names outside the table: matplotlib's tab20, minus its grays and the colours the table uses.
OTHER_COLORS = ["#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#c5b0d5", "#8c564b",
                "#c49c94", "#e377c2", "#f7b6d2", "#bcbd22", "#dbdb8d", "#9edae5"]


def init_color(name: str) -> str:
    """The colour of init ``name`` (a hex string): fixed for the known inits, else chosen by a hash of the
    name, so that the same name gets the same colour in every report."""
    if name in FIXED_COLORS:
        return FIXED_COLORS[name]
    return OTHER_COLORS[zlib.crc32(name.encode()) % len(OTHER_COLORS)]
