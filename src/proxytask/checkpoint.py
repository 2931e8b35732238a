"""Checkpoints: weights in safetensors, trainer state loaded with ``weights_only=True``, atomically.

A checkpoint is a folder ``step-NNNNNNNN/`` of a run's checkpoints folder, written under a temporary
name and renamed when complete; ``latest.json`` beside it then points at it (atomic replace). A crash at any
moment leaves the previous checkpoint intact and pointed to. ``checkpoint.json`` records the
SHA-256 of each file: a checkpoint is *good* when its files match and its weights are finite.
Resuming takes the newest good checkpoint (saying so when it is not the newest), and pruning
never deletes the newest good one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from proxytask.config import ConfigError
from proxytask.files import file_digest, naming_full_disk, write_json_atomic

log = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"
INFO_FILE = "checkpoint.json"


def save_weights(state: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> str:
    """Save a model state dict as safetensors (contiguous CPU copies, with ``metadata`` in its header);
    returns the file's SHA-256, for whoever records it.

    Raises:
        ConfigError: a weight is NaN or infinite (such a model is never written).
    """
    _refuse_non_finite(state, path)
    with naming_full_disk(path):
        save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path), metadata=metadata)
    return file_digest(path)


def _refuse_non_finite(weights: dict[str, torch.Tensor], path: Path) -> None:
    bad = [name for name, tensor in weights.items() if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise ConfigError(f"{path}: the weights {', '.join(bad[:3])} hold NaN or infinite values; a model with them is not used")


def load_weights(path: Path, sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Load a safetensors state dict, checked: the file must exist, be readable, match ``sha256`` when
    one was recorded, and hold only finite weights.

    Raises:
        FileNotFoundError: no such file.
        ConfigError: anything else, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    if sha256 is not None and file_digest(path) != sha256:
        raise ConfigError(f"{path} does not match the SHA-256 recorded when it was written: the file was changed or damaged")
    try:
        weights = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise ConfigError(f"{path} is not a readable safetensors file ({' '.join(str(error).split())})") from None
    _refuse_non_finite(weights, path)
    return weights


def weights_metadata(path: Path) -> dict[str, str]:
    """The metadata in a safetensors file's header (``{}`` when it holds none)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except (SafetensorError, OSError, ValueError) as error:
        raise ConfigError(f"{path} is not a readable safetensors file ({' '.join(str(error).split())})") from None


def save_checkpoint(root: Path, step: int, model_state: dict[str, torch.Tensor], trainer_state: dict[str, Any],
                    config: dict[str, Any], keep: int = 2) -> Path:
    """Write a checkpoint for ``step`` into the checkpoints folder ``root`` (with ``checkpoint.json``: the
    step, the resolved config and each file's SHA-256) and point ``latest.json`` at it; keep the newest
    ``keep`` and the newest good one."""
    root.mkdir(parents=True, exist_ok=True)
    for left in root.glob(".step-*"):  # a staging folder of a write that was killed (one writer per run)
        shutil.rmtree(left, ignore_errors=True)
    final = root / f"step-{step:08d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        weights_digest = save_weights(model_state, staging / WEIGHTS_FILE)
        with naming_full_disk(staging / STATE_FILE):
            torch.save(trainer_state, staging / STATE_FILE)
        files = {WEIGHTS_FILE: weights_digest, STATE_FILE: file_digest(staging / STATE_FILE)}
        (staging / INFO_FILE).write_text(json.dumps({"step": step, "config": config, "sha256": files}, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(root / "latest.json", {"step": step, "folder": final.name})
    folders = sorted(p for p in root.glob("step-*") if p.is_dir())
    good = next((folder for folder in reversed(folders) if checkpoint_problem(folder) is None), None)
    for old in folders[:-keep]:
        if old != good:
            shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoint_problem(folder: Path) -> str | None:
    """Why a checkpoint folder cannot be resumed from (files missing or changed, weights not finite),
    or None for a good one."""
    try:
        info = json.loads((folder / INFO_FILE).read_text())
        for name, expected in info.get("sha256", {}).items():  # checkpoints of earlier versions carry none
            if file_digest(folder / name) != expected:
                return f"{name} does not match the SHA-256 recorded when it was written"
        load_weights(folder / WEIGHTS_FILE)
    except ConfigError as error:  # unreadable, or weights that are not finite
        return str(error)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return f"unreadable: {error}"
    return None


def latest_checkpoint(root: Path) -> tuple[int, Path] | None:
    """(step, folder) of the newest good checkpoint in the checkpoints folder ``root``, or None. A newer
    checkpoint that is damaged is skipped with a warning naming it and why."""
    for folder in sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True):
        problem = checkpoint_problem(folder)
        if problem is None:
            return int(folder.name.split("-")[1]), folder
        log.warning("checkpoint %s is damaged (%s); trying an older one", folder, problem)
    return None


def load_checkpoint(folder: Path, map_location: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(model state, trainer state) of a checkpoint folder; trainer state loaded with weights_only=True."""
    return load_weights(folder / WEIGHTS_FILE), torch.load(folder / STATE_FILE, map_location=map_location, weights_only=True)
