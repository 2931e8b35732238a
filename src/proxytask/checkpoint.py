"""Checkpoints: weights in safetensors, trainer state loaded with ``weights_only=True``, atomically.

A checkpoint is a folder ``checkpoints/step-NNNNNNNN/`` written under a temporary name and renamed
when complete; ``checkpoints/latest.json`` then points at it (atomic replace). A crash at any
moment leaves the previous checkpoint intact and pointed to.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from proxytask.files import write_json_atomic

WEIGHTS_FILE = "model.safetensors"
STATE_FILE = "trainer_state.pt"
INFO_FILE = "checkpoint.json"


def save_weights(state: dict[str, torch.Tensor], path: Path) -> None:
    """Save a model state dict as safetensors (contiguous CPU copies)."""
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(path))


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Load a safetensors state dict; a clear error if the file is missing."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    return load_file(str(path))


def save_checkpoint(run_dir: Path, step: int, model_state: dict[str, torch.Tensor], trainer_state: dict[str, Any],
                    config: dict[str, Any], keep: int = 2) -> Path:
    """Write a checkpoint for ``step`` (with ``checkpoint.json``: the step and the resolved config) and
    point ``latest.json`` at it; keep the newest ``keep``."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        save_weights(model_state, staging / WEIGHTS_FILE)
        torch.save(trainer_state, staging / STATE_FILE)
        (staging / INFO_FILE).write_text(json.dumps({"step": step, "config": config}, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json_atomic(root / "latest.json", {"step": step, "folder": final.name})
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> tuple[int, Path] | None:
    """(step, folder) of the newest complete checkpoint of a run, or None."""
    pointer = run_dir / "checkpoints" / "latest.json"
    if not pointer.is_file():
        return None
    latest = json.loads(pointer.read_text())
    return int(latest["step"]), run_dir / "checkpoints" / latest["folder"]


def load_checkpoint(folder: Path, map_location: torch.device | str = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(model state, trainer state) of a checkpoint folder; trainer state loaded with weights_only=True."""
    return load_weights(folder / WEIGHTS_FILE), torch.load(folder / STATE_FILE, map_location=map_location, weights_only=True)
