"""proxytask: learn visual features from unlabeled images through self-supervised proxy tasks."""

__version__ = "0.1.0"
