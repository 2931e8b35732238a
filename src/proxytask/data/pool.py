"""The pretraining pool as rows of memory-mapped image caches, read one batch at a time.

No copy of the pool is held in memory: a batch gathers its rows from the cache files (the
operating system's page cache keeps what is read often), so a pool larger than memory trains.
"""

from __future__ import annotations

import numpy as np
import torch


class PoolRows:
    """Chosen rows of one or more caches, indexed 0..len-1 in cache order.

    Args:
        arrays: each cache's pixels, (N_s, S, S, 3) uint8 (memory-mapped).
        rows: for each cache, the row numbers taken from it.
    """

    def __init__(self, arrays: list[np.ndarray], rows: list[np.ndarray]) -> None:
        self.arrays = arrays
        self.source = np.concatenate([np.full(len(r), s, dtype=np.int64) for s, r in enumerate(rows)])
        self.row = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])

    def __len__(self) -> int:
        return len(self.row)

    def subset(self, indices: np.ndarray) -> PoolRows:
        """The rows at ``indices`` (in that order) as a new pool."""
        chosen = PoolRows.__new__(PoolRows)
        chosen.arrays, chosen.source, chosen.row = self.arrays, self.source[indices], self.row[indices]
        return chosen

    def gather(self, indices: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Images at ``indices``: (B,) -> (B, S, S, 3) uint8, read from the caches."""
        indices = np.asarray(indices, dtype=np.int64)
        first = self.arrays[0]
        batch = np.empty((len(indices), *first.shape[1:]), dtype=first.dtype)
        sources, rows = self.source[indices], self.row[indices]
        for source, array in enumerate(self.arrays):
            picked = np.flatnonzero(sources == source)
            if len(picked):
                order = np.argsort(rows[picked], kind="stable")  # ascending rows read the file forward
                batch[picked[order]] = array[rows[picked][order]]
        return torch.from_numpy(batch)
