"""What a run or a study was built from: the name, size and modification time of every picture file.

A run records the fingerprint of its pool (and of the downstream pictures its pool was checked
against) when it starts, a study that of its downstream pictures and pool; resuming or restarting
on pictures that were added, removed or modified since is refused, naming what changed, because
the work already done was computed on the pictures as they were.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from proxytask.data.lfw import DataError
from proxytask.files import printable, read_json, write_json_atomic

log = logging.getLogger(__name__)

# A fingerprint: for each part (pool, downstream), file name -> [size in bytes, modification time in ns].
Fingerprint = dict[str, dict[str, list[int]]]
MISSING = [-1, -1]
EXAMPLES = 2


def file_fingerprint(paths: Iterable[Path | str]) -> dict[str, list[int]]:
    """``{name: [size, mtime_ns]}`` of each file (``[-1, -1]`` for one that cannot be read), each named
    by its path below the folder all of them share: a copy of the same pictures elsewhere (LFW found
    in another folder) has the same fingerprint."""
    paths = [str(path) for path in paths]
    if not paths:
        return {}
    common = os.path.commonpath(paths)
    root = common if os.path.isdir(common) else os.path.dirname(common)
    found = {}
    for path in paths:
        try:
            stat = os.stat(path)
            found[os.path.relpath(path, root)] = [stat.st_size, stat.st_mtime_ns]
        except OSError:
            found[os.path.relpath(path, root)] = MISSING
    return found


def describe_changes(before: dict[str, list[int]], after: dict[str, list[int]]) -> str:
    """The files added, removed and modified between two fingerprints of one part, in words (``""``: none);
    files are named below the folder they share."""
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    modified = sorted(path for path in set(before) & set(after) if before[path] != after[path])
    parts = []
    for names, word in ((added, "added"), (removed, "removed"), (modified, "modified")):
        if names:
            shown = ", ".join(printable(name) for name in names[:EXAMPLES])
            parts.append(f"{len(names)} {word} (e.g. {shown})")
    return "; ".join(parts)


def record_fingerprint(path: Path, fingerprint: Fingerprint) -> None:
    write_json_atomic(path, fingerprint)


# The way on from changed pictures, the same for a run and a study.
START_OVER = "start over on the pictures as they are now in another --out"


def check_fingerprint(path: Path, fingerprint: Fingerprint, what: str, way_on: str = START_OVER) -> None:
    """Refuse to continue ``what`` (a run or study folder) when the pictures it recorded in ``path``
    differ from ``fingerprint`` now; nothing to check where none was recorded (a folder of an earlier version).

    Raises:
        DataError: naming each part that changed and how, and ``way_on``.
    """
    if not path.is_file():
        log.warning("%s holds no record of its pictures (made by an earlier version): they are recorded as they are now, "
                    "and changes from here on are noticed", what)
        return
    recorded: Fingerprint = read_json(path)
    changed = [f"{part}: {text}" for part in sorted(set(recorded) | set(fingerprint))
               if (text := describe_changes(recorded.get(part, {}), fingerprint.get(part, {})))]
    if changed:
        raise DataError(f"the pictures of {what} changed since it started ({'; '.join(changed)}); its work was computed on the "
                        f"pictures as they were: put them back, or {way_on}")
