"""Take a model away: a backbone as plain timm weights, a fine-tuned classifier, and their loaders.

``export_backbone`` writes ``backbone.safetensors`` with the keys of
``timm.create_model(name, in_chans=C, num_classes=0)`` (vgg_small is registered with timm by
``import proxytask.models``) and ``backbone.json``: the model name, input channels, the network
input conversion, and how pictures are cropped and resized before it. ``load_backbone`` and
``load_classifier`` rebuild them ready to use on RGB images in [0, 1].
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch
from torch import nn

from proxytask.checkpoint import load_weights, save_weights, weights_metadata
from proxytask.config import ConfigError, DataConfig
from proxytask.data.batches import center_crop, to_float
from proxytask.data.images import CENTER, BadImage, Crop, decode_image
from proxytask.data.selection import folder_crop
from proxytask.files import write_json_atomic
from proxytask.inputs import NetworkInput
from proxytask.models.backbones import Backbone
from proxytask.runs import RunFolder
from proxytask.transfer.classifier import Classifier
from proxytask.transfer.inits import RunInit

log = logging.getLogger(__name__)

BACKBONE_WEIGHTS = "backbone.safetensors"
BACKBONE_INFO = "backbone.json"
CLASSIFIER_WEIGHTS = "classifier.safetensors"
CLASSIFIER_INFO = "classifier.json"
# The key of the weights files' header metadata that records the fields of their description (JSON)
# that say how the weights read a picture.
DESCRIPTION_METADATA = "proxytask_description"
BACKBONE_RECORDED = ("input", "preprocessing", "in_chans", "timm_model")
CLASSIFIER_RECORDED = ("input", "preprocessing", "class_names", "backbone")
# Weights of a plain timm model after its features (its classifier side), which an export may lack.
HEAD_PREFIXES = ("pre_logits.", "head.", "fc.", "classifier.", "last_linear.")


@dataclass(frozen=True)
class Preprocessing:
    """How a picture becomes a network's RGB input: ``crop`` of the file (a box, or "center"),
    resized to ``image_size``, then the central ``crop_size`` square."""

    crop: Crop
    image_size: int
    crop_size: int

    @classmethod
    def of(cls, data: DataConfig, lfw_aligned: bool) -> Preprocessing:
        """The preprocessing a run used: the face box for LFW-aligned pictures, else the folder crop."""
        return cls(data.face_crop if lfw_aligned else folder_crop(data), data.image_size, data.crop_size)

    @classmethod
    def from_dict(cls, values: Any, where: str) -> Preprocessing:
        """From the mapping :meth:`as_dict` wrote, checked; ``where`` names its file in errors."""
        values = _fields(values, {"crop": (str, list), "image_size": int, "crop_size": int}, f"{where}: preprocessing")
        crop, image_size, crop_size = values["crop"], values["image_size"], values["crop_size"]
        DataConfig(image_size=image_size, crop_size=crop_size).validate(f"{where}: preprocessing.")  # the sizes a run may have
        box_ok = (isinstance(crop, list) and len(crop) == 4 and all(isinstance(c, int) and not isinstance(c, bool) for c in crop)
                  and 0 <= crop[0] < crop[2] and 0 <= crop[1] < crop[3])
        if crop != CENTER and not box_ok:
            raise ConfigError(f"{where}: preprocessing crop must be {CENTER!r} or a box [left, top, right, bottom] with "
                              f"left < right and top < bottom, got {crop!r}")
        return cls(tuple(crop) if isinstance(crop, list) else crop, image_size, crop_size)

    def as_dict(self) -> dict[str, Any]:
        return {"crop": list(self.crop) if isinstance(self.crop, tuple) else self.crop,
                "image_size": self.image_size, "crop_size": self.crop_size}

    def load(self, path: Path) -> torch.Tensor:
        """One picture as the network's RGB input (1, 3, crop_size, crop_size) in [0, 1].

        Raises:
            BadImage: the file cannot be read or cropped.
        """
        pixels = decode_image(Path(path), self.crop, self.image_size).pixels
        return center_crop(to_float(torch.from_numpy(np.ascontiguousarray(pixels))[None]), self.crop_size)


def _fields(values: Any, expected: dict[str, type | tuple[type, ...]], where: str) -> dict[str, Any]:
    """``values`` checked to be a mapping holding each field of ``expected`` with a value of its type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    for name, kind in expected.items():
        if name not in values:
            raise ConfigError(f"{where} lacks the field {name!r}")
        value = values[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise ConfigError(f"{where}: {name} must be {names}, got {value!r}")
    return values


def _read_info(path: Path, expected: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The checked JSON description beside a model's weights, or a ConfigError naming the file."""
    try:
        values = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ConfigError(f"{path} is not a readable JSON file ({' '.join(str(error).split())})") from None
    return _fields(values, expected, str(path))


def _timm_name(name: str, where: str) -> str:
    """``name`` if it is a model of timm's own registry (no hub, local folder or file: nothing is fetched or read)."""
    if ":" in name or "/" in name or name not in timm.list_models():
        raise ConfigError(f"{where}: {name!r} is not a model name of timm's registry (e.g. vgg_small, resnet18); hub names, "
                          "folders and files are not loaded")
    return name


def _check_against_weights(info: dict[str, Any], where: Path, weights: Path) -> None:
    """Refuse a description whose fields differ from those the weights file recorded in its header
    (the input conversion, the preprocessing, the class names: covered by the weights' digest, so an
    edited description cannot make a model read pictures otherwise than it was trained to)."""
    recorded = weights_metadata(weights).get(DESCRIPTION_METADATA)
    if recorded is None:  # weights of an earlier version record nothing
        return
    for key, value in json.loads(recorded).items():
        if info.get(key) != value:
            raise ConfigError(f"{where}: {key} {info.get(key)!r} is not the {key} {value!r} the weights {weights} were saved with")


def _described(info: dict[str, Any], keys: tuple[str, ...]) -> dict[str, str]:
    """The safetensors header metadata that records a description's ``keys``."""
    return {DESCRIPTION_METADATA: json.dumps({key: info[key] for key in keys})}


def _timm_kwargs(backbone: Backbone) -> dict[str, Any]:
    return {"batchnorm": backbone.batchnorm} if backbone.name == "vgg_small" else {}


def timm_state_dict(backbone: Backbone) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The backbone's weights under the keys of the plain timm model of its name (num_classes=0),
    and the plain model's keys the backbone has no weights for (none for vgg_small and ResNets).

    Raises:
        ConfigError: a weight of the backbone has no place in the plain model.
    """
    plain = timm.create_model(backbone.name, pretrained=False, in_chans=backbone.in_chans, num_classes=0,
                              **_timm_kwargs(backbone))
    by_flat_name = {key.replace(".", "_"): key for key in plain.state_dict()}
    mapped = {}
    for key, value in backbone.body.state_dict().items():
        target = by_flat_name.get(key.replace(".", "_"))
        if target is None:
            raise ConfigError(f"backbone {backbone.name}: weight {key} has no place in timm's plain {backbone.name}")
        mapped[target] = value
    untrained = sorted(set(plain.state_dict()) - set(mapped))
    inside_features = [key for key in untrained if not key.startswith(HEAD_PREFIXES)]
    if inside_features:
        raise ConfigError(f"cannot export {backbone.name}: timm's plain model computes its features with layers the "
                          f"pretrained backbone never had ({', '.join(inside_features[:3])}...); use the run folder with "
                          "proxytask.load_backbone instead")
    return mapped, untrained


def _lfw_aligned(data: DataConfig) -> bool:
    """A run trained on LFW pictures (cut with the face box) rather than on other folders."""
    return data.pool == ("lfw",) or data.folder_crop == "face"


def export_backbone(run_dir: Path, out: Path, force: bool = False) -> dict[str, Any]:
    """Write a pretraining run's backbone to ``out`` as plain timm weights plus ``backbone.json``; returns
    the JSON. An ``out`` that holds an export already is replaced only with ``force``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} is a file; expected a folder for {BACKBONE_WEIGHTS} and {BACKBONE_INFO}")
    held = [name for name in (BACKBONE_WEIGHTS, BACKBONE_INFO) if (out / name).exists()]
    if held and not force:
        raise ConfigError(f"{out} already holds an export ({', '.join(held)}); pass --force to replace it, or choose another folder")
    init = RunInit.of(Path(run_dir))
    config = init.run.settings()
    backbone = init.backbone(0)
    weights, not_exported = timm_state_dict(backbone)
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "timm_model": backbone.name, "in_chans": backbone.in_chans, "timm_kwargs": _timm_kwargs(backbone),
        "feature_dim": backbone.channels[-1], "input": init.network_input.as_dict(),
        "input_description": init.network_input.describe() + ", from RGB in [0, 1]",
        "preprocessing": Preprocessing.of(config.data, _lfw_aligned(config.data)).as_dict(),
        "task": config.task, "source_run": str(Path(run_dir).absolute()), "timm_keys_without_weights": not_exported,
        "load": f"import proxytask.models; timm.create_model({backbone.name!r}, in_chans={backbone.in_chans}, num_classes=0)"
                f".load_state_dict(safetensors.torch.load_file({BACKBONE_WEIGHTS!r}))",
    }
    info["sha256"] = save_weights(weights, out / BACKBONE_WEIGHTS, _described(info, BACKBONE_RECORDED))
    write_json_atomic(out / BACKBONE_INFO, info)
    return info


