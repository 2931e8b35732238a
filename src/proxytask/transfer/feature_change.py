"""How much fine-tuning changes a backbone, stage by stage.

Two measures per stage (a stage ends at each feature level the backbone exposes):

- relative weight change ``||W_finetuned - W_start|| / ||W_start||`` over the stage's parameters;
- linear CKA (Kornblith et al., ICML 2019) between the stage's output before and after fine-tuning
  on the same images: 1 when the representation is unchanged up to rotation and scale.

Feature maps are average-pooled to at most ``CKA_GRID`` x ``CKA_GRID`` before they are flattened,
so large inputs stay affordable; CKA is computed from the n x n Gram matrices.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.transfer.features import center_batches

CKA_GRID = 8


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two representations of the same n examples: x (n, p), y (n, q) -> [0, 1]."""
    if x.shape[0] != y.shape[0] or x.shape[0] < 2:
        raise ValueError(f"linear CKA needs the same n >= 2 examples in both, got {x.shape[0]} and {y.shape[0]}")
    x = x.double() - x.double().mean(0)
    y = y.double() - y.double().mean(0)
    gram_x, gram_y = x @ x.T, y @ y.T
    return float((gram_x * gram_y).sum() / (gram_x.norm() * gram_y.norm()))


def stage_of_modules(backbone: Backbone) -> dict[str, int]:
    """Stage index of each top-level module of the backbone's feature extractor (run in order).

    The module that a feature level is read from closes its stage; what follows opens the next.
    """
    taps = [name.replace(".", "_") for name in backbone.body.feature_info.module_name()]
    stages, stage = {}, 0
    for name, _ in backbone.body.named_children():
        stages[name] = min(stage, len(taps) - 1)
        if stage < len(taps) and name == taps[stage]:
            stage += 1
    return stages


def relative_weight_change(start: Backbone, finetuned: Backbone) -> list[float]:
    """Per stage: ``||finetuned - start|| / ||start||`` over all its parameters (Frobenius norms)."""
    stages = stage_of_modules(start)
    changed = np.zeros(len(start.channels))
    size = np.zeros(len(start.channels))
    after = dict(finetuned.body.named_parameters())
    for name, before in start.body.named_parameters():
        stage = stages[name.split(".")[0]]
        changed[stage] += float((after[name].detach().float().cpu() - before.detach().float().cpu()).pow(2).sum())
        size[stage] += float(before.detach().float().pow(2).sum())
    return [float(np.sqrt(c / s)) if s > 0 else float("nan") for c, s in zip(changed, size)]


@torch.no_grad()
def stage_features(backbone: Backbone, network_input: NetworkInput, pixels: torch.Tensor, rows: np.ndarray, crop: int,
                   device: torch.device) -> list[torch.Tensor]:
    """Every stage's output on the centre crops of ``rows``, pooled to <= CKA_GRID^2 cells: list of (n, C_i * cells)."""
    backbone = backbone.to(device).eval()
    per_stage: list[list[torch.Tensor]] = [[] for _ in backbone.channels]
    for batch in center_batches(pixels, rows, crop, device):
        for stage, level in enumerate(backbone(network_input(batch))):
            grid = (min(CKA_GRID, level.shape[-2]), min(CKA_GRID, level.shape[-1]))
            per_stage[stage].append(F.adaptive_avg_pool2d(level.float(), grid).flatten(1).cpu())
    return [torch.cat(parts) for parts in per_stage]


def feature_change(start: Backbone, finetuned: Backbone, network_input: NetworkInput, pixels: torch.Tensor, rows: np.ndarray,
                   crop: int, device: torch.device) -> dict[str, list[float]]:
    """Relative weight change and linear CKA (start vs fine-tuned features on ``rows``) per stage."""
    before = stage_features(start, network_input, pixels, rows, crop, device)
    after = stage_features(finetuned, network_input, pixels, rows, crop, device)
    return {"weight_change": relative_weight_change(start, finetuned),
            "cka": [linear_cka(x, y) for x, y in zip(before, after)]}
