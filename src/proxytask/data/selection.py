"""Turn a downstream spec into a labeled image set and the matching unlabeled pretraining pool.

Specs: ``lfw-politicians-7`` (people with >= 70 images), ``lfw-dev-7`` (the development task:
the next 7 people, 48 to 69 images), ``lfw:min_faces=N``, ``lfw:people=Name_One,Name_Two`` (LFW
folder names), or a path to ``root/<class>/<image>``. The pool is LFW without the people of the
downstream task and of the development task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from proxytask.data.folders import LabeledImages, labeled_folder, labeled_from_groups
from proxytask.data.lfw import DEV_MIN_FACES, DEV_TASK, DOWNSTREAM_DEFAULT, POLITICIANS_MIN_FACES, DataError, PeopleIndex


@dataclass(frozen=True)
class Selection:
    """The downstream task (``downstream``), the pool of images proxy tasks may train on, and the
    downstream classes that are people of the development task (whose labels fixed the fine-tuning recipe)."""

    spec: str
    downstream: LabeledImages
    pool: list[Path]
    development_overlap: tuple[str, ...] = ()


def _lfw_people(spec: str, index: PeopleIndex) -> list[str] | None:
    """The LFW people a spec names, or None when the spec is not an LFW spec."""
    if spec == DOWNSTREAM_DEFAULT:
        return index.with_min_faces(POLITICIANS_MIN_FACES)
    if spec == DEV_TASK:
        return dev_people(index)
    if not spec.startswith("lfw:"):
        return None
    key, _, value = spec[len("lfw:"):].partition("=")
    if key == "min_faces":
        try:
            min_faces = int(value)
        except ValueError:
            raise DataError(f"downstream spec {spec!r}: min_faces takes a whole number") from None
        people = index.with_min_faces(min_faces)
        if len(people) < 2:
            raise DataError(f"downstream spec {spec!r} selects {len(people)} people; a classification task needs at least 2")
        return people
    if key == "people":
        names = [n.strip() for n in value.split(",") if n.strip()]
        if len(names) < 2:
            raise DataError(f"downstream spec {spec!r} names {len(names)} people; a classification task needs at least 2")
        return index.check_names(names)
    raise DataError(f"downstream spec {spec!r}: expected lfw:min_faces=N or lfw:people=Name_One,Name_Two")


def select(spec: str, lfw_root: Path | None) -> Selection:
    """Resolve ``spec`` against the LFW folder ``lfw_root`` (needed for LFW specs and for the pool).

    A folder spec takes its pool from LFW too when ``lfw_root`` is given (without the development
    task's people).
    """
    index = PeopleIndex.scan(lfw_root) if lfw_root is not None else None
    people = _lfw_people(spec, index) if index is not None else None
    if people is not None:
        assert index is not None
        downstream = labeled_from_groups({name: index.images[name] for name in people}, spec)
        overlap = () if spec == DEV_TASK else tuple(sorted(set(people) & set(dev_people(index))))
        return Selection(spec, downstream, index.pool_excluding(people + dev_people(index)), overlap)
    if spec in (DOWNSTREAM_DEFAULT, DEV_TASK) or spec.startswith("lfw:"):
        raise DataError(f"downstream spec {spec!r} needs the LFW data (pass --lfw)")
    downstream = labeled_folder(Path(spec))
    pool = index.pool_excluding(dev_people(index)) if index is not None else []
    return Selection(spec=spec, downstream=downstream, pool=pool)


def dev_people(index: PeopleIndex) -> list[str]:
    """The development task's people, kept out of every pool."""
    return index.with_min_faces(DEV_MIN_FACES, below=POLITICIANS_MIN_FACES)
