"""One writer per folder: an advisory lock a command holds on its run or study folder while it runs.

The lock is ``flock`` on ``<folder>/.lock``, which records the holder's PID and command. The kernel
releases it when the holder exits, however it exits (a kill -9 included), so a stale lock never
blocks the next command; a second command on a held folder is refused at once, naming the holder.
A folder the lock had to create is removed again when the command leaves nothing else in it, so
a start that fails writes nothing.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proxytask.config import ConfigError

LOCK_FILE = ".lock"


class FolderBusy(ConfigError):
    """Another process holds the folder's lock; the message names its PID and command."""


def _holder(lock_path: Path) -> str:
    """What the lock file says about its holder (PID and command), or that it says nothing."""
    try:
        return lock_path.read_text(errors="replace").strip() or "an unknown process"
    except OSError:
        return "an unknown process"


@contextmanager
def folder_lock(folder: Path, what: str) -> Iterator[None]:
    """Hold the lock of ``folder`` (created if missing) for the ``with`` block; ``what`` names the
    folder's kind in the error (``run folder``, ``study folder``).

    Raises:
        FolderBusy: another process holds it.
    """
    folder = Path(folder)
    created = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    lock_path = folder / LOCK_FILE
    handle = None
    try:
        while handle is None:
            opened = open(lock_path, "a+")
            try:
                fcntl.flock(opened, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held; a file system without flock (ENOLCK, EOPNOTSUPP) raises as it is
                opened.close()
                raise FolderBusy(f"{what} {folder} is in use by {_holder(lock_path)}; wait for it to end, or stop it first "
                                 "(one command at a time may write a folder)") from None
            if os.path.exists(lock_path) and os.stat(lock_path).st_ino == os.fstat(opened.fileno()).st_ino:
                handle = opened
            else:  # the holder we waited behind removed the file while leaving: lock the new one
                opened.close()
        handle.seek(0)
        handle.truncate()
        handle.write(f"PID {os.getpid()} ({' '.join(sys.argv[:3])})\n")
        handle.flush()
        yield
    finally:
        if handle is not None:
            lock_path.unlink(missing_ok=True)  # while still held: the next holder locks a new file
            handle.close()
        for empty in created:  # innermost first: the folders this command made and left empty
            try:
                empty.rmdir()
            except OSError:
                break
