"""No fitted state sees a test image: replacing every test picture by noise, through the study's own
job path, changes nothing any job fitted (scaler, PCA, SVM, probe, k-NN, network weights and
BatchNorm statistics) nor any prediction on the labelled images; and the check catches the two
leaks it is meant for (PCA fitted on every picture, predicting in train mode)."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from proxytask.budgets import budget_name
from proxytask.data.downstream import load_downstream
from proxytask.data.splits import budget_split
from proxytask.study.folder import StudyFolder
from proxytask.study.plan import RUN_SOURCE, plan_study
from proxytask.study.presets import study_config
from proxytask.study.run import transfer_unit
from proxytask.transfer import runners
from proxytask.transfer.classifier import Classifier
from proxytask.transfer.fitted import fitted_digest
from proxytask.transfer.metrics import ModeResult, classification_metrics
from proxytask.transfer.modes import EIGENFACES_MODE

CLASS_SIZES = {"amy": 20, "bo": 11, "cy": 7}  # unbalanced on purpose: a class prior read from the images would show
SHADES = {"amy": (220, 60, 60), "bo": (60, 200, 60), "cy": (60, 60, 220)}
# Fields a job fits on the images it may read; test predictions and scores are expected to change.
FITTED_FIELDS = ("fitted_sha256", "train_predictions", "chosen", "train_images", "labels_per_class")


def write_task(root, seed=0):
    rng = np.random.default_rng(seed)
    for name, count in CLASS_SIZES.items():
        (root / name).mkdir(parents=True)
        for index in range(count):
            pixels = np.clip(np.array(SHADES[name]) + rng.normal(0, 40, (40, 40, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{index:02d}.png")
    return root


def settings(root):
    return study_config("quick", [f"pretrain.data.downstream={root}", "pretrain.data.image_size=24", "pretrain.data.crop_size=20",
                                  "pretrain.data.workers=1", "finetune.min_steps=6", "finetune.max_steps=6", "finetune.batch_size=6",
                                  "finetune.eval_every=2", "finetune.warmup_steps=1", "budgets=3,all", "draws=1", "frozen_draws=1",
                                  "pretrain_seeds=1", "baselines=random,eigenfaces"])


def run_jobs(root, out, modes=None):
    """Every job (of ``modes``, default all) of the study's random init and eigenfaces baseline, through
    the executor's transfer unit."""
    config = settings(root)
    plan = plan_study(config)
    done = {}
    for planned in plan.inits:
        jobs = [job for job in plan.jobs_of(planned.name, planned.seed) if modes is None or job.mode in modes]
        if planned.source != RUN_SOURCE and jobs:
            transfer_unit(out, config, planned, jobs)
            done.update({(job.init, job.mode, budget_name(job.k)): json.loads(StudyFolder(out).job(job).read_text()) for job in jobs})
    return done


def poisoned_copy(root, target):
    """``root`` with every test picture of the split replaced by uniform noise; the test rows."""
    shutil.copytree(root, target)
    images = load_downstream(settings(root).pretrain.data).images
    test = budget_split(images, 3, 0).test
    rng = np.random.default_rng(99)
    for row in test:
        relative = images.paths[row].relative_to(root)
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(target / relative)
    return test


def changes(honest, poisoned):
    """The (job, field) pairs whose fitted state differs between the honest and the poisoned study."""
    return sorted((" ".join(job), name) for job in honest for name in FITTED_FIELDS
                  if honest[job].get(name) != poisoned[job].get(name))


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    base = tmp_path_factory.mktemp("honesty")
    honest = write_task(base / "honest")
    test = poisoned_copy(honest, base / "poisoned")
    return base, honest, base / "poisoned", test


def test_noise_in_place_of_every_test_picture_changes_nothing_a_job_fitted(tasks):
    base, honest_root, poisoned_root, test = tasks
    honest, poisoned = run_jobs(honest_root, base / "honest-study"), run_jobs(poisoned_root, base / "poisoned-study")
    assert {mode for _, mode, _ in honest} == {"finetune", "probe", "knn", EIGENFACES_MODE}
    assert all(record["fitted_sha256"] for record in honest.values())
    assert changes(honest, poisoned) == []
    # The noise did reach the jobs: their test predictions moved, and only those.
    assert any(honest[job]["predictions"] != poisoned[job]["predictions"] for job in honest)
    assert all(len(record["predictions"]) == len(test) for record in honest.values())


def leaky_eigenfaces(features, labels, split, class_names):
    """The eigenfaces pipeline with its scaler and PCA fitted on every picture, test pictures included."""
    rows = split.labeled
    reduce = make_pipeline(StandardScaler(), PCA(n_components=10, whiten=True, random_state=0)).fit(features)
    svm = SVC(kernel="rbf", class_weight="balanced").fit(reduce.transform(features[rows]), labels[rows])
    predictions = svm.predict(reduce.transform(features[split.test]))
    return ModeResult(classification_metrics(labels[split.test], predictions, class_names), {}, "leaky",
                      fitted=fitted_digest([reduce, svm]), train_predictions=svm.predict(reduce.transform(features[rows])).tolist())


def test_the_check_catches_a_pca_fitted_on_every_picture(tasks, tmp_path, monkeypatch):
    base, honest_root, poisoned_root, _ = tasks
    original = runners.RUNNERS[EIGENFACES_MODE]
    monkeypatch.setitem(runners.RUNNERS, EIGENFACES_MODE, runners.ModeRunner(runners._frozen(leaky_eigenfaces), original.describe))
    found = changes(*(run_jobs(root, tmp_path / root.name, {EIGENFACES_MODE}) for root in (honest_root, poisoned_root)))
    assert {job for job, _ in found} == {"eigenfaces svm 3", "eigenfaces svm all"}
    assert ("eigenfaces svm 3", "fitted_sha256") in found


def test_the_check_catches_predictions_in_train_mode(tasks, tmp_path, monkeypatch):
    """BatchNorm in train mode normalizes a test batch by its own statistics and moves the running ones."""
    base, honest_root, poisoned_root, _ = tasks
    monkeypatch.setattr(Classifier, "eval", lambda self: self)
    found = changes(*(run_jobs(root, tmp_path / root.name, {"finetune"}) for root in (honest_root, poisoned_root)))
    assert {job for job, _ in found} == {"random finetune 3", "random finetune all"}
    assert ("random finetune 3", "fitted_sha256") in found
