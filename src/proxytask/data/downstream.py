"""The labeled downstream task's pictures, decoded once into the cache and held in memory."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from proxytask.config import DataConfig
from proxytask.data.cache import load_cache
from proxytask.data.folders import LabeledImages
from proxytask.data.images import Crop, describe_skips
from proxytask.data.lfw import DataError, variant_of
from proxytask.data.selection import downstream_task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownstreamData:
    """The labeled task's usable images, cached: ``pixels`` (N, S, S, 3) uint8, ``labels`` (N,);
    the unusable files left out (``skipped``: path, reason), the crop the pictures are read with,
    and the classes that are people of the development task."""

    images: LabeledImages
    pixels: torch.Tensor
    labels: np.ndarray
    skipped: list[tuple[str, str]]
    crop: Crop
    development_overlap: tuple[str, ...] = ()

    @property
    def lfw_variant(self) -> str | None:
        """The LFW variant the pictures come from (deep-funneled, funneled, original), None for a folder."""
        variant = variant_of(Path(self.images.paths[0]).parent.parent)
        return variant if variant != "unknown" else None


_loaded: dict[str, DownstreamData] = {}


def load_downstream(data: DataConfig) -> DownstreamData:
    """Resolve ``data.downstream`` and cache its images; unusable files are dropped (and listed).
    Loaded once per process for each setting."""
    key = repr(data)
    if key not in _loaded:
        _loaded[key] = _load_downstream(data)
    return _loaded[key]


def _load_downstream(data: DataConfig) -> DownstreamData:
    task = downstream_task(data)
    images = task.images
    cache = load_cache(images.paths, task.crop, data.image_size, data.workers)
    labels = np.asarray(images.labels)
    for number, name in enumerate(images.class_names):
        if not cache.usable[labels == number].any():
            files = {str(path) for path, label in zip(images.paths, images.labels) if label == number}
            raise DataError(f"{task.spec}: class {name!r} has no usable image ({describe_skips([s for s in cache.skipped if s[0] in files])}); "
                            f"the first: {next(reason for path, reason in cache.skipped if path in files)}")
    if cache.skipped:
        log.warning("%s: %d unusable picture(s) left out (%s), e.g. %s", task.spec, len(cache.skipped), describe_skips(cache.skipped),
                    cache.skipped[0][0])
    rows = np.flatnonzero(cache.usable)
    usable = LabeledImages([images.paths[r] for r in rows], [images.labels[r] for r in rows], images.class_names)
    return DownstreamData(usable, torch.from_numpy(cache.pixels[rows]), np.asarray(usable.labels), cache.skipped,
                          task.crop, task.development_overlap)
