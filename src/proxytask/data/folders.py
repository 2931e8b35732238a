"""Image-folder sources: ``root/<class>/<image>`` for labeled tasks, any image tree for a pool."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxytask.data.images import IMAGE_SUFFIXES
from proxytask.data.lfw import DataError


@dataclass(frozen=True)
class LabeledImages:
    """A labeled image set: ``paths[i]`` has class ``labels[i]``, an index into ``class_names``."""

    paths: list[Path]
    labels: list[int]
    class_names: list[str]

    def class_counts(self) -> dict[str, int]:
        """Number of images per class name."""
        counts = {name: 0 for name in self.class_names}
        for label in self.labels:
            counts[self.class_names[label]] += 1
        return counts


def labeled_from_groups(groups: dict[str, list[Path]], source: str) -> LabeledImages:
    """Build a labeled set from ``{class_name: files}``; every class needs at least one image."""
    if not groups:
        raise DataError(f"{source}: no classes selected")
    for name, files in groups.items():
        if not files:
            raise DataError(f"{source}: class folder {name!r} holds no images")
    names = sorted(groups)
    paths = [f for name in names for f in groups[name]]
    labels = [i for i, name in enumerate(names) for _ in groups[name]]
    return LabeledImages(paths=paths, labels=labels, class_names=names)


def _folder(root: Path) -> Path:
    """``root`` if it is a folder, else a DataError saying what it is."""
    root = Path(root)
    if root.is_file():
        raise DataError(f"{root} is a file; expected a folder of images")
    if not root.is_dir():
        raise DataError(f"image folder {root} does not exist")
    return root


def images_in(folder: Path) -> list[Path]:
    """The image files under ``folder`` (any depth), sorted."""
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)


def labeled_folder(root: Path) -> LabeledImages:
    """Read ``root/<class>/<image>``; raise a clear error for a missing root or an empty class."""
    root = _folder(root)
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in classes:
        if folder.is_symlink() and root.resolve().is_relative_to(folder.resolve()):
            raise DataError(f"class folder {folder} links to {folder.resolve()}, which holds the task folder itself: its pictures "
                            "would count in two classes; remove the link")
    if len(classes) < 2:
        raise DataError(f"image folder {root} has {len(classes)} class subfolder(s); a classification task needs at least 2 "
                        "(expected root/<class>/<image>)")
    groups = {c.name: images_in(c) for c in classes}
    _refuse_shared_pictures(root, classes, groups)
    return labeled_from_groups(groups, str(root))


def _refuse_shared_pictures(root: Path, classes: list[Path], groups: dict[str, list[Path]]) -> None:
    """A DataError when two classes of ``root`` hold the same file (a class folder linked to another,
    or a file linked into two classes): its pictures would count in both."""
    owner: dict[tuple[int, int], str] = {}
    for folder in classes:
        for path in groups[folder.name]:
            stat = path.stat()  # a file's identity: its device and inode, the same through links of any kind
            other = owner.setdefault((stat.st_dev, stat.st_ino), folder.name)
            if other != folder.name:
                linked = next((c for c in (folder, root / other) if c.is_symlink()), None)
                how = f"class folder {linked} is a link to {linked.resolve()}" if linked else f"{path} is a link to a file of {other!r}"
                raise DataError(f"classes {other!r} and {folder.name!r} of {root} hold the same picture ({how}): it would count "
                                "in two classes; remove the link or the copy")


def image_tree(root: Path) -> list[Path]:
    """Every image file below ``root``, for an unlabeled pool."""
    root = _folder(root)
    files = images_in(root)
    if not files:
        raise DataError(f"image folder {root} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files
