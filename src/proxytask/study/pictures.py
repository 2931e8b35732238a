"""The study's real pictures: each main colorization run (seed 0) colorizes downstream test faces, and
the user's own photos (``--gallery FOLDER``) at their full size, beside the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from proxytask.colorize import colorization_gallery, photo_gallery
from proxytask.config import ConfigError
from proxytask.data.downstream import DownstreamData
from proxytask.data.folders import images_in
from proxytask.data.lfw import DataError
from proxytask.data.splits import budget_split
from proxytask.report.build import downstream_gallery, photo_folder
from proxytask.study.folder import StudyFolder
from proxytask.study.plan import PlannedRun, StudyPlan
from proxytask.tasks import task_class
from proxytask.tasks.colorization import SparseColorization

TEST_FACES = 8


def downstream_test_faces(data: DownstreamData, count: int = TEST_FACES) -> np.ndarray:
    """Rows of ``count`` test-split faces, one class after another (a face of every person before a second of any)."""
    test = budget_split(data.images, None, 0).test
    by_class = [test[data.labels[test] == label] for label in range(len(data.images.class_names))]
    order = [rows[i] for i in range(max(map(len, by_class))) for rows in by_class if i < len(rows)]
    return np.array(order[:count])


def colorizing_runs(plan: StudyPlan) -> list[PlannedRun]:
    """The runs that colorize pictures for the report: seed 0 of each main-table colorization run."""
    main = {(planned.name, planned.seed) for planned in plan.inits if planned.main}
    return [run for run in plan.runs if run.seed == 0 and (run.name, run.seed) in main
            and issubclass(task_class(run.variant.task), SparseColorization)]


def check_photo_folder(folder: Path | None, plan: StudyPlan) -> list[Path]:
    """The photos of ``--gallery FOLDER`` (none without one), or an error naming the folder, or saying
    that no run of the study colorizes."""
    if folder is None:
        return []
    if not colorizing_runs(plan):
        raise ConfigError(f"--gallery {folder}: no task of this study colorizes pictures (add colorization to --tasks)")
    if not Path(folder).is_dir():
        raise DataError(f"--gallery {folder} is not a folder; expected a folder of photos to colorize")
    photos = images_in(Path(folder))
    if not photos:
        raise DataError(f"--gallery {folder} holds no image files")
    return photos


def write_picture_galleries(plan: StudyPlan, folder: StudyFolder, data: DownstreamData, photos: list[Path]) -> None:
    """For each main colorization run at seed 0: its gallery of test faces, and the figures of the user's
    photos (the colorized files in their ``colorized/``), where the report finds them."""
    rows = downstream_test_faces(data)
    faces = data.pixels[rows].permute(0, 3, 1, 2).float() / 255.0
    for run in colorizing_runs(plan):
        root = folder.run(run).root
        colorization_gallery(root, faces, downstream_gallery(folder.root, run.name),
                             f"{run.name}: test faces of the downstream task (never seen in pretraining)")
        if photos:
            photo_gallery(root, photos, photo_folder(folder.root, run.name))
