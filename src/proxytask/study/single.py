"""One transfer job outside a study (``proxytask finetune|probe|knn``): its record, its split's
manifest and settings, and the fine-tuned classifier, in one folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from proxytask.budgets import Budget, budget_name
from proxytask.config import save_yaml
from proxytask.data.downstream import load_downstream
from proxytask.data.lfw import DataError
from proxytask.data.pool import file_digests
from proxytask.data.selection import pool_sources
from proxytask.data.splits import budget_split, write_manifest
from proxytask.export import Preprocessing, save_classifier
from proxytask.files import printable, read_json, write_json_atomic
from proxytask.precision import default_device
from proxytask.records import JobRecord
from proxytask.runs import RunFolder
from proxytask.study.run import transfer_context
from proxytask.study.settings import StudyConfig
from proxytask.transfer.features import transfer_precision
from proxytask.transfer.inits import RunInit, resolve_init
from proxytask.transfer.jobs import run_job

RESULT_FILE = "result.json"
MANIFEST_FILE = "manifest.csv"
CLASSIFIER_FOLDER = "classifier"


def check_pool_copies(run: RunFolder, downstream: str, pictures: list[Path]) -> None:
    """Refuse a run whose pool holds copies of the downstream task's ``pictures`` (files of equal
    content), checked here when the run was not checked against ``downstream`` when it started (its
    own pictures, pretrained without that task's pictures at hand).

    Raises:
        DataError: naming how many pool files are copies, and the first.
    """
    recorded = read_json(run.data) if run.data.is_file() else {}
    if recorded.get("downstream_checked", downstream) == downstream:  # checked at its start (runs of earlier versions always were)
        return
    downstream_digests = file_digests(pictures)
    pool = [path for source in pool_sources(run.settings().data) for path in source.paths]
    copies = [str(path) for path in pool if file_digests([path]) & downstream_digests]
    if copies:
        raise DataError(f"{len(copies)} pictures of the pool of {run.root} are copies of {downstream}'s pictures (e.g. "
                        f"{printable(copies[0])}): its features have seen them. Pretrain again with --downstream {downstream}, "
                        "which leaves them out")


def transfer_once(mode: str, init_spec: str, config: StudyConfig, k: Budget, draw: int, out: Path) -> JobRecord:
    """``mode`` of ``init_spec`` on draw ``draw`` of budget ``k``, written to ``out/result.json`` (and,
    fine-tuned, its classifier to ``out/classifier/``). A pretraining run's own preprocessing (face
    crop, image and crop size) is used with its backbone."""
    init = resolve_init(init_spec, config.pretrain.model.backbone, config.pretrain.input)
    if isinstance(init, RunInit):
        trained = init.run.settings().data
        data_config = dataclasses.replace(config.pretrain.data, face_crop=trained.face_crop, folder_crop=trained.folder_crop,
                                          image_size=trained.image_size, crop_size=trained.crop_size)
        config = dataclasses.replace(config, pretrain=dataclasses.replace(config.pretrain, data=data_config))
    config.validate()
    data = load_downstream(config.pretrain.data)
    if isinstance(init, RunInit):
        check_pool_copies(init.run, config.pretrain.data.downstream, data.images.paths)
    init.prepare(data)
    split = budget_split(data.images, k, draw)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_yaml(config, out / "config.yaml")
    write_manifest(data.images, split, out / MANIFEST_FILE)
    context = transfer_context(config, data)
    precision = transfer_precision(config.finetune, default_device())
    record, model = run_job(mode, init, split, context, lambda: init.features(data, context.crop_size, context.device, precision))
    if model is not None:
        preprocessing = Preprocessing(data.crop, config.pretrain.data.image_size, config.pretrain.data.crop_size)
        save_classifier(model, data.images.class_names, preprocessing, out / CLASSIFIER_FOLDER,
                        {"init": init.name, "k": budget_name(split.k), "draw": split.draw, "test_accuracy": record.accuracy})
    write_json_atomic(out / RESULT_FILE, record.to_json())
    return record
