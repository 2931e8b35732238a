"""The pretraining pool: its sources cached, copies of downstream pictures and unusable files left
out, the pictures a task trains on chosen, gallery pictures held out; rows of the caches on disk,
read one batch at a time.

No copy of the pool is held in memory, and none is mapped into the process: a batch reads its
rows from the cache files with ``pread`` (the operating system's page cache keeps what is read
often, outside the process), so a pool larger than memory trains in the memory of a small one.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from proxytask import distributed
from proxytask.config import ConfigError, DataConfig
from proxytask.data.cache import ImageCache, content_digest, load_cache
from proxytask.data.fingerprint import Fingerprint, file_fingerprint
from proxytask.data.images import BadImage, read_file, skip_counts
from proxytask.data.lfw import DOWNSTREAM_DEFAULT, DataError, locate_lfw
from proxytask.data.selection import LFW_POOL, downstream_task, pool_sources

log = logging.getLogger(__name__)

# Labels a task learns from the pool's pictures, given each chosen picture's parent folder (N,):
# the indices of the pictures it keeps, their labels and the class count; None for a task without labels.
PoolLabels = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, int] | None]


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


@dataclass(frozen=True)
class PoolImages:
    """Pretraining images: ``train`` read from the caches a batch at a time, ``heldout`` (N, S, S, 3)
    uint8 in memory, identities for tasks that need labels ((N,) long, else None), how the pool was
    filtered (``counts``, numbers), what it is made of (``sources``, ``skip_reasons``), the fingerprint
    of its files and the downstream task whose copies were left out (None: no downstream pictures
    were at hand to check)."""

    train: PoolRows
    heldout: torch.Tensor
    train_labels: torch.Tensor | None
    heldout_labels: torch.Tensor | None
    num_classes: int | None
    counts: dict[str, int | float]
    sources: list[str]
    skip_reasons: dict[str, int]
    skipped: list[tuple[str, str]]
    fingerprint: Fingerprint
    downstream_checked: str | None


def file_digests(paths: list[Path]) -> set[str]:
    """Content digests of the readable files among ``paths``."""
    digests = set()
    for path in paths:
        try:
            digests.add(content_digest(read_file(path)))
        except BadImage:
            continue  # an unreadable file is no picture a pool could copy
    return digests


def downstream_to_check(data: DataConfig, checked: bool | None = None) -> list[Path] | None:
    """The downstream pictures a pool of ``data`` is checked against for copies, or None for none.

    ``checked``: whether the run being resumed was checked (its record rules: a pool never changes
    partway through a run). Otherwise a pool of one's own pictures with the default LFW task, while no
    LFW is on this machine, named (``data.lfw``, ``$PROXYTASK_LFW``) or in the cache, trains unchecked
    and without the network; any other downstream task is read, and checked against.
    """
    if checked is False:
        return None
    unnamed = data.lfw is None and not os.environ.get("PROXYTASK_LFW")
    if checked is None and data.downstream == DOWNSTREAM_DEFAULT and LFW_POOL not in data.pool and unnamed:
        try:
            locate_lfw(None, allow_download=False)
        except DataError:
            log.warning("LFW is not on this machine: the pool was not checked for copies of %s's pictures (the run "
                        "records it; transferring it to that task checks again)", data.downstream)
            return None
    return downstream_task(data).images.paths


def load_pool(data: DataConfig, seed: int, keep: Callable[[np.ndarray], np.ndarray], labels_of: PoolLabels,
              context: distributed.Context, checked: bool | None = None) -> PoolImages:
    """Cache the pool's sources (rank 0 first, the others then map them), drop unusable files and copies
    of downstream images (``checked``: as the run being resumed was, :func:`downstream_to_check`), keep
    the pictures ``keep`` chooses (from their gray flags, (N,) bool) and the labels ``labels_of`` gives,
    hold out ``data.heldout_images`` gallery images (seeded by ``seed``)."""
    sources = pool_sources(data)

    def cached_sources() -> list[ImageCache]:
        return [load_cache(source.paths, source.crop, data.image_size, data.workers) for source in sources]

    caches = cached_sources() if context.is_main else None
    distributed.barrier(context)
    if caches is None:
        caches = cached_sources()
    to_check = downstream_to_check(data, checked)
    downstream = file_digests(to_check or [])
    kept, groups, duplicates, gray = [], [], 0, 0
    for cache in caches:
        copies = cache.usable & np.array([digest in downstream for digest in cache.digests], dtype=bool)
        usable = cache.usable & ~copies
        chosen = usable & keep(cache.is_gray)
        gray += int((usable & ~chosen).sum())
        duplicates += int(copies.sum())
        rows = np.flatnonzero(chosen)
        kept.append(rows)
        groups += [str(Path(cache.paths[row]).parent) for row in rows]
    pool = PoolRows([cache.pixels for cache in caches], kept)
    usable = np.arange(len(pool))
    labels, num_classes = None, None
    labeled = labels_of(np.array(groups))
    if labeled is not None:
        usable, labels, num_classes = labeled
    if len(usable) <= data.heldout_images:
        copies = f" ({duplicates} of its pictures are copies of {data.downstream}'s, which the pool never holds)" if duplicates else ""
        raise ConfigError(f"the pool ({', '.join(data.pool)}) has {len(usable)} usable images, not more than "
                          f"data.heldout_images={data.heldout_images}{copies}")
    order = np.random.default_rng(seed).permutation(len(usable))
    heldout, train = np.sort(order[:data.heldout_images]), order[data.heldout_images:]
    train = np.sort(train[:max(1, round(data.pool_fraction * len(train)))])
    skipped = [entry for cache in caches for entry in cache.skipped]
    counts = {
        "pool_images": sum(len(cache.paths) for cache in caches),
        "images_skipped": len(skipped),
        "pool_duplicates_of_downstream": duplicates,
        "images_gray_excluded": gray,
        "heldout_images": len(heldout),
        "train_images": len(train),
        "pool_fraction": data.pool_fraction,
        **({"identities": num_classes} if num_classes is not None else {}),
    }

    def label_tensor(part: np.ndarray) -> torch.Tensor | None:
        return torch.from_numpy(labels[part]).long() if labels is not None else None

    fingerprint = {"pool": file_fingerprint(path for source in sources for path in source.paths)}
    if to_check is not None:
        fingerprint["downstream"] = file_fingerprint(to_check)
    return PoolImages(pool.subset(usable[train]), pool.subset(usable[heldout]).gather(np.arange(len(heldout))),
                      label_tensor(train), label_tensor(heldout), num_classes, counts,
                      [source.name for source in sources], skip_counts(skipped), skipped, fingerprint,
                      data.downstream if to_check is not None else None)
