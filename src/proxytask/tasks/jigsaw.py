"""Jigsaw puzzles (Noroozi and Favaro, ECCV 2016): which permutation shuffled the 3x3 tiles.

The crop is cut into a 3x3 grid; from each cell a smaller tile is taken at a random offset (the
jitter, so that edges do not line up), each tile is standardized on its own (so that color and
brightness do not give the order away; transfer standardizes each whole image the same way), the tiles are shuffled by one of a fixed set of
permutations chosen for maximal Hamming distance, and a trunk shared by all tiles feeds a head
that names the permutation.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from proxytask.config import PROBABILITY, TaskSettings, setting
from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.models.dropout import FastDropout
from proxytask.tasks.base import ProxyTask, rgb_panel
from proxytask.tasks.registry import register_task

GRID = 3
TILES = GRID * GRID
PERMUTATION_SEED = 0


@functools.lru_cache(maxsize=4)
def maximal_hamming_permutations(count: int, seed: int = PERMUTATION_SEED) -> np.ndarray:
    """``count`` permutations of the 9 tiles, chosen greedily: each next one maximizes its smallest
    Hamming distance to those chosen so far (ties: the first in lexicographic order). Deterministic.

    Returns:
        (count, 9) int64, row i is permutation i: position j shows tile ``perms[i, j]``.
    """
    every = np.array(list(itertools.permutations(range(TILES))), dtype=np.int8)
    if not 1 <= count <= len(every):
        raise ValueError(f"jigsaw.permutations must be between 1 and {len(every)}, got {count}")
    chosen = [int(np.random.default_rng(seed).integers(len(every)))]
    nearest = (every != every[chosen[0]]).sum(axis=1)
    for _ in range(count - 1):
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, (every != every[pick]).sum(axis=1))
    return every[chosen].astype(np.int64)


def cut_tiles(images: torch.Tensor, tile: int, rng: BatchRandom) -> torch.Tensor:
    """(B, C, S, S) -> (B, 9, C, tile, tile): from each grid cell (row-major) a tile at a random offset."""
    batch, channels, size, _ = images.shape
    cell = size // GRID
    if tile > cell:
        raise ValueError(f"jigsaw tiles of {tile} px do not fit cells of {cell} px")
    offsets = rng.randint(cell - tile + 1, TILES, 2).to(images.device)  # (B, 9, 2)
    corners = torch.arange(GRID, device=images.device) * cell
    tops = corners.repeat_interleave(GRID) + offsets[..., 0]  # (B, 9)
    lefts = corners.repeat(GRID) + offsets[..., 1]
    steps = torch.arange(tile, device=images.device)
    rows = (tops.unsqueeze(-1) + steps).view(batch, TILES, 1, tile, 1)
    cols = (lefts.unsqueeze(-1) + steps).view(batch, TILES, 1, 1, tile)
    index = torch.arange(batch, device=images.device).view(batch, 1, 1, 1, 1)
    channel = torch.arange(channels, device=images.device).view(1, 1, channels, 1, 1)
    return images[index, channel, rows, cols]


@dataclass
class JigsawConfig(TaskSettings):
    """Jigsaw puzzles (Noroozi and Favaro 2016): 3x3 tiles, a fixed set of permutations."""

    section = "jigsaw"

    permutations: int = setting(100, low=2, high=362880, hint="(9! orders of 9 tiles)")
    tile_fraction: float = setting(0.85, low=0.0, high=1.0, low_open=True)
    head_width: int = setting(512, low=1)
    head_dropout: float = setting(0.5, **PROBABILITY)


@register_task
class Jigsaw(ProxyTask):
    """Standardized tiles; a shared trunk (the backbone, globally pooled) per tile; an MLP over the 9 codes."""

    name = "jigsaw"
    normalization = "standardize"
    changes_pictures = True
    pretext_metrics = {"heldout_permutation_accuracy": "held-out share of puzzles whose permutation is found"}

    def __init__(self, backbone: Backbone, input_kind: str, config: JigsawConfig) -> None:
        super().__init__(backbone, input_kind)
        self.config = config
        self.register_buffer("permutations", torch.from_numpy(maximal_hamming_permutations(config.permutations)), persistent=False)
        self.head = nn.Sequential(nn.Linear(TILES * backbone.channels[-1], config.head_width), nn.ReLU(inplace=True),
                                  FastDropout(config.head_dropout), nn.Linear(config.head_width, config.permutations))

    def tile_size(self, size: int) -> int:
        return max(1, round(size // GRID * self.config.tile_fraction))

    def make_batch(self, images: torch.Tensor, rng: BatchRandom, labels: torch.Tensor | None = None):
        """(B, 3, S, S) -> shuffled tiles as network input, each standardized, (B, 9, C, t, t), and
        permutation indices (B,)."""
        tiles = cut_tiles(images, self.tile_size(images.shape[-1]), rng)
        chosen = rng.randint(self.config.permutations).flatten().to(images.device)
        order = self.permutations[chosen]  # (B, 9): position j shows tile order[j]
        shuffled = tiles[torch.arange(len(tiles), device=images.device).unsqueeze(1), order]
        return self.network_input(shuffled.flatten(0, 1)).unflatten(0, (len(tiles), TILES)), chosen

    def logits(self, tiles: torch.Tensor) -> torch.Tensor:
        batch = tiles.shape[0]
        codes = self.backbone(tiles.flatten(0, 1))[-1].mean(dim=(2, 3))  # (B * 9, C)
        return self.head(codes.reshape(batch, -1))

    def forward(self, inputs, targets) -> dict[str, torch.Tensor]:
        return {"loss": F.cross_entropy(self.logits(inputs).float(), targets)}

    @property
    def gallery_legend(self) -> str:
        return "tiles contrast-stretched; put back: each tile moved where the predicted permutation says"

    @torch.no_grad()
    def visualize(self, images: torch.Tensor, labels: torch.Tensor | None = None):
        rng = BatchRandom(0, 0, images.shape[0], device=images.device)
        tiles, chosen = self.make_batch(images, rng)
        predicted = self.logits(tiles).argmax(1)
        low, high = tiles.amin(dim=(2, 3, 4), keepdim=True), tiles.amax(dim=(2, 3, 4), keepdim=True)
        shown = rgb_panel(((tiles - low) / (high - low).clamp(min=1e-6)).flatten(0, 1)).unflatten(0, tiles.shape[:2])
        batch = torch.arange(len(tiles), device=images.device).unsqueeze(1)
        restored = torch.empty_like(shown)
        restored[batch, self.permutations[predicted]] = shown  # put each tile back where the prediction says
        panels = [("shuffled tiles", _mosaic(shown)), ("put back", _mosaic(restored)),
                  ("image", rgb_panel(self.network_input.select(images)))]
        return panels, {"heldout_permutation_accuracy": (predicted == chosen).float().mean().item()}


def _mosaic(tiles: torch.Tensor) -> torch.Tensor:
    """(B, 9, C, t, t) -> (B, C, 3t, 3t), tiles in row-major grid order."""
    batch, _, channels, tile, _ = tiles.shape
    grid = tiles.view(batch, GRID, GRID, channels, tile, tile).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(batch, channels, GRID * tile, GRID * tile)
