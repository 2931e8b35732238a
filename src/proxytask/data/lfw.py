"""Find, download, verify and extract LFW; select people for tasks and pools.

LFW comes in three variants (:data:`VARIANTS`), read alike (one folder per person): deep-funneled
(the project's reference, aligned by Huang et al. 2012), funneled, and the original pictures. All
three are centered on the face by the detector, so the same central face crop serves them.

Lookup order (first hit wins):
1. a path given on the command line, else ``$PROXYTASK_LFW``: a folder holding a variant's
   archive, a variant's extracted folder itself, or a folder holding one;
2. the cache folder ``$PROXYTASK_HOME`` (default ``~/.cache/proxytask``);
3. a download into the cache folder from the first source that answers: the deep-funneled archive
   from its authors' site, then the funneled and the original archives from the figshare copies
   that scikit-learn fetches; each verified against its published checksum.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from proxytask.data.images import IMAGE_SUFFIXES
from proxytask.files import file_digest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LfwVariant:
    """One LFW archive: its file name, the folder it extracts to, where to download it and its checksum."""

    name: str
    archive: str
    folder: str
    url: str
    algorithm: str
    digest: str


# In order of preference; the checksums are the ones published with each source.
VARIANTS = (
    LfwVariant("deep-funneled", "lfw-deepfunneled.tgz", "lfw-deepfunneled", "https://vis-www.cs.umass.edu/lfw/lfw-deepfunneled.tgz",
               "md5", "68331da3eb755a505a502b5aacb3c201"),
    LfwVariant("funneled", "lfw-funneled.tgz", "lfw_funneled", "https://ndownloader.figshare.com/files/5976015",
               "sha256", "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a"),
    LfwVariant("original", "lfw.tgz", "lfw", "https://ndownloader.figshare.com/files/5976018",
               "sha256", "055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0"),
)
ARCHIVE_NAME = VARIANTS[0].archive
FOLDER_NAME = VARIANTS[0].folder
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
            actual = file_digest(archive, "sha256")
            if actual != parts[0]:
                raise DataError(f"{archive} does not match its SHA256 in {sums} (expected {parts[0]}, got {actual}); the file is damaged")
            return
    log.warning("%s does not list %s: the archive is used unverified", sums, archive.name)


MARKER = ".extracted-from.json"


def _archive_identity(archive: Path) -> dict[str, object]:
    stat = archive.stat()
    return {"archive": archive.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _extracted_from(target: Path, archive: Path) -> bool:
    """True when ``target`` was extracted, completely, from this very archive (its marker says so:
    same size and time, or failing those the same SHA-256)."""
    try:
        marker = json.loads((target / MARKER).read_text())
    except (OSError, ValueError):
        return False
    identity = _archive_identity(archive)
    if all(marker.get(key) == value for key, value in identity.items()):
        return True
    return marker.get("sha256") == file_digest(archive, "sha256")


def _check_archive_end(tar: tarfile.TarFile, archive: Path, members: int) -> None:
    """After the last member tarfile could read, only the end-of-archive zero blocks may follow: data
    there means a damaged header stopped the listing early (tarfile stops silently). Reading to the
    end also checks a gzip stream's CRC."""
    assert tar.fileobj is not None
    tar.fileobj.seek(tar.offset)
    while chunk := tar.fileobj.read(1 << 20):
        if chunk.count(0) != len(chunk):
            raise DataError(f"{archive} is damaged: data follows its last readable member (member {members}); "
                            "download it again")