class FeatureExtractor(nn.Module):
    """RGB (B, 3, crop, crop) in [0, 1] -> pooled features (B, D): the pictures converted to the input
    the backbone was trained on, its last feature map averaged over space. ``model`` is a plain timm
    model (``plain``: its ``forward_features``) or the project's :class:`Backbone` (its last level).
    ``preprocessing`` says how to read a picture."""

    def __init__(self, model: nn.Module, network_input: NetworkInput, preprocessing: Preprocessing, plain: bool) -> None:
        super().__init__()
        self.model = model
        self.network_input = network_input
        self.preprocessing = preprocessing
        self.plain = plain

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        converted = self.network_input(images)
        maps = self.model.forward_features(converted) if self.plain else self.model(converted)[-1]
        return maps.float().mean(dim=(2, 3))


def load_backbone(path: str | Path) -> FeatureExtractor:
    """A backbone ready for features, in eval mode, from an export folder or a pretraining run folder."""
    path = Path(path)
    if (path / BACKBONE_INFO).is_file():
        where, weights_file = path / BACKBONE_INFO, path / BACKBONE_WEIGHTS
        info = _read_info(where, {"timm_model": str, "in_chans": int, "timm_kwargs": dict, "input": dict, "preprocessing": dict,
                                  "timm_keys_without_weights": list})
        name = _timm_name(info["timm_model"], str(where))
        kwargs = info["timm_kwargs"]
        if (kwargs and name != "vgg_small") or set(kwargs) - {"batchnorm"} or not all(isinstance(v, bool) for v in kwargs.values()):
            raise ConfigError(f"{where}: timm_kwargs may only be {{\"batchnorm\": true|false}} for vgg_small, got {kwargs!r}")
        if info["in_chans"] not in (1, 3):
            raise ConfigError(f"{where}: in_chans must be 1 (intensity) or 3 (RGB), got {info['in_chans']}")
        network_input = NetworkInput.load_from(info["input"], str(where))
        if network_input.channels != info["in_chans"]:
            raise ConfigError(f"{where}: in_chans {info['in_chans']} does not match the input {network_input.as_dict()}")
        preprocessing = Preprocessing.from_dict(info["preprocessing"], str(where))
        head_only = [key for key in info["timm_keys_without_weights"] if not str(key).startswith(HEAD_PREFIXES)]
        if head_only:
            raise ConfigError(f"{where}: timm_keys_without_weights may only name weights of the classifier side "
                              f"({', '.join(HEAD_PREFIXES)}), got {head_only[0]!r}")
        weights = load_weights(weights_file, _recorded_digest(info, where))
        _check_against_weights(info, where, weights_file)
        model = timm.create_model(name, pretrained=False, in_chans=info["in_chans"], num_classes=0, **kwargs)
        missing, unexpected = model.load_state_dict(weights, strict=False)
        if unexpected or set(missing) - set(info["timm_keys_without_weights"]):
            raise ConfigError(f"{weights_file} does not fit timm's {name}: "
                              f"missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]}")
        return FeatureExtractor(model, network_input, preprocessing, plain=True).eval()
    run = RunFolder(path)
    if not run.started:
        raise ConfigError(f"{path} is neither an export folder ({BACKBONE_INFO}) nor a pretraining run folder ({run.config.name})")
    init = RunInit.of(path)
    config = run.settings()
    preprocessing = Preprocessing.of(config.data, _lfw_aligned(config.data))
    return FeatureExtractor(init.backbone(0), init.network_input, preprocessing, plain=False).eval()


