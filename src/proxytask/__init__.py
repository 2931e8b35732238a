"""proxytask: learn visual features from unlabeled images through self-supervised proxy tasks.

``proxytask.load_backbone`` and ``proxytask.load_classifier`` (see :mod:`proxytask.export`) are
imported on first use, so that ``import proxytask`` stays light. ``import proxytask.models``
registers the project's ``vgg_small`` with timm.
"""

from typing import Any

__version__ = "0.1.0"
__all__ = ["load_backbone", "load_classifier", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("load_backbone", "load_classifier"):
        from proxytask import export

        return getattr(export, name)
    raise AttributeError(f"module 'proxytask' has no attribute {name!r}")
