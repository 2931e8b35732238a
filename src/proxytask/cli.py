"""The ``proxytask`` command: one small function per subcommand."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from proxytask.config import ConfigError, PretrainConfig, apply_overrides, load_yaml

EXAMPLES = {
    "pretrain": """example:
  proxytask pretrain --task colorization --out runs/color --epochs 2 --lfw ../shared/data/lfw
  proxytask pretrain --task colorization --out runs/color --resume          # continue after a stop
  torchrun --nproc_per_node=2 -m proxytask pretrain --out runs/ddp --max-steps 100
  proxytask pretrain --out runs/vgg16 --backbone vgg16_bn --set data.image_size=224 --set data.crop_size=176""",
    "colorize": """example:
  proxytask colorize photo.jpg old_gray.png --checkpoint runs/color -o colorized/""",
    "cache": """example:
  proxytask cache --lfw ../shared/data/lfw --image-size 64""",
}


def _add_pretrain(subparsers) -> None:
    parser = subparsers.add_parser("pretrain", help="pretrain a backbone on a proxy task (unlabeled pool)",
                                   epilog=EXAMPLES["pretrain"], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", help="proxy task (default: colorization)")
    parser.add_argument("--out", required=True, type=Path, help="run folder (config, logs, checkpoints, gallery, metrics)")
    parser.add_argument("--config", type=Path, help="YAML file of settings (see config.yaml in any run folder)")
    parser.add_argument("--lfw", help="folder holding lfw-deepfunneled.tgz or the extracted lfw-deepfunneled/")
    parser.add_argument("--epochs", type=float, help="passes over the pool (train.epochs)")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (train.max_steps)")
    parser.add_argument("--backbone", help="vgg_small (CPU default), vgg16_bn, resnet18, resnet50 or any timm model")
    parser.add_argument("--batch-size", type=int, help="global batch size over all processes (train.batch_size)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                        help="override any setting, e.g. --set optim.lr=0.01 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.set_defaults(run=_pretrain)


def _pretrain(args: argparse.Namespace) -> int:
    from proxytask.train import pretrain

    config = load_yaml(PretrainConfig, args.config) if args.config else PretrainConfig()
    overrides = list(args.set)
    for flag, key in (("task", "task"), ("lfw", "data.lfw"), ("epochs", "train.epochs"), ("max_steps", "train.max_steps"),
                      ("backbone", "model.backbone"), ("batch_size", "train.batch_size")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    config = apply_overrides(config, overrides)
    metrics = pretrain(config, args.out, resume=args.resume)
    if metrics:
        print(json.dumps(metrics, indent=2))
    return 0


def _add_colorize(subparsers) -> None:
    parser = subparsers.add_parser("colorize", help="colorize images with a colorization run",
                                   epilog=EXAMPLES["colorize"], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", type=Path, help="image files, color or gray")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a colorization run folder")
    parser.add_argument("-o", "--out", required=True, type=Path, help="output folder (one PNG per input, same size)")
    parser.add_argument("--scale", type=float, help="network pixels per image pixel (default: as in pretraining)")
    parser.set_defaults(run=_colorize)


def _colorize(args: argparse.Namespace) -> int:
    from proxytask.colorize import colorize_files

    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        raise ConfigError(f"image file not found: {', '.join(missing)}")
    for path in colorize_files(args.images, args.checkpoint, args.out, args.scale):
        print(path)
    return 0


def _add_cache(subparsers) -> None:
    parser = subparsers.add_parser("cache", help="find LFW and decode the pool and downstream images into the cache",
                                   epilog=EXAMPLES["cache"], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lfw", help="folder holding lfw-deepfunneled.tgz or the extracted lfw-deepfunneled/")
    parser.add_argument("--image-size", type=int, default=PretrainConfig().data.image_size, help="cached side in pixels")
    parser.add_argument("--downstream", default=PretrainConfig().data.downstream, help="downstream task spec")
    parser.set_defaults(run=_cache)


def _cache(args: argparse.Namespace) -> int:
    from proxytask.data.cache import load_cache
    from proxytask.data.lfw import locate_lfw
    from proxytask.data.selection import select

    data = apply_overrides(PretrainConfig(), [f"data.image_size={args.image_size}"]).data
    selection = select(args.downstream, locate_lfw(args.lfw))
    for name, paths in (("downstream", selection.downstream.paths), ("pool", selection.pool)):
        cache = load_cache(paths, data.face_crop, data.image_size, data.workers)
        print(f"{name}: {len(paths)} images, {len(cache.skipped)} skipped, {int(cache.is_gray.sum())} grayscale, cache {cache.folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxytask", description="Self-supervised proxy tasks and their transfer to few-label tasks.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_pretrain(subparsers)
    _add_colorize(subparsers)
    _add_cache(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    from proxytask.data.lfw import DataError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ConfigError, DataError, FileNotFoundError) as error:
        print(f"proxytask {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
