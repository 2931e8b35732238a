"""Backbones (one timm factory) and hypercolumn sampling. Importing this package registers
``vgg_small`` with timm, so ``timm.create_model("vgg_small", ...)`` works after ``import proxytask.models``."""

from proxytask.models import backbones  # noqa: F401  (registers vgg_small with timm)
