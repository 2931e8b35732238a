"""Atomic file writes: a reader never sees a half-written file, a crash never loses the old one."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``hashlib`` algorithm name), read 1 MiB at a time."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


FULL_DISK = (errno.ENOSPC, errno.EDQUOT)
# Below this many free bytes, torch's archive writer's "unexpected pos" (a short write) is a full disk.
NEARLY_FULL_BYTES = 1 << 20


def is_full_disk(error: BaseException, folder: Path) -> bool:
    """``error`` says the disk holding ``folder`` is full: an OSError of a full disk or quota, any
    writer's "No space left on device" (safetensors, torch), or torch's short-write "unexpected pos"
    while ``folder``'s disk is nearly full."""
    if isinstance(error, OSError) and error.errno in FULL_DISK:
        return True
    text = str(error)
    if "No space left on device" in text:
        return True
    return isinstance(error, RuntimeError) and "unexpected pos" in text and shutil.disk_usage(folder).free < NEARLY_FULL_BYTES


@contextmanager
def naming_full_disk(path: Path) -> Iterator[None]:
    """Re-raise a full disk met writing ``path`` as an OSError naming ``path`` (the system and the
    writers often name no file); any other error, and a full disk already named, as it is."""
    try:
        yield
    except Exception as error:
        if is_full_disk(error, Path(path).parent) and getattr(error, "filename", None) is None:
            raise OSError(errno.ENOSPC, "No space left on device", str(path)) from error
        raise


def _new_file_beside(path: Path) -> Path:
    """A new empty file beside ``path`` under a unique hidden name, created with mode 0o666 so that
    the kernel applies the umask, as a plain ``open`` does (``mkstemp`` makes it owner-only)."""
    while True:
        candidate = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return candidate
        except FileExistsError:
            continue


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over ``path``; the
    file gets the permissions a plain ``open`` would give it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_file_beside(path)
    try:
        with naming_full_disk(path):
            write(tmp_path)
            with open(tmp_path, "rb") as written:
                os.fsync(written.fileno())
            os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


# How the project writes and reads text files: UTF-8, with the bytes of file names that are not
# UTF-8 (which Python reads as surrogate escapes) written back as the same bytes, so a name read
# from a manifest or a list of skipped files is the name on disk.
TEXT_ENCODING = {"encoding": "utf-8", "errors": "surrogateescape"}


def printable(text: str) -> str:
    """``text`` for a message or a report: bytes of a name that is not UTF-8 shown as ``\\xe9``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (:data:`TEXT_ENCODING`)."""
    write_atomic(path, lambda tmp: tmp.write_text(text, **TEXT_ENCODING))


def finite_json(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: finite_json(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_json(value) for value in data]
    return data


class DamagedFile(ValueError):
    """A file the project wrote cannot be read back; the message names it."""


def read_json(path: Path) -> Any:
    """The JSON value in ``path`` (a file the project wrote), or a DamagedFile naming it."""
    try:
        return json.loads(Path(path).read_text(**TEXT_ENCODING))
    except (OSError, ValueError) as error:
        raise DamagedFile(f"{path} cannot be read as JSON ({' '.join(str(error).split())}): it was damaged or cut short") from None


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented, valid JSON to ``path`` atomically (NaN and infinities as null)."""
    write_text_atomic(path, json.dumps(finite_json(data), indent=2, sort_keys=False, allow_nan=False) + "\n")
