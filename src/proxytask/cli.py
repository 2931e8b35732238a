"""The ``proxytask`` command: one small function per subcommand, the top layer.

Each subcommand imports what it runs when it runs, so that ``proxytask --help`` and a mistyped
command answer at once instead of after loading PyTorch; nothing imports this module.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import signal
import sys
from pathlib import Path

from proxytask.budgets import ALL_LABELS, parse_budget
from proxytask.config import MAX_SEED, ConfigError, apply_overrides, load_yaml, merge_yaml
from proxytask.files import FULL_DISK, DamagedFile, printable
from proxytask.transfer.modes import MODES, backbone_modes

EXAMPLES = {
    "pretrain": """example:
  proxytask pretrain --task colorization --out runs/color --epochs 2 --lfw ~/data/lfw
  proxytask pretrain --task colorization --out runs/color --resume          # continue after a stop
  proxytask pretrain --out runs/color --resume --extend-steps 2000          # continue, and run on to 2000 steps
  torchrun --nproc_per_node=2 -m proxytask pretrain --out runs/ddp --max-steps 100
  proxytask pretrain --out runs/vgg16 --backbone vgg16_bn --set data.image_size=224 --set data.crop_size=176""",
    "colorize": """example:
  proxytask colorize photo.jpg old_gray.png --checkpoint runs/color -o colorized/""",
    "cache": """example:
  proxytask cache --lfw ~/data/lfw --image-size 64""",
    "study": """example:
  proxytask study --preset quick --out runs/study-quick      # LFW from --lfw, $PROXYTASK_LFW, the cache or a download
  proxytask study --preset standard --out runs/study --lfw ~/data/lfw --downstream lfw:min_faces=50
  proxytask study --out runs/mine --pool ~/pictures/unlabeled --downstream ~/pictures/labeled --set baselines=random,eigenfaces
  proxytask study --preset standard --out runs/study --set budgets=10,all --set draws=5
  proxytask study --preset standard --out runs/study --executor local --workers 2
  proxytask study --preset paper --out runs/paper --executor slurm --partition gpu --gpus-per-job 8 --workers 32
  proxytask study --preset standard --out runs/study --tasks colorization,denoising,inpainting,rotation,jigsaw \\
      --analyses loss,data,head,feature-change
  proxytask study --preset quick --out runs/denoising --tasks denoising --vary denoising.mask_fraction=0.3,0.6
  proxytask study --preset quick --out runs/seeds --set pretrain_seeds=3 --plan     # list the jobs, run nothing""",
    "finetune": """example:
  proxytask finetune --init runs/color --k 10 --draw 0 --out runs/ft-color-k10
  proxytask finetune --init runs/study/pretrain/colorization/seed0 --k 10 --out runs/ft-study-color
  proxytask finetune --init random-rgb --k all --out runs/ft-random-rgb --downstream path/to/root""",
    "probe": """example:
  proxytask probe --init runs/color --k 25 --out runs/probe-color-k25 --lfw ~/data/lfw""",
    "tune": """example:
  proxytask tune --preset quick --out runs/recipe-quick
  proxytask tune --preset standard --out runs/recipe --draws 2""",
    "export": """example:
  proxytask export runs/color -o exported/color
  # then, in Python: import proxytask.models, timm, safetensors.torch  (proxytask.models registers vgg_small)
  #   model = timm.create_model("vgg_small", in_chans=1, num_classes=0)
  #   model.load_state_dict(safetensors.torch.load_file("exported/color/backbone.safetensors"))""",
    "predict": """example:
  proxytask finetune --init runs/color --k 10 --out runs/ft-color     # writes runs/ft-color/classifier/
  proxytask predict photos/ more/face.jpg --model runs/ft-color -o predictions.csv""",
    "knn": """example:
  proxytask knn --init random --k 10 --out runs/knn-random-k10""",
}


