"""Decode, crop and resize every image once into a memory-mapped uint8 array on disk.

A cache is keyed by what it was made from (each file's path, size and modification time, the
crop, the size, the cache format version): a second run with the same inputs maps the array
instead of decoding again. Unusable files are skipped and listed, never fatal.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from proxytask.data.images import BadImage, Size, decode_image, height_width
from proxytask.data.lfw import DataError, proxytask_home

CACHE_FORMAT_VERSION = 1
_CHUNK = 128


@dataclass(frozen=True)
class ImageCache:
    """Row ``i`` of ``pixels`` holds ``paths[i]``; only rows with ``usable[i]`` hold an image.

    Attributes:
        pixels: (N, H, W, 3) uint8, memory-mapped read-only.
        paths: source file of each row.
        usable: (N,) bool, False for files that could not be decoded.
        is_gray: (N,) bool, True for pictures without color.
        skipped: (path, reason) for every unusable file.
        folder: where the cache lives.
    """

    pixels: np.ndarray
    paths: list[str]
    usable: np.ndarray
    is_gray: np.ndarray
    skipped: list[tuple[str, str]]
    folder: Path


def cache_key(paths: list[Path], crop: tuple[int, int, int, int] | None, size: Size) -> str:
    """Hash of everything the cached pixels depend on."""
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_FORMAT_VERSION, list(crop) if crop else None, list(height_width(size))]).encode())
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except FileNotFoundError:
            digest.update(f"{path}\0missing\n".encode())
    return digest.hexdigest()[:24]


def _decode_rows(job: tuple[str, int, list[str], tuple[int, int, int, int] | None, Size]) -> list[tuple[int, bool, bool, str]]:
    """Worker: decode ``paths`` into rows ``start..`` of the array file; (row, ok, gray, reason) each."""
    array_file, start, paths, crop, size = job
    pixels = np.load(array_file, mmap_mode="r+")
    results = []
    for offset, path in enumerate(paths):
        row = start + offset
        try:
            decoded = decode_image(Path(path), crop, size)
        except (BadImage, FileNotFoundError, PermissionError) as error:
            results.append((row, False, False, str(error)))
            continue
        pixels[row] = decoded.pixels
        results.append((row, True, decoded.is_gray, ""))
    return results  # the rows sit in the shared page cache; the parent syncs the file once


def _build(folder: Path, paths: list[str], crop: tuple[int, int, int, int] | None, size: Size, workers: int) -> None:
    """Decode ``paths`` into a new cache at ``folder`` (built in a staging folder, then renamed)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        array_file = staging / "pixels.npy"
        np.lib.format.open_memmap(array_file, mode="w+", dtype=np.uint8, shape=(len(paths), *height_width(size), 3)).flush()
        jobs = [(str(array_file), start, paths[start:start + _CHUNK], crop, size) for start in range(0, len(paths), _CHUNK)]
        usable = np.zeros(len(paths), dtype=bool)
        is_gray = np.zeros(len(paths), dtype=bool)
        skipped: list[tuple[str, str]] = []
        with tqdm(total=len(paths), desc="caching images", unit="img", mininterval=1.0) as bar:
            if workers > 1 and len(jobs) > 1:
                with ProcessPoolExecutor(max_workers=workers) as pool:
                    done = pool.map(_decode_rows, jobs)
                    for results in done:
                        _collect(results, paths, usable, is_gray, skipped, bar)
            else:
                for job in jobs:
                    _collect(_decode_rows(job), paths, usable, is_gray, skipped, bar)
        with open(array_file, "rb+") as handle:
            os.fsync(handle.fileno())
        index = {"paths": paths, "usable": usable.tolist(), "is_gray": is_gray.tolist(), "skipped": skipped,
                 "crop": list(crop) if crop else None, "size": list(height_width(size)), "version": CACHE_FORMAT_VERSION}
        (staging / "index.json").write_text(json.dumps(index))
        try:
            os.replace(staging, folder)
        except OSError:
            if not (folder / "index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _collect(results, paths, usable, is_gray, skipped, bar) -> None:
    for row, ok, gray, reason in results:
        usable[row] = ok
        is_gray[row] = gray
        if not ok:
            skipped.append((paths[row], reason))
    bar.update(len(results))


def load_cache(paths: list[Path], crop: tuple[int, int, int, int] | None, size: Size,
               workers: int = 2, home: Path | None = None) -> ImageCache:
    """Map the cache for ``paths``, building it first if it does not exist yet."""
    if not paths:
        raise DataError("no images to cache")
    names = [str(p) for p in paths]
    height, width = height_width(size)
    folder = (home or proxytask_home()) / "cache" / f"{height}x{width}-{cache_key(paths, crop, size)}"
    if not (folder / "index.json").is_file():
        _build(folder, names, crop, size, workers)
    index = json.loads((folder / "index.json").read_text())
    pixels = np.load(folder / "pixels.npy", mmap_mode="r")
    return ImageCache(
        pixels=pixels,
        paths=index["paths"],
        usable=np.array(index["usable"], dtype=bool),
        is_gray=np.array(index["is_gray"], dtype=bool),
        skipped=[tuple(s) for s in index["skipped"]],
        folder=folder,
    )
