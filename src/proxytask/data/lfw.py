"""Find, download, verify and extract LFW deep-funneled; select people for tasks and pools.

Lookup order for the archive (first hit wins):
1. a path given on the command line, else ``$PROXYTASK_LFW``: a folder holding
   ``lfw-deepfunneled.tgz``, the ``lfw-deepfunneled/`` folder itself, or a folder holding it;
2. the cache folder ``$PROXYTASK_HOME`` (default ``~/.cache/proxytask``);
3. the official archive, downloaded into the cache folder and checked against its published MD5.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from proxytask.data.images import IMAGE_SUFFIXES

ARCHIVE_NAME = "lfw-deepfunneled.tgz"
FOLDER_NAME = "lfw-deepfunneled"
OFFICIAL_URL = "http://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz"
OFFICIAL_MD5 = "68331da3eb755a505a502b5aacb3c201"
DOWNSTREAM_DEFAULT = "lfw-politicians-7"
POLITICIANS_MIN_FACES = 70
# The development task: the next 7 people by image count (48 to 69 images each: Junichiro Koizumi
# ... Luiz Inacio Lula da Silva), on which the fine-tuning recipe is fixed once, so that no label
# of the test task chooses it. Its people are kept out of every pool, like the test task's.
DEV_TASK = "lfw-dev-7"
DEV_MIN_FACES = 48


class DataError(ValueError):
    """Input data is missing or unusable; the message names the path or setting."""


def proxytask_home() -> Path:
    """The cache folder: ``$PROXYTASK_HOME`` or ``~/.cache/proxytask``."""
    return Path(os.environ.get("PROXYTASK_HOME", Path.home() / ".cache" / "proxytask")).expanduser()


def _file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_archive(archive: Path) -> None:
    """Check ``archive`` against a ``SHA256SUMS`` file beside it, if there is one.

    Raises:
        DataError: the checksum is listed and does not match.
    """
    sums = archive.parent / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == archive.name:
            actual = _file_digest(archive, "sha256")
            if actual != parts[0]:
                raise DataError(f"{archive} does not match its SHA256 in {sums} (expected {parts[0]}, got {actual}); the file is damaged")
            return


def extract_archive(archive: Path, destination: Path) -> Path:
    """Extract ``archive`` (safely, tarfile ``filter="data"``) into ``destination``; returns the image folder.

    Extraction goes to a temporary folder renamed into place at the end, so an interrupted
    extraction never looks finished.
    """
    target = destination / FOLDER_NAME
    if target.is_dir():
        return target
    destination.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=destination))
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for member in tqdm(members, desc=f"extracting {archive.name}", unit="file", leave=False, mininterval=1.0):
                tar.extract(member, staging, filter="data")
        extracted = staging / FOLDER_NAME
        if not extracted.is_dir():
            raise DataError(f"{archive} does not hold a top folder {FOLDER_NAME}/ as the LFW archive does")
        os.replace(extracted, target)
    except tarfile.FilterError as error:
        raise DataError(f"{archive} holds an unsafe member, refused: {error}") from None
    except tarfile.TarError as error:
        raise DataError(f"{archive} is not a readable tar archive: {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def download_archive(destination: Path, url: str = OFFICIAL_URL, md5: str = OFFICIAL_MD5) -> Path:
    """Download the official archive into ``destination`` with a progress bar and check its MD5."""
    destination.mkdir(parents=True, exist_ok=True)
    archive = destination / ARCHIVE_NAME
    partial = destination / (ARCHIVE_NAME + ".part")
    with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {ARCHIVE_NAME}") as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))
    actual = _file_digest(partial, "md5")
    if actual != md5:
        partial.unlink()
        raise DataError(f"download from {url} has MD5 {actual}, expected {md5}; it was deleted, try again")
    os.replace(partial, archive)
    return archive


def _folder_in(path: Path) -> Path | None:
    """The extracted image folder at or in ``path``, after extracting an archive found there."""
    if path.name == FOLDER_NAME and path.is_dir():
        return path
    if (path / FOLDER_NAME).is_dir():
        return path / FOLDER_NAME
    archive = path if path.is_file() else path / ARCHIVE_NAME
    if archive.is_file():
        verify_archive(archive)
        return extract_archive(archive, proxytask_home() / "lfw")
    return None


def locate_lfw(path: str | Path | None = None, allow_download: bool = True) -> Path:
    """Return the extracted ``lfw-deepfunneled/`` folder, finding or fetching it as the module says.

    Raises:
        DataError: a given path holds no LFW, or nothing is local and the download fails.
    """
    given = path if path is not None else os.environ.get("PROXYTASK_LFW")
    if given:
        given_path = Path(given).expanduser()
        if not given_path.exists():
            raise DataError(f"LFW path {given_path} does not exist; give a folder holding {ARCHIVE_NAME} or the extracted {FOLDER_NAME}/")
        found = _folder_in(given_path)
        if found is None:
            raise DataError(f"{given_path} holds neither {ARCHIVE_NAME} nor an extracted {FOLDER_NAME}/ folder")
        return found
    home = proxytask_home()
    for candidate in (home / "lfw", home):
        found = _folder_in(candidate) if candidate.exists() else None
        if found is not None:
            return found
    if allow_download:
        try:
            return extract_archive(download_archive(home / "lfw"), home / "lfw")
        except (urllib.error.URLError, OSError) as error:
            reason = f"the download from {OFFICIAL_URL} failed ({error})"
    else:
        reason = "downloading is switched off"
    raise DataError(
        f"LFW not found and {reason}. Put {ARCHIVE_NAME} in {home / 'lfw'} "
        f"or pass --lfw FOLDER (or set PROXYTASK_LFW) to a folder holding it."
    )


@dataclass(frozen=True)
class PeopleIndex:
    """Every person's images: ``images[name]`` is the sorted list of their image files."""

    root: Path
    images: dict[str, list[Path]]

    @classmethod
    def scan(cls, root: Path) -> PeopleIndex:
        """Index ``root/<Person_Name>/<image>``; people are sorted by name."""
        if not root.is_dir():
            raise DataError(f"LFW folder {root} does not exist")
        images = {}
        for person in sorted(p for p in root.iterdir() if p.is_dir()):
            files = sorted(f for f in person.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if files:
                images[person.name] = files
        if not images:
            raise DataError(f"LFW folder {root} holds no person folders with images")
        return cls(root=root, images=images)

    def with_min_faces(self, min_faces: int, below: int | None = None) -> list[str]:
        """Names of the people with at least ``min_faces`` images (and fewer than ``below``)."""
        if min_faces < 1:
            raise DataError(f"min_faces must be >= 1, got {min_faces}")
        return [name for name, files in self.images.items() if len(files) >= min_faces and (below is None or len(files) < below)]

    def check_names(self, names: list[str]) -> list[str]:
        """Return ``names`` if all are LFW people, else raise naming the first unknown one."""
        for name in names:
            if name not in self.images:
                close = [n for n in self.images if n.lower().startswith(name.lower()[:4])][:5]
                hint = f"; similar: {', '.join(close)}" if close else ""
                raise DataError(f"no LFW person folder named {name!r} in {self.root}{hint}")
        return names

    def pool_excluding(self, people: list[str]) -> list[Path]:
        """Every image of every person not in ``people``: the unlabeled pretraining pool."""
        excluded = set(people)
        return [f for name, files in self.images.items() if name not in excluded for f in files]