# Where LFW comes from, said once for every command that reads it (proxytask.data.lfw finds it).
LFW_HELP = ("LFW: a folder holding lfw-deepfunneled.tgz (or lfw-funneled.tgz, lfw.tgz) or the extracted folder; default: "
            "$PROXYTASK_LFW, else the cache folder $PROXYTASK_HOME (~/.cache/proxytask), else a download into it from the "
            "LFW authors' site (UMass Amherst) or scikit-learn's figshare copies, checksums verified")


def _command(subparsers: argparse._SubParsersAction, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand's parser, its example (``EXAMPLES[name]``) shown under ``--help``."""
    return subparsers.add_parser(name, help=help_text, epilog=EXAMPLES[name], formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_pretrain(subparsers) -> None:
    parser = _command(subparsers, "pretrain", "pretrain a backbone on a proxy task (unlabeled pool)")
    parser.add_argument("--task", help="proxy task (default: colorization)")
    parser.add_argument("--out", required=True, type=Path, help="run folder (config, logs, checkpoints, gallery, metrics)")
    parser.add_argument("--config", type=Path, help="YAML file of settings (see config.yaml in any run folder)")
    parser.add_argument("--lfw", help=LFW_HELP)
    _add_pool(parser)
    parser.add_argument("--downstream", help="the downstream task whose images stay out of the pool (default lfw-politicians-7)")
    parser.add_argument("--epochs", type=float, help="passes over the pool (train.epochs)")
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (train.max_steps)")
    parser.add_argument("--backbone", help="vgg_small (CPU default), vgg16_bn, resnet18, resnet50 or any timm model")
    parser.add_argument("--batch-size", type=int, help="global batch size over all processes (train.batch_size)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                        help="override any setting, e.g. --set optim.lr=0.01 (repeatable)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint, with its "
                                                                 "saved settings (a differing setting is refused)")
    parser.add_argument("--extend-steps", type=int, metavar="N", help="with --resume: run on to N steps in all (train.max_steps)")
    parser.add_argument("--monitor", metavar="SPEC", default=None,
                        help="the labeled development task the transfer monitor scores every train.monitor_every steps "
                             "(default lfw-dev-7; an image folder root/<class>/<image> for your own data); never the test task")
    parser.set_defaults(handler=_pretrain)


def _pretrain(args: argparse.Namespace) -> int:
    from proxytask.runs import PretrainConfig, RunFolder
    from proxytask.train import pretrain

    if args.extend_steps is not None and not args.resume:
        raise ConfigError("--extend-steps lengthens a run being resumed: pass it with --resume")
    run = RunFolder(args.out)
    if args.resume and run.started:  # the saved settings rule; the command line may only repeat them
        config = run.settings()
    else:
        config = load_yaml(PretrainConfig, args.config) if args.config else PretrainConfig()
    overrides = _pool_overrides(args, "data.pool") + list(args.set)
    if args.extend_steps is not None:
        overrides.append(f"train.max_steps={args.extend_steps}")
    for flag, key in (("task", "task"), ("lfw", "data.lfw"), ("downstream", "data.downstream"), ("epochs", "train.epochs"),
                      ("max_steps", "train.max_steps"), ("backbone", "model.backbone"), ("batch_size", "train.batch_size")):
        value = getattr(args, flag)
        if value is not None:
            overrides.append(f"{key}={value}")
    if args.resume and args.config:
        config = merge_yaml(config, args.config)
    config = apply_overrides(config, overrides)
    monitor = None
    if config.train.monitor_every:
        from proxytask.transfer.monitor import run_monitor

        monitor = run_monitor(config, args.monitor)
    elif args.monitor:
        raise ConfigError("--monitor names the task the transfer monitor scores: set how often with --set train.monitor_every=N")
    metrics = pretrain(config, args.out, resume=args.resume, extend_steps=args.extend_steps is not None, monitor=monitor)
    if metrics:
        print(json.dumps(metrics, indent=2))
    return 0


def _add_colorize(subparsers) -> None:
    parser = _command(subparsers, "colorize", "colorize images with a colorization run")
    parser.add_argument("images", nargs="+", type=Path, help="image files, color or gray")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a colorization run folder")
    parser.add_argument("-o", "--out", required=True, type=Path, help="output folder (one PNG per input, same size)")
    parser.add_argument("--scale", type=float, help="network pixels per image pixel (default: as in pretraining)")
    parser.set_defaults(handler=_colorize)


def _colorize(args: argparse.Namespace) -> int:
    from proxytask.colorize import colorize_files

    missing = [str(p) for p in args.images if not p.is_file()]
    if missing:
        raise ConfigError(f"image file not found: {', '.join(missing)}")
    written, skipped = colorize_files(args.images, args.checkpoint, args.out, args.scale)
    for path in written:
        print(printable(str(path)))
    for path, reason in skipped:
        print(f"skipped {printable(str(path))}: {reason}", file=sys.stderr)
    return 0 if written or not skipped else 2


def _add_pool(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pool", action="append", metavar="FOLDER", help="unlabeled pretraining images: a folder searched "
                        "recursively, or lfw (LFW without the downstream people; the default); repeat for several")


def _pool_overrides(args: argparse.Namespace, key: str) -> list[str]:
    """``--pool`` as a setting: the list of sources (JSON, so that no folder name is split)."""
    return [f"{key}={json.dumps(args.pool)}"] if args.pool else []


def _add_cache(subparsers) -> None:
    parser = _command(subparsers, "cache", "find the images and decode the pool and downstream images into the cache")
    parser.add_argument("--lfw", help=LFW_HELP)
    parser.add_argument("--image-size", type=int, help="cached side in pixels (data.image_size)")
    parser.add_argument("--downstream", help="downstream task spec (data.downstream)")
    _add_pool(parser)
    parser.add_argument("--config", type=Path, help="YAML file of pretraining settings (its data section is used)")
    parser.add_argument("--set", action="append", default=[], metavar="data.NAME=VALUE", help="override a data setting (repeatable)")
    parser.set_defaults(handler=_cache)


def _cache(args: argparse.Namespace) -> int:
    from proxytask.data.cache import load_cache
    from proxytask.data.images import describe_skips
    from proxytask.data.selection import downstream_task, pool_sources
    from proxytask.runs import PretrainConfig

    config = load_yaml(PretrainConfig, args.config) if args.config else PretrainConfig()
    overrides = _pool_overrides(args, "data.pool") + list(args.set)
    if args.image_size is not None:  # the cache holds whole images; training crops are cut from them later
        overrides += [f"data.image_size={args.image_size}", f"data.crop_size={min(config.data.crop_size, args.image_size)}"]
    for flag, key in (("lfw", "data.lfw"), ("downstream", "data.downstream")):
        if getattr(args, flag) is not None:
            overrides.append(f"{key}={getattr(args, flag)}")
    data = apply_overrides(config, overrides).data
    task = downstream_task(data)
    for name, paths, crop in (("downstream", task.images.paths, task.crop),
                              *((f"pool {source.name}", source.paths, source.crop) for source in pool_sources(data))):
        cache = load_cache(paths, crop, data.image_size, data.workers)
        skipped = f" ({describe_skips(cache.skipped)})" if cache.skipped else ""
        print(f"{name}: {len(paths)} images, {len(cache.skipped)} skipped{skipped}, {int(cache.is_gray.sum())} grayscale, "
              f"cache {cache.folder}")
    return 0


def _add_study_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", metavar="NAME",
                        help="quick (minutes on a CPU), standard (the CPU benchmark), paper (VGG-16, a GPU); "
                             "default: standard with a CUDA GPU, else quick")
    parser.add_argument("--downstream", help="lfw-politicians-7 (default), lfw-dev-7 (the development task), lfw:min_faces=N, "
                                             "lfw:people=A,B,... or a folder root/<class>/<image>")
    parser.add_argument("--lfw", help=LFW_HELP)
    parser.add_argument("--config", type=Path, help="YAML file of study settings, on top of the preset (e.g. a study's config.yaml)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a study setting, e.g. --set draws=5 or --set finetune.max_steps=300 (repeatable)")


def _study_config(args: argparse.Namespace, extra: list[str] = ()):
    """The study settings the command line asks for; a mistyped downstream name is refused here, before
    any plan or job (``--plan`` included)."""
    from proxytask.data.selection import check_downstream_spec
    from proxytask.study.presets import check_preset, study_config

    overrides = list(extra)
    if args.downstream:
        overrides.append(f"pretrain.data.downstream={args.downstream}")
    if args.lfw:
        overrides.append(f"pretrain.data.lfw={args.lfw}")
    config = study_config(args.preset, [])
    if args.config:
        config = merge_yaml(config, args.config)
    config = check_preset(apply_overrides(config, overrides + list(args.set)))
    check_downstream_spec(config.pretrain.data.downstream)
    return config


def _add_study(subparsers) -> None:
    parser = _command(subparsers, "study", "run a whole comparison and write its report (resumable)")
    parser.add_argument("--out", required=True, type=Path, help="study folder (restart the same command to resume)")
    parser.add_argument("--tasks", help="proxy tasks to compare, comma-separated (default: colorization)")
    parser.add_argument("--analyses", help="the paper's analyses to add, comma-separated: loss, data, head, feature-change, "
                                           "input, length (transferred at --set analysis_budgets=10)")
    parser.add_argument("--vary", action="append", metavar="SECTION.KEY=V1,V2,...",
                        help="pretrain one variant of every task with that setting per value and compare each with random init "
                             "and with the task at its default value (repeatable), e.g. --vary denoising.mask_fraction=0.3,0.6")
    parser.add_argument("--plan", action="store_true", help="print the study's plan (its runs, jobs and comparisons, what is "
                                                            "done already) and exit without running anything")
    parser.add_argument("--executor", choices=["inprocess", "local", "slurm"],
                        help="where the jobs run: this process, local worker processes, or Slurm (submitit); default: this "
                             "process on a GPU, one local worker per CPU core (at most 4) on a CPU")
    parser.add_argument("--workers", type=int, help="jobs at once (local worker processes, or the Slurm array's parallelism; "
                                                     "default: one per CPU core, at most 4, for local)")
    parser.add_argument("--partition", help="Slurm partition")
    parser.add_argument("--gpus-per-job", type=int, default=0, help="Slurm: GPUs per pretraining job (one data-parallel process each)")
    parser.add_argument("--time-limit", type=int, default=240, help="Slurm (and local): minutes per job")
    parser.add_argument("--monitor", metavar="SPEC", help="the labeled development task the transfer monitor scores during "
                                                          "pretraining (monitor_task; default lfw-dev-7; with --set "
                                                          "pretrain.train.monitor_every=N); never the test task")
    parser.add_argument("--gallery", type=Path, metavar="FOLDER",
                        help="your own photos (any size): seed 0 of each colorization run of the main table colorizes them "
                             "at full size into photos/<run>/ beside the report, which shows them")
    _add_pool(parser)
    _add_study_settings(parser)
    parser.set_defaults(handler=_study)


def _study(args: argparse.Namespace) -> int:
    from proxytask.study.executors import ExecutorSettings, default_executor, default_workers
    from proxytask.study.run import print_plan, run_study

    extra = [f"tasks={args.tasks}"] if args.tasks else []
    extra += [f"analyses={args.analyses}"] if args.analyses else []
    extra += [f"vary={json.dumps(args.vary)}"] if args.vary else []
    extra += _pool_overrides(args, "pretrain.data.pool")
    extra += [f"monitor_task={args.monitor}"] if args.monitor else []
    config = _study_config(args, extra)
    default = default_executor()
    kind = args.executor or (default.kind if args.workers is None else "local")
    workers = args.workers if args.workers is not None else (default_workers() if kind == "local" else 1)
    executor = ExecutorSettings(kind, workers, args.partition, args.gpus_per_job, args.time_limit)  # checked with --plan too
    if args.plan:
        print(print_plan(config, args.out))
        return 0
    results = run_study(config, args.out, executor, args.gallery)
    reports = ", ".join(str(args.out / name) for name in ("report.html", "report.md", "report.pdf"))
    print(f"{len(results.rows)} result rows; report: {reports}")
    return 0


def _add_tune(subparsers) -> None:
    parser = _command(subparsers, "tune", "fix the fine-tuning recipe on the development task lfw-dev-7 (never the test task)")
    parser.add_argument("--out", required=True, type=Path, help="folder for recipe.yaml (the chosen finetune settings) and tune.json")
    parser.add_argument("--draws", type=int, default=2, help="label draws per budget and candidate (default 2)")
    _add_study_settings(parser)
    parser.set_defaults(handler=_tune)


def _tune(args: argparse.Namespace) -> int:
    from proxytask.study.recipe import format_table, tune_recipe

    if args.draws < 1:
        raise ConfigError(f"--draws must be >= 1, got {args.draws}")
    summary = tune_recipe(_study_config(args), args.out, args.draws)
    print(format_table(summary))
    print(f"recipe: {args.out / 'recipe.yaml'}")
    return 0


def _add_transfer(subparsers, mode: str, help_text: str) -> None:
    parser = _command(subparsers, mode, help_text)
    parser.add_argument("--init", required=True, help="a pretraining run folder, random (reading pretrain.input) or random-rgb")
    parser.add_argument("--out", required=True, type=Path, help="folder for result.json, manifest.csv, config.yaml")
    parser.add_argument("--k", default=ALL_LABELS, help="labeled images per class, or all (default)")
    parser.add_argument("--draw", type=int, default=0, help="which draw of the budget (its seed)")
    _add_study_settings(parser)
    parser.set_defaults(handler=_transfer, mode=mode)


def _transfer(args: argparse.Namespace) -> int:
    from proxytask.study.single import transfer_once

    if args.k != ALL_LABELS and not args.k.isdigit():
        raise ConfigError(f"--k must be a whole number of images per class or 'all', got {args.k!r}")
    if not 0 <= args.draw <= MAX_SEED:
        raise ConfigError(f"--draw must be a draw's seed from 0 to {MAX_SEED}, got {args.draw}")
    k = parse_budget(args.k)
    result = transfer_once(args.mode, args.init, _study_config(args), k, args.draw, args.out)
    print(f"{args.mode} {result.init} k={args.k} draw {result.draw}: test accuracy {result.accuracy:.3f}, "
          f"macro-F1 {result.macro_f1:.3f} (chosen: {result.details['chosen']}, by {result.details['selection']})")
    return 0


def _add_export(subparsers) -> None:
    parser = _command(subparsers, "export", "write a pretraining run's backbone as plain timm weights (safetensors) + backbone.json")
    parser.add_argument("run", type=Path, help="a finished pretraining run folder")
    parser.add_argument("-o", "--out", required=True, type=Path, help="folder for backbone.safetensors and backbone.json")
    parser.add_argument("--force", action="store_true", help="replace the export --out already holds")
    parser.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from proxytask.export import BACKBONE_WEIGHTS, export_backbone

    info = export_backbone(args.run, args.out, args.force)
    print(f"{args.out / BACKBONE_WEIGHTS}: timm {info['timm_model']} (in_chans={info['in_chans']}, num_classes=0), "
          f"{info['feature_dim']} features; input: {info['input_description']}")
    if info["timm_keys_without_weights"]:
        print(f"note: timm's {info['timm_model']} has {len(info['timm_keys_without_weights'])} weights the backbone does not "
              f"train (e.g. {info['timm_keys_without_weights'][0]}); load with strict=False")
    return 0


PREDICT_BATCH = 256


def _add_predict(subparsers) -> None:
    parser = _command(subparsers, "predict", "classify pictures with a fine-tuned classifier; one CSV row per picture")
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders (searched recursively)")
    parser.add_argument("--model", required=True, type=Path, help="the folder `proxytask finetune --out` wrote")
    parser.add_argument("-o", "--out", required=True, type=Path, help="CSV: path, predicted class, one probability per class")
    parser.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace) -> int:
    import csv

    from proxytask.data.folders import image_tree
    from proxytask.export import load_classifier, read_pictures
    from proxytask.files import TEXT_ENCODING, write_atomic

    classifier = load_classifier(args.model)
    paths = []
    for given in args.images:
        if given.is_dir():
            paths += image_tree(given)
        elif given.is_file():
            paths.append(given)
        else:
            raise ConfigError(f"{given} is neither an image file nor a folder")
    names, skipped, classified = classifier.class_names, [], 0

    def write(tmp: Path) -> None:
        nonlocal classified
        with open(tmp, "w", newline="", **TEXT_ENCODING) as handle:
            writer = csv.writer(handle)
            writer.writerow(["path", "predicted", *names])
            for start in range(0, len(paths), PREDICT_BATCH):  # a batch of pictures in memory at a time
                kept, images, unreadable = read_pictures(paths[start:start + PREDICT_BATCH], classifier.preprocessing)
                skipped.extend(unreadable)
                for path, row in zip(kept, classifier.probabilities(images).tolist()):
                    writer.writerow([str(path), names[row.index(max(row))], *(f"{p:.6f}" for p in row)])
                classified += len(kept)

    write_atomic(args.out, write)
    for path, reason in skipped:
        print(f"skipped {printable(str(path))}: {reason}", file=sys.stderr)
    print(f"{args.out}: {classified} pictures classified, {len(skipped)} skipped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proxytask", description="Self-supervised proxy tasks and their transfer to few-label tasks. "
                                     "Errors are one line; add --debug anywhere for the traceback.")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_pretrain(subparsers)
    _add_colorize(subparsers)
    _add_cache(subparsers)
    _add_study(subparsers)
    _add_tune(subparsers)
    for mode in backbone_modes():
        _add_transfer(subparsers, mode, MODES[mode].help)
    _add_export(subparsers)
    _add_predict(subparsers)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process is, so that it ends as an interruption does: its workers
    stopped, its files left to continue from."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(signal.Signals(signum).name)