@dataclass
class TrainedClassifier:
    """A fine-tuned classifier (eval mode), its class names and how it reads a picture."""

    model: Classifier
    class_names: list[str]
    preprocessing: Preprocessing

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """RGB (N, 3, crop, crop) in [0, 1] -> class probabilities (N, classes), ``batch`` images at a time."""
        parts = [self.model(images[start:start + batch]).float().softmax(dim=1) for start in range(0, len(images), batch)]
        return torch.cat(parts) if parts else torch.empty(0, len(self.class_names))


def save_classifier(model: Classifier, class_names: list[str], preprocessing: Preprocessing, out: Path,
                    about: dict[str, Any]) -> None:
    """Write a fine-tuned classifier to ``out``: weights, class names, input and preprocessing."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = {"backbone": model.backbone.name, "batchnorm": model.backbone.batchnorm, "input": model.network_input.as_dict(),
            "class_names": list(class_names), "preprocessing": preprocessing.as_dict(), **about}
    info["sha256"] = save_weights(model.state_dict(), out / CLASSIFIER_WEIGHTS, _described(info, CLASSIFIER_RECORDED))
    write_json_atomic(out / CLASSIFIER_INFO, info)


def load_classifier(path: str | Path) -> TrainedClassifier:
    """A fine-tuned classifier from the folder ``proxytask finetune`` wrote (or its ``classifier/``)."""
    path = Path(path)
    if not (path / CLASSIFIER_INFO).is_file() and (path / "classifier" / CLASSIFIER_INFO).is_file():
        path = path / "classifier"
    if not (path / CLASSIFIER_INFO).is_file():
        raise ConfigError(_no_classifier(path))
    where, weights_file = path / CLASSIFIER_INFO, path / CLASSIFIER_WEIGHTS
    info = _read_info(where, {"backbone": str, "batchnorm": bool, "input": dict, "class_names": list, "preprocessing": dict})
    names = info["class_names"]
    if len(names) < 2 or not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise ConfigError(f"{where}: class_names must be 2 or more distinct names, got {len(names)} ({names[:3]!r}...)")
    network_input = NetworkInput.load_from(info["input"], str(where))
    preprocessing = Preprocessing.from_dict(info["preprocessing"], str(where))
    backbone_name = _timm_name(info["backbone"], str(where))
    weights = load_weights(weights_file, _recorded_digest(info, where))
    _check_against_weights(info, where, weights_file)
    model = Classifier(Backbone(backbone_name, network_input.channels, info["batchnorm"]),
                       network_input, len(names))
    expected, given = model.state_dict(), weights
    mismatched = sorted(set(expected) ^ set(given)) or [k for k in expected if expected[k].shape != given[k].shape]
    if mismatched:
        raise ConfigError(f"{weights_file} does not fit the classifier {where} describes ({info['backbone']}, {len(names)} classes): "
                          f"{len(mismatched)} weights differ in name or shape, e.g. {mismatched[0]}")
    model.load_state_dict(weights)
    return TrainedClassifier(model.eval(), list(names), preprocessing)


def _recorded_digest(info: dict[str, Any], where: Path) -> str | None:
    """The weights' SHA-256 a description records (None, with a warning, for one of an earlier version)."""
    digest = info.get("sha256")
    if digest is None:
        log.warning("%s records no SHA-256 of its weights (written by an earlier version): they are used unverified", where)
    elif not isinstance(digest, str):
        raise ConfigError(f"{where}: sha256 must be text, got {digest!r}")
    return digest


