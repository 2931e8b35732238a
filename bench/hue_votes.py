"""Colorization's hue targets before and after chroma-weighted votes, measured side by side.

Before: in the 7x7-window hue histogram every neighbour voted with weight 1, so gray pixels (hue 0,
red's bin) pulled every target towards red. After: each neighbour votes with its chroma. The
script pretrains colorization twice with identical settings except the votes, then prints the
held-out PSNR and loss of each, and fine-tunes both at k labels per class over several draws with
the study's recipe, printing the paired difference with its 95% confidence interval. Galleries:
``<out>/<variant>/gallery.png``.

    python bench/hue_votes.py --lfw ../shared/data/lfw --out runs/hue-votes --steps 900 --k 10 --draws 5
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from unittest import mock

import torch

from proxytask import color
from proxytask.config import apply_overrides
from proxytask.data.downstream import load_downstream
from proxytask.data.splits import budget_split
from proxytask.paired import paired_interval
from proxytask.runs import PretrainConfig, RunFolder
from proxytask.study.settings import StudyConfig
from proxytask.train import pretrain
from proxytask.transfer.finetune import finetune
from proxytask.transfer.inits import resolve_init

WEIGHTED = "chroma-weighted"
EVERY_NEIGHBOUR = "every-neighbour"
weighted_histograms = color.point_histograms


def every_neighbour_votes(bin_index, rows, cols, bins, window, weights=None):
    """The old targets: the weights are ignored, every neighbour votes fully."""
    return weighted_histograms(bin_index, rows, cols, bins, window)


def pretrain_variant(config: PretrainConfig, run: Path, weighted: bool) -> dict:
    folder = RunFolder(run)
    if not folder.finished:
        if weighted:
            pretrain(config, run, resume=folder.started)
        else:
            with mock.patch.object(color, "point_histograms", every_neighbour_votes):
                pretrain(config, run, resume=folder.started)
    return json.loads(folder.metrics.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args()
    study = StudyConfig()
    config = apply_overrides(study.pretrain, [f"data.lfw={args.lfw}", f"train.max_steps={args.steps}"])
    metrics = {name: pretrain_variant(config, args.out / name, name == WEIGHTED) for name in (EVERY_NEIGHBOUR, WEIGHTED)}
    for name, m in metrics.items():
        print(f"{name:>16}: held-out PSNR {m['psnr_colorized']:.2f} dB (gray {m['psnr_gray']:.2f}), held-out loss "
              f"{m['heldout_loss']:.3f} (best constant {m['heldout_loss_constant']:.3f}; losses differ in their hue targets)")
    data = load_downstream(config.data)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    accuracy = {name: [] for name in metrics}
    for draw in range(args.draws):
        split = budget_split(data.images, args.k, draw)
        for name in metrics:
            init = resolve_init(str(args.out / name), config.model.backbone)
            result = finetune(init, data.pixels, data.labels, split, data.images.class_names, config.data.crop_size,
                              study.finetune, device)
            accuracy[name].append(result.scores.accuracy)
    for name, values in accuracy.items():
        print(f"{name:>16}: fine-tuned accuracy at k={args.k}: " + ", ".join(f"{v:.3f}" for v in values))
    interval = paired_interval(a - b for a, b in zip(accuracy[WEIGHTED], accuracy[EVERY_NEIGHBOUR]))
    print(f"chroma-weighted minus every-neighbour, paired over {args.draws} draws: {interval.mean:+.3f} "
          f"[{interval.low:+.3f}, {interval.high:+.3f}]" if interval.low is not None else f"{interval.mean:+.3f} (one draw)")


if __name__ == "__main__":
    main()
