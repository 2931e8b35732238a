"""Gallery pictures: one row per image, one column per panel (e.g. intensity | predicted | true)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from proxytask.files import write_atomic  # noqa: E402


def save_gallery(panels: list[tuple[str, torch.Tensor]], path: Path, max_rows: int = 8, title: str = "") -> None:
    """Write a PNG grid of ``panels``: (column title, (B, 3, H, W) in [0, 1]) each."""
    rows = min(max_rows, panels[0][1].shape[0])
    figure, axes = plt.subplots(rows, len(panels), figsize=(1.6 * len(panels), 1.6 * rows), squeeze=False)
    for column, (name, images) in enumerate(panels):
        for row in range(rows):
            axis = axes[row][column]
            axis.imshow(images[row].detach().float().cpu().clamp(0, 1).permute(1, 2, 0).numpy())
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name, fontsize=9)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    write_atomic(path, lambda tmp: figure.savefig(tmp, format="png", dpi=100))
    plt.close(figure)
