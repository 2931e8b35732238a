"""Turn the data settings into a labeled downstream task and the unlabeled pretraining pool.

Downstream specs: ``lfw-politicians-7`` (people with >= 70 images), ``lfw-dev-7`` (the development
task: the next 7 people, 48 to 69 images), ``lfw:min_faces=N``, ``lfw:people=Name_One,Name_Two``
(LFW folder names), or a path to ``root/<class>/<image>``. A spec that is none of these and no
existing folder is refused before any picture is looked up, naming the nearest known spec.

Pool sources (``data.pool``): ``lfw`` (LFW without the people of the downstream task and of the
development task) and any folder of images, searched recursively. LFW is only looked up when an
LFW spec or the ``lfw`` pool is used. LFW pictures are read with the face crop; other folders with
``data.folder_crop`` (the centered square by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxytask.config import DataConfig, looks_like_path, unknown_name_error
from proxytask.data.folders import LabeledImages, image_tree, labeled_folder, labeled_from_groups
from proxytask.data.images import CENTER, Crop
from proxytask.data.lfw import DEV_MIN_FACES, DEV_TASK, DOWNSTREAM_DEFAULT, POLITICIANS_MIN_FACES, DataError, PeopleIndex, locate_lfw

LFW_POOL = "lfw"
# The LFW selections of lfw:key=value specs, and every downstream spec by name (as the errors list them).
LFW_PREFIX = "lfw:"
LFW_KEYS = ("min_faces", "people")
DOWNSTREAM_NAMES = (DOWNSTREAM_DEFAULT, DEV_TASK, "lfw:min_faces=N", "lfw:people=Name_One,Name_Two")


@dataclass(frozen=True)
class ImageSource:
    """Image files read with one crop: ``name`` is ``lfw`` or the folder they come from."""

    name: str
    paths: list[Path]
    crop: Crop


@dataclass(frozen=True)
class Downstream:
    """The labeled task, the crop its images are read with, and the classes that are people of the
    development task (whose labels fixed the fine-tuning recipe)."""

    spec: str
    images: LabeledImages
    crop: Crop
    development_overlap: tuple[str, ...] = ()


def is_lfw_spec(spec: str) -> bool:
    """True for the downstream specs that name LFW people (a folder is never one, whatever its name)."""
    return spec in (DOWNSTREAM_DEFAULT, DEV_TASK) or spec.startswith(LFW_PREFIX)


def _lfw_index(lfw: str | None) -> PeopleIndex:
    """Every LFW person's pictures, LFW found as :func:`locate_lfw` says."""
    return PeopleIndex.scan(locate_lfw(lfw))


def _lfw_key(spec: str) -> tuple[str, str]:
    """(key, value) of an ``lfw:key=value`` spec, or a ConfigError suggesting the nearest key."""
    key, _, value = spec[len(LFW_PREFIX):].partition("=")
    if key not in LFW_KEYS:
        raise unknown_name_error("LFW selection", key, LFW_KEYS, where=f"downstream spec {spec!r}")
    return key, value


def check_downstream_spec(spec: str) -> None:
    """Raise a ConfigError, before any picture is looked up, for a spec that names no known task: an
    unknown LFW selection or name gets the nearest known one. A spec written as a path is a folder
    (:func:`proxytask.data.folders.labeled_folder` says if it does not exist)."""
    if spec.startswith(LFW_PREFIX):
        _lfw_key(spec)
    elif not (is_lfw_spec(spec) or looks_like_path(spec) or Path(spec).exists()):
        raise unknown_name_error("downstream", spec, DOWNSTREAM_NAMES, otherwise="an existing image folder root/<class>/<image>")


def _lfw_people(spec: str, index: PeopleIndex) -> list[str]:
    """The LFW people an LFW spec names."""
    if spec == DOWNSTREAM_DEFAULT:
        return index.with_min_faces(POLITICIANS_MIN_FACES)
    if spec == DEV_TASK:
        return dev_people(index)
    key, value = _lfw_key(spec)
    if key == "min_faces":
        try:
            min_faces = int(value)
        except ValueError:
            raise DataError(f"downstream spec {spec!r}: min_faces takes a whole number") from None
        people = index.with_min_faces(min_faces)
        if len(people) < 2:
            raise DataError(f"downstream spec {spec!r} selects {len(people)} people; a classification task needs at least 2")
        return people
    names = [n.strip() for n in value.split(",") if n.strip()]
    if len(names) < 2:
        raise DataError(f"downstream spec {spec!r} names {len(names)} people; a classification task needs at least 2")
    return index.check_names(names)


def folder_crop(data: DataConfig) -> Crop:
    """The crop of pictures from a folder: the centered square, or the LFW face box."""
    return data.face_crop if data.folder_crop == "face" else CENTER


def downstream_task(data: DataConfig) -> Downstream:
    """The labeled task ``data.downstream`` names."""
    spec = data.downstream
    check_downstream_spec(spec)
    if not is_lfw_spec(spec):
        return Downstream(spec, labeled_folder(Path(spec)), folder_crop(data))
    index = _lfw_index(data.lfw)
    people = _lfw_people(spec, index)
    images = labeled_from_groups({name: index.images[name] for name in people}, spec)
    overlap = () if spec == DEV_TASK else tuple(sorted(set(people) & set(dev_people(index))))
    return Downstream(spec, images, data.face_crop, overlap)


def pool_sources(data: DataConfig) -> list[ImageSource]:
    """The pretraining pool's sources, as ``data.pool`` lists them.

    Downstream images are kept out: by person for LFW (with the development task's people), and
    by content for any exact copy in a folder (:func:`proxytask.data.pool.load_pool` drops those).
    """
    check_downstream_spec(data.downstream)
    sources = []
    names = [name if name == LFW_POOL else str(Path(name).expanduser().resolve()) for name in data.pool]
    for name in dict.fromkeys(names):  # a folder given twice (or by two paths) counts once
        if name == LFW_POOL:
            index = _lfw_index(data.lfw)
            held_out = dev_people(index) + (_lfw_people(data.downstream, index) if is_lfw_spec(data.downstream) else [])
            sources.append(ImageSource(LFW_POOL, index.pool_excluding(held_out), data.face_crop))
        else:
            sources.append(ImageSource(name, image_tree(Path(name)), folder_crop(data)))
    return sources


def dev_people(index: PeopleIndex) -> list[str]:
    """The development task's people, kept out of every pool."""
    return index.with_min_faces(DEV_MIN_FACES, below=POLITICIANS_MIN_FACES)