def extract_archive(archive: Path, destination: Path, variant: LfwVariant = VARIANTS[0]) -> Path:
    """Extract ``archive`` (safely, tarfile ``filter="data"``) into ``destination``; returns the image folder.

    Extraction goes to a staging folder moved into place once every member is out and the archive
    is read to its end, so an interrupted or damaged extraction never looks finished. A marker in
    the tree names the archive it came from; a tree without one, or from another archive, is
    extracted again.
    """
    target = destination / variant.folder
    if target.is_dir() and _extracted_from(target, archive):
        return target
    destination.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=destination))
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = 0
            for member in tqdm(tar, desc=f"extracting {archive.name}", unit="file", leave=False, mininterval=1.0):
                tar.extract(member, staging, filter="data")
                members += 1
            _check_archive_end(tar, archive, members)
        extracted = staging / variant.folder
        if not extracted.is_dir():
            raise DataError(f"{archive} does not hold a top folder {variant.folder}/ as the LFW {variant.name} archive does")
        marker = {**_archive_identity(archive), "sha256": file_digest(archive, "sha256"), "members": members}
        (extracted / MARKER).write_text(json.dumps(marker))
        if target.exists():  # another archive's tree, or one without a marker: moved aside, then removed
            stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=destination))
            os.replace(target, stale / variant.folder)
        os.replace(extracted, target)
    except tarfile.FilterError as error:
        raise DataError(f"{archive} holds an unsafe member, refused: {error}") from None
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DataError(f"{archive} is not a readable tar archive (damaged or cut short?): {error}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        for stale in destination.glob(".stale-*"):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def download_archive(destination: Path, variant: LfwVariant) -> Path:
    """Download a variant's archive into ``destination`` with a progress bar and verify its checksum."""
    destination.mkdir(parents=True, exist_ok=True)
    archive = destination / variant.archive
    partial = destination / (variant.archive + ".part")
    with urllib.request.urlopen(variant.url, timeout=30) as response, open(partial, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=f"downloading {variant.archive}") as bar:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                out.write(chunk)
                bar.update(len(chunk))
    actual = file_digest(partial, variant.algorithm)
    if actual != variant.digest:
        partial.unlink()
        raise DataError(f"download from {variant.url} has {variant.algorithm.upper()} {actual}, expected {variant.digest}; "
                        "it was deleted, try again")
    os.replace(partial, archive)
    return archive


def _holds_people(folder: Path) -> bool:
    """True for a folder with at least one person sub-folder (an extracted LFW variant, not an empty
    or half-made one)."""
    return folder.is_dir() and any(child.is_dir() and not child.name.startswith(".") for child in folder.iterdir())


def _folder_in(path: Path) -> Path | None:
    """The extracted image folder of any variant at or in ``path``, after extracting an archive found
    there (a file of another name is read as the deep-funneled archive)."""
    for variant in VARIANTS:
        if path.name == variant.folder and _holds_people(path) and not any((path / v.folder).is_dir() for v in VARIANTS):
            return path
        if _holds_people(path / variant.folder):
            return path / variant.folder
    for variant in VARIANTS:
        archive = path / variant.archive
        if path.is_file():
            archive = path
            variant = next((v for v in VARIANTS if v.archive == path.name), VARIANTS[0])
        if archive.is_file():
            verify_archive(archive)
            return extract_archive(archive, proxytask_home() / "lfw", variant)
    return None


def variant_of(folder: Path) -> str:
    """The LFW variant an extracted folder is (by its name), e.g. ``deep-funneled``."""
    return next((variant.name for variant in VARIANTS if folder.name == variant.folder), "unknown")


def locate_lfw(path: str | Path | None = None, allow_download: bool = True) -> Path:
    """Return an extracted LFW folder (one sub-folder per person), finding or fetching it as the module says.

    Raises:
        DataError: a given path holds no LFW, or nothing is local and every download fails.
    """
    given = path if path is not None else os.environ.get("PROXYTASK_LFW")
    archives = " or ".join(variant.archive for variant in VARIANTS)
    if given:
        given_path = Path(given).expanduser()
        if not given_path.exists():
            raise DataError(f"LFW path {given_path} does not exist; give a folder holding {archives} or the extracted folder")
        found = _folder_in(given_path)
        if found is None:
            raise DataError(f"{given_path} holds neither {archives} nor an extracted {FOLDER_NAME}/ folder")
        return found
    home = proxytask_home()
    for candidate in (home / "lfw", home):
        found = _folder_in(candidate) if candidate.exists() else None
        if found is not None:
            return found
    failures = []
    if allow_download:
        for variant in VARIANTS:
            try:
                found = extract_archive(download_archive(home / "lfw", variant), home / "lfw", variant)
            except (urllib.error.URLError, OSError, DataError) as error:
                failures.append(f"{variant.url}: {error}")
                continue
            if variant is not VARIANTS[0]:
                log.warning("using LFW %s (%s): the deep-funneled archive could not be downloaded", variant.name, found)
            return found
    reason = "every download failed (" + "; ".join(failures) + ")" if failures else "downloading is switched off"
    raise DataError(
        f"LFW not found and {reason}. Download {ARCHIVE_NAME} by hand (e.g. from {VARIANTS[0].url}, or the figshare copies "
        f"{VARIANTS[1].url} and {VARIANTS[2].url}), put it in {home / 'lfw'} or pass --lfw FOLDER (or set PROXYTASK_LFW) "
        "to the folder holding it."
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
