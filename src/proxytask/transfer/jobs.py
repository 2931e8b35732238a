"""One transfer job, start to record: a mode run on an init and a split, timed, its collapse flagged,
written as a :class:`proxytask.records.JobRecord`; and one feature-change job."""

from __future__ import annotations

import time
from typing import Any

from proxytask.data.downstream import DownstreamData
from proxytask.data.splits import Split
from proxytask.records import FeatureChangeRecord, JobRecord
from proxytask.transfer.classifier import Classifier
from proxytask.transfer.feature_change import feature_change
from proxytask.transfer.finetune import finetune_model, finetune_seed
from proxytask.transfer.inits import BackboneInit, Init
from proxytask.transfer.runners import RUNNERS, TransferContext


def split_fields(split: Split, data: DownstreamData) -> dict[str, Any]:
    """What a job record says of its split: budget, draw, how many labels of each class it could read."""
    return {"k": split.k, "draw": split.draw, "train_images": len(split.train),
            "labels_per_class": split.labels_per_class(data.labels, data.images.class_names), "short_classes": split.short_classes}


def run_job(mode: str, init: Init, split: Split, context: TransferContext, features: Any) -> tuple[JobRecord, Classifier | None]:
    """``mode`` of ``init`` on ``split``: its record (with its wall ``seconds``) and the trained classifier, if the mode trains one.
    ``features()`` gives the init's frozen features (computed once for the jobs that share them)."""
    started = time.perf_counter()
    result, model = RUNNERS[mode].run(init, split, context, features)
    detail = {"input_detail": init.input_detail} if init.input_detail is not None else {}
    if init.weights_seed is not None:
        detail["weights_seed"] = init.weights_seed
    values = {"init": init.name, "mode": mode, "input": init.input_kind, **detail, **split_fields(split, context.data), **result.as_dict(),
              "degenerate": result.collapsed, "seconds": time.perf_counter() - started, "pretrain_seed": init.seed}
    return JobRecord.from_json(values), model


def run_feature_change(init: BackboneInit, split: Split, context: TransferContext) -> FeatureChangeRecord:
    """Fine-tune ``init`` on ``split`` again, keeping the network, and measure per stage how far its weights
    and its features on the test images moved from where fine-tuning started."""
    started = time.perf_counter()
    data = context.data
    model, result = finetune_model(init, data.pixels, data.labels, split, data.images.class_names, context.crop_size,
                                   context.recipe, context.device)
    start = init.backbone(finetune_seed(context.recipe, split.draw))
    change = feature_change(start, model.backbone, init.network_input, data.pixels, split.test, context.crop_size, context.device)
    fields = split_fields(split, data)
    return FeatureChangeRecord(init.name, init.input_kind, init.seed, split.k, split.draw, result.scores.accuracy,
                               change["weight_change"], change["cka"], time.perf_counter() - started,
                               {key: fields[key] for key in ("train_images", "labels_per_class", "short_classes")})

