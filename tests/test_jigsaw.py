import numpy as np
import torch

from proxytask.data.batches import BatchRandom
from proxytask.models.backbones import Backbone
from proxytask.tasks.jigsaw import Jigsaw, JigsawConfig, cut_tiles, maximal_hamming_permutations


def test_permutations_are_distinct_fixed_and_far_apart():
    perms = maximal_hamming_permutations(100)
    assert perms.shape == (100, 9)
    assert len({tuple(p) for p in perms}) == 100
    assert all(sorted(p) == list(range(9)) for p in perms)
    maximal_hamming_permutations.cache_clear()
    assert np.array_equal(maximal_hamming_permutations(100), perms)  # recomputed: the same set
    distances = (perms[:, None, :] != perms[None, :, :]).sum(-1)
    assert distances[~np.eye(100, dtype=bool)].min() >= 6


def test_tiles_come_from_their_cells():
    # Each 6x6 cell of an 18x18 image holds its own index as value.
    cells = torch.arange(9, dtype=torch.float32).view(1, 1, 3, 3)
    image = cells.repeat_interleave(6, -1).repeat_interleave(6, -2).expand(2, 3, 18, 18)
    tiles = cut_tiles(image, 4, BatchRandom(0, 0, 2))
    assert tiles.shape == (2, 9, 3, 4, 4)
    for position in range(9):
        assert torch.all(tiles[:, position] == position)


def test_shuffle_applies_the_target_permutation():
    task = Jigsaw(Backbone("vgg_small", 3), "rgb", JigsawConfig(permutations=10, tile_fraction=1.0))
    # cell i is filled with brightness i plus a fixed texture, so normalized tiles stay tellable apart
    texture = torch.linspace(0, 1, 9).view(1, 9)
    cells = torch.arange(9, dtype=torch.float32)
    image = torch.zeros(4, 3, 27, 27)
    for i in range(9):
        r, c = divmod(i, 3)
        image[:, :, 9 * r:9 * r + 9, 9 * c:9 * c + 9] = (texture * (i + 1)) / 10 + cells[i] / 100
    tiles, targets = task.make_batch(image, BatchRandom(3, 0, 4))
    reference = cut_tiles(image, 9, BatchRandom(0, 0, 4))
    flat = reference.flatten(2)  # each tile standardized on its own: zero mean, unit std over channels and pixels
    reference = ((flat - flat.mean(-1, keepdim=True)) / flat.std(-1, keepdim=True)).view_as(reference)
    for b in range(4):
        order = task.permutations[targets[b]]
        for position in range(9):
            torch.testing.assert_close(tiles[b, position], reference[b, order[position]])
    loss = task(tiles, targets)["loss"]
    loss.backward()
    assert loss.item() > 0 and next(task.backbone.parameters()).grad.abs().sum() > 0
    panels, metrics = task.eval().visualize(torch.rand(2, 3, 27, 27))
    assert panels[0][1].shape == (2, 3, 27, 27) and 0 <= metrics["heldout_permutation_accuracy"] <= 1
