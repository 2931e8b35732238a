"""proxytask: learn visual features from unlabeled images through self-supervised proxy tasks."""

__version__ = "0.1.0"

from proxytask.export import load_backbone, load_classifier

__all__ = ["load_backbone", "load_classifier", "__version__"]
