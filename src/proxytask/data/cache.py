"""Decode, crop and resize every image once into a memory-mapped uint8 array on disk.

A cache is keyed by what it was made from (each file's path, size and modification time, the
crop, the size, the cache format version): a second run with the same inputs maps the array
instead of decoding again. Unusable files are skipped and listed with their reason, never fatal.
Each row also keeps a digest of its file's bytes, so exact copies of an image can be found.

The build is resumable: rows are decoded into ``<cache>.partial/`` in chunks, and each finished
chunk is appended to its ``rows.jsonl``; an interrupted build (even killed) restarts from the
chunks it has, and the folder is renamed into place when every row is done. A lock file keeps
two processes from building the same cache at once.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from proxytask.data.images import BadImage, Crop, Size, decode_image, height_width, read_file
from proxytask.data.lfw import DataError, proxytask_home
from proxytask.distributed import usable_cores
from proxytask.files import FULL_DISK

log = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 2
PR_SET_PDEATHSIG = 1  # prctl option: the signal a process gets when its parent dies
_CHUNK = 128
# Room the cache's index (paths, flags, digests) takes per image, on top of its pixels, for the free-space check.
CACHE_INDEX_BYTES_PER_IMAGE = 512


@dataclass(frozen=True)
class ImageCache:
    """Row ``i`` of ``pixels`` holds ``paths[i]``; only rows with ``usable[i]`` hold an image.

    Attributes:
        pixels: (N, H, W, 3) uint8, memory-mapped read-only.
        paths: source file of each row.
        usable: (N,) bool, False for files that could not be decoded.
        is_gray: (N,) bool, True for pictures without color.
        digests: content digest (BLAKE2b of the file's bytes) of each row, "" where unreadable.
        skipped: (path, "kind: detail") for every unusable file.
        folder: where the cache lives.
    """

    pixels: np.ndarray
    paths: list[str]
    usable: np.ndarray
    is_gray: np.ndarray
    digests: list[str]
    skipped: list[tuple[str, str]]
    folder: Path


def content_digest(data: bytes) -> str:
    """Digest of a file's bytes: equal for exact copies of a file, wherever they lie."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def cache_key(paths: list[Path], crop: Crop, size: Size) -> str:
    """Hash of everything the cached pixels depend on."""
    digest = hashlib.sha256()
    digest.update(json.dumps([CACHE_FORMAT_VERSION, list(crop) if isinstance(crop, tuple) else crop, list(height_width(size))]).encode())
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(os.fsencode(path) + f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(os.fsencode(path) + b"\0missing\n")
    return digest.hexdigest()[:24]


def _decode_rows(job: tuple[str, int, list[str], Crop, Size]) -> dict[str, object]:
    """Worker: decode ``paths`` into rows ``start..`` of the array file; the chunk's record (start,
    usable, gray, digests, skipped)."""
    array_file, start, paths, crop, size = job
    pixels = np.load(array_file, mmap_mode="r+")
    usable, gray, digests, skipped = [], [], [], []
    for offset, path in enumerate(paths):
        digest, ok, is_gray = "", False, False
        try:
            data = read_file(Path(path))
            digest = content_digest(data)
            decoded = decode_image(Path(path), crop, size, data)
            pixels[start + offset] = decoded.pixels
            ok, is_gray = True, bool(decoded.is_gray)
        except BadImage as error:
            skipped.append((path, str(error)))
        usable.append(ok)
        gray.append(is_gray)
        digests.append(digest)
    pixels.flush()
    return {"start": start, "usable": usable, "gray": gray, "digests": digests, "skipped": skipped}


def _die_with_parent() -> None:
    """Decoding worker start-up (Linux): the kernel kills this worker when its parent dies, even by
    SIGKILL, so a killed build leaves no orphaned workers behind."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the workers end when their task queue closes
        pass


@contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` while building (other builders of the same cache wait).

    A POSIX record lock (``lockf``) belongs to this process alone: decoding workers forked from it
    do not inherit it, so a killed build never leaves the lock held by orphaned workers.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log.info("waiting for another process building this cache (%s)", lock_file)
            fcntl.lockf(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.lockf(handle, fcntl.LOCK_UN)


def _array_of_shape(array_file: Path, shape: tuple[int, ...]) -> bool:
    """True when ``array_file`` is a readable uint8 array of ``shape`` (an interrupted build's)."""
    try:
        return np.load(array_file, mmap_mode="r").shape == shape
    except (OSError, ValueError, EOFError):
        return False


def _done_chunks(progress: Path) -> dict[int, dict[str, object]]:
    """The chunks an earlier, interrupted build finished (a torn last line is ignored)."""
    done = {}
    if progress.is_file():
        for line in progress.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[int(record["start"])] = record
    return done


def _reserve(array_file: Path) -> None:
    """Allocate the array file's blocks now, so that a disk that fills up fails here, naming the file,
    instead of killing a decoding worker that writes into a hole of the mapped file (SIGBUS)."""
    with open(array_file, "rb+") as handle:
        try:
            os.posix_fallocate(handle.fileno(), 0, os.fstat(handle.fileno()).st_size)
        except OSError as error:
            if error.errno in FULL_DISK:
                array_file.unlink(missing_ok=True)
                raise DataError(f"not enough disk space for the image cache {array_file} "
                                f"({os.fstat(handle.fileno()).st_size:,} bytes); free some space, or set PROXYTASK_HOME "
                                "to a folder on a larger disk") from None
            if error.errno not in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without fallocate: written as it goes
                raise


def _check_space(folder: Path, needed: int) -> None:
    """A DataError naming ``folder`` and the bytes the cache needs when its file system has less free."""
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise DataError(f"not enough disk space for the image cache in {folder}: it needs {needed:,} bytes, {free:,} are free; "
                        "free some space, or set PROXYTASK_HOME to a folder on a larger disk")


def _build(folder: Path, paths: list[str], crop: Crop, size: Size, workers: int) -> None:
    """Decode ``paths`` into the cache at ``folder``, resuming the chunks of an interrupted build."""
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    array_file, progress = partial / "pixels.npy", partial / "rows.jsonl"
    shape = (len(paths), *height_width(size), 3)
    if not _array_of_shape(array_file, shape):
        progress.unlink(missing_ok=True)
        array_file.unlink(missing_ok=True)
        _check_space(partial, math.prod(shape) + CACHE_INDEX_BYTES_PER_IMAGE * len(paths))
        np.lib.format.open_memmap(array_file, mode="w+", dtype=np.uint8, shape=shape).flush()
        _reserve(array_file)
    done = _done_chunks(progress)
    if progress.is_file() and not progress.read_bytes().endswith(b"\n"):
        with open(progress, "a") as torn:  # a record cut short by a kill: the next one starts on its own line
            torn.write("\n")
    jobs = [(str(array_file), start, paths[start:start + _CHUNK], crop, size)
            for start in range(0, len(paths), _CHUNK) if start not in done]
    with tqdm(total=len(paths), initial=len(paths) - sum(len(job[2]) for job in jobs), desc="caching images", unit="img",
              mininterval=1.0) as bar, open(progress, "a") as log:
        def record(chunk: dict[str, object]) -> None:
            log.write(json.dumps(chunk) + "\n")
            log.flush()
            done[int(chunk["start"])] = chunk
            bar.update(len(chunk["usable"]))

        workers = min(workers, usable_cores(), len(jobs))  # more processes than cores or chunks only cost memory
        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent) as pool:
                for chunk in pool.map(_decode_rows, jobs):
                    record(chunk)
        else:
            for job in jobs:
                record(_decode_rows(job))
    with open(array_file, "rb+") as handle:
        os.fsync(handle.fileno())
    chunks = [done[start] for start in sorted(done)]
    index = {"paths": paths, "usable": [u for c in chunks for u in c["usable"]], "is_gray": [g for c in chunks for g in c["gray"]],
             "digests": [d for c in chunks for d in c["digests"]], "skipped": [s for c in chunks for s in c["skipped"]],
             "crop": list(crop) if isinstance(crop, tuple) else crop, "size": list(height_width(size)), "version": CACHE_FORMAT_VERSION}
    (partial / "index.json").write_text(json.dumps(index))
    progress.unlink()
    shutil.rmtree(folder, ignore_errors=True)  # a folder without index.json is no finished cache
    os.replace(partial, folder)


def load_cache(paths: list[Path], crop: Crop, size: Size, workers: int = 2, home: Path | None = None) -> ImageCache:
    """Map the cache for ``paths`` (read with ``crop``, resized to ``size``), building it first if it
    does not exist yet (or finishing an interrupted build)."""
    if not paths:
        raise DataError("no images to cache")
    names = [str(p) for p in paths]
    height, width = height_width(size)
    folder = (home or proxytask_home()) / "cache" / f"{height}x{width}-{cache_key(paths, crop, size)}"
    if not (folder / "index.json").is_file():
        with _locked(folder.with_name(folder.name + ".lock")):
            if not (folder / "index.json").is_file():
                _build(folder, names, crop, size, workers)
    index = json.loads((folder / "index.json").read_text())
    pixels = np.load(folder / "pixels.npy", mmap_mode="r")
    return ImageCache(
        pixels=pixels,
        paths=index["paths"],
        usable=np.array(index["usable"], dtype=bool),
        is_gray=np.array(index["is_gray"], dtype=bool),
        digests=index["digests"],
        skipped=[tuple(s) for s in index["skipped"]],
        folder=folder,
    )