def _no_classifier(path: Path) -> str:
    """What a folder given for a fine-tuned classifier is instead: missing, a pretraining run, or other."""
    if not path.is_dir():
        return f"{path} does not exist; expected the folder `proxytask finetune --out DIR` wrote"
    run = RunFolder(path)
    if run.is_study_folder:
        return (f"{path} is a study folder, which keeps no fine-tuned classifier: fine-tune one of its runs "
                f"({run.study_runs()}) with `proxytask finetune --init RUN --out DIR`, then --model DIR")
    if run.started:
        return (f"{path} is a pretraining run folder, not a fine-tuned classifier: fine-tune it first "
                f"(`proxytask finetune --init {path} --out DIR`, then --model DIR)")
    return f"{path} holds no fine-tuned classifier ({CLASSIFIER_INFO}); `proxytask finetune --out DIR` writes one"


def read_pictures(paths: list[Path], preprocessing: Preprocessing) -> tuple[list[Path], torch.Tensor, list[tuple[Path, str]]]:
    """The readable pictures among ``paths``, as one batch (N, 3, crop, crop), and the skipped (path, reason)."""
    kept, images, skipped = [], [], []
    for path in paths:
        try:
            images.append(preprocessing.load(path))
            kept.append(path)
        except BadImage as error:
            skipped.append((path, str(error)))
    size = preprocessing.crop_size
    return kept, torch.cat(images) if images else torch.empty(0, 3, size, size), skipped