def continue_command(args: argparse.Namespace, argv: list[str]) -> str:
    """The command that continues an interrupted one: the same, with ``--resume`` for a pretraining
    run that had started (the same ``pretrain`` command refuses a started run)."""
    from proxytask.runs import RunFolder

    words = ["proxytask", *argv]
    if args.command == "pretrain" and not args.resume and RunFolder(args.out).started:
        words.append("--resume")
    return shlex.join(printable(word) for word in words)


def _error_message(error: Exception, again: str) -> tuple[str, bool]:
    """(one line, whether it is a known kind of error) for an error that ends a command: a full disk
    names the file and the command that continues (``again``)."""
    from proxytask.data.lfw import DataError

    if isinstance(error, OSError) and error.errno in FULL_DISK:
        where = f" writing {printable(str(error.filename))}" if error.filename else ""
        return f"no space left on the disk{where}: free some space (or choose another folder), then continue with: {again}", True
    known = isinstance(error, (ConfigError, DataError, FileNotFoundError, DamagedFile))
    return (str(error) if known else f"{type(error).__name__}: {error}"), known


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. An error is one line naming the file or setting (exit 2); ``--debug`` shows
    the traceback instead. An interrupted command (Ctrl-C, SIGTERM) stops its workers and says the
    command that continues it (exit 130)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = build_parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.handler(args)
    except KeyboardInterrupt as stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM while leaving does not cut the message short
        how = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
        print(f"proxytask {args.command}: {how}; continue with: {continue_command(args, argv)}", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        message, known = _error_message(error, continue_command(args, argv))
        print(f"proxytask {args.command}: error: {' '.join(message.split())}" + ("" if known else " (--debug shows the traceback)"),
              file=sys.stderr)
        return 2
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
