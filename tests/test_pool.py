"""Batches read from the caches' files equal the cached rows, across several caches, in any order."""

import numpy as np

from proxytask.data.pool import PoolRows


def test_gather_reads_the_chosen_rows_of_every_cache(tmp_path):
    rng = np.random.default_rng(0)
    arrays = []
    for number, count in enumerate((7, 5)):
        path = tmp_path / f"{number}.npy"
        np.save(path, rng.integers(0, 256, (count, 4, 4, 3), dtype=np.uint8))
        arrays.append(np.load(path, mmap_mode="r"))
    pool = PoolRows(arrays, [np.array([0, 2, 6]), np.array([1, 4])])
    expected = np.stack([arrays[0][0], arrays[0][2], arrays[0][6], arrays[1][1], arrays[1][4]])
    order = np.array([4, 0, 3, 3, 1])
    np.testing.assert_array_equal(pool.gather(order).numpy(), expected[order])
    part = pool.subset(np.array([3, 1]))
    np.testing.assert_array_equal(part.gather(np.array([1, 0])).numpy(), expected[[1, 3]])
