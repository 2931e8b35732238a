"""A digest of what a transfer job fitted, so that two jobs can be shown to have learned the same state."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator


def fitted_digest(model: torch.nn.Module | BaseEstimator) -> str:
    """SHA-256 of a fitted model's state: a network's parameters and buffers (BatchNorm statistics
    included), or every array a scikit-learn estimator holds and every number it learned (attributes
    ending in ``_``), through the steps of a pipeline."""
    digest = hashlib.sha256()
    _feed(digest, "model", model)
    return digest.hexdigest()


def _feed(digest: Any, name: str, value: Any) -> None:
    if isinstance(value, torch.nn.Module):
        for key, tensor in value.state_dict().items():
            _feed(digest, f"{name}.{key}", tensor.detach().cpu().float().numpy())
    elif isinstance(value, BaseEstimator):
        for key, item in sorted(vars(value).items()):
            _feed(digest, f"{name}.{key}", item)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _feed(digest, f"{name}[{index}]", item)
    elif isinstance(value, np.ndarray):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, (int, float, np.number)) and name.endswith("_"):
        digest.update(f"{name}={value!r}".encode())
