"""The pretraining pool as rows of image caches on disk, read one batch at a time.

No copy of the pool is held in memory, and none is mapped into the process: a batch reads its
rows from the cache files with ``pread`` (the operating system's page cache keeps what is read
often, outside the process), so a pool larger than memory trains in the memory of a small one.
"""

from __future__ import annotations

import os

import numpy as np
import torch


class PoolRows:
    """Chosen rows of one or more caches, indexed 0..len-1 in cache order.

    Args:
        arrays: each cache's pixels, (N_s, S, S, 3) uint8, memory-mapped from its ``.npy`` file
            (only its file name, data offset and shape are used).
        rows: for each cache, the row numbers taken from it.
    """

    def __init__(self, arrays: list[np.memmap], rows: list[np.ndarray]) -> None:
        self.files = [(str(array.filename), int(array.offset)) for array in arrays]
        self.row_shape, self.dtype = arrays[0].shape[1:], arrays[0].dtype
        self.source = np.concatenate([np.full(len(r), s, dtype=np.int64) for s, r in enumerate(rows)])
        self.row = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])

    def __len__(self) -> int:
        return len(self.row)

    def subset(self, indices: np.ndarray) -> PoolRows:
        """The rows at ``indices`` (in that order) as a new pool."""
        chosen = PoolRows.__new__(PoolRows)
        chosen.files, chosen.row_shape, chosen.dtype = self.files, self.row_shape, self.dtype
        chosen.source, chosen.row = self.source[indices], self.row[indices]
        return chosen

    def gather(self, indices: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Images at ``indices``: (B,) -> (B, S, S, 3) uint8, read from the cache files."""
        indices = np.asarray(indices, dtype=np.int64)
        batch = np.empty((len(indices), *self.row_shape), dtype=self.dtype)
        flat = batch.reshape(len(indices), -1).view(np.uint8)
        row_bytes = flat.shape[1]
        sources, rows = self.source[indices], self.row[indices]
        for source, (filename, offset) in enumerate(self.files):
            picked = np.flatnonzero(sources == source)
            if not len(picked):
                continue
            descriptor = os.open(filename, os.O_RDONLY)
            try:
                for position in picked[np.argsort(rows[picked], kind="stable")]:  # ascending rows read the file forward
                    start = offset + int(rows[position]) * row_bytes
                    if os.preadv(descriptor, [flat[position]], start) != row_bytes:
                        raise OSError(f"{filename}: row {rows[position]} is cut short (the cache file is damaged)")
            finally:
                os.close(descriptor)
        return torch.from_numpy(batch)
