"""Whether a study folder can continue with the settings given, and the layout of earlier versions.

A folder holds one configuration: a restart must keep every setting that changes what a job
computes; it may extend the study (:data:`proxytask.study.settings.EXTENT_SETTINGS`) or find LFW
elsewhere. A folder of protocol 2 continues with its random init's fine-tuning jobs recomputed
where protocol 3 draws other weights; one saved before transfer jobs computed in bf16 continues only in fp32, and one
saved before pretraining seeds (runs in ``pretrain/<init>/``, jobs in ``jobs/<mode>/<init>/``)
has its runs and jobs moved to seed folders, each run matched to the planned run whose settings
it holds.
"""

from __future__ import annotations

import glob
import json
import logging
import shutil
from typing import Any

import torch

from proxytask.config import ConfigError, apply_overrides, from_dict, read_settings_yaml, to_dict
from proxytask.files import write_json_atomic
from proxytask.runs import RunFolder
from proxytask.study.folder import StudyFolder
from proxytask.study.plan import RANDOM_SOURCE, StudyPlan
from proxytask.study.settings import EXTENT_SETTINGS, FEATURE_CHANGE, StudyConfig, run_settings
from proxytask.transfer.modes import MODES

log = logging.getLogger(__name__)

# Protocols whose folders continue under this one: protocol 2's jobs hold except random init's
# fine-tuning on draws whose seed drew other weights (:func:`set_aside_protocol2_jobs`).
CONTINUED_PROTOCOLS = (2,)
SUPERSEDED = "superseded"
# A run of the earlier layout is renamed to ``.<name>.moving`` before it takes its new place (a restart finishes the move).
MOVING = ".moving"


def _identity(config: dict[str, Any]) -> dict[str, Any]:
    """The settings that fix what a study's jobs compute."""
    identity = {key: value for key, value in config.items() if key not in EXTENT_SETTINGS}
    data = identity.get("pretrain", {}).get("data", {})
    identity["pretrain"] = {**identity.get("pretrain", {}), "data": {k: v for k, v in data.items() if k != "lfw"}}
    return identity


def _fp32_settings() -> list[str]:
    """What a study folder saved before the ``finetune.bf16`` setting existed ran under, as settings:
    fp32 transfer jobs everywhere, and fp32 pretraining off CUDA (where ``train.bf16`` then did nothing)."""
    names = ["finetune.bf16", "finetune.channels_last"]
    return names if torch.cuda.is_available() else [*names, "pretrain.train.bf16", "pretrain.train.channels_last"]


def check_study_folder(config: StudyConfig, folder: StudyFolder) -> None:
    """Refuse settings that differ from those of the work ``folder`` holds, naming them and the way on.
    A folder whose start failed before any work was done takes the new settings."""
    out = folder.root
    if folder.config.is_file() and not folder.holds_work():
        shutil.rmtree(folder.splits, ignore_errors=True)  # a failed start's manifests: the new settings make their own
        return
    if not folder.config.is_file():
        return
    saved_values = read_settings_yaml(folder.config.read_text()) or {}
    made_under = saved_values.get("protocol", 1)
    if made_under not in (config.protocol, *CONTINUED_PROTOCOLS):
        raise ConfigError(f"{out} holds a study made under protocol {made_under} (validation-based choices); its jobs "
                          f"cannot be mixed with protocol {config.protocol}'s: choose another --out")
    # A folder saved before finetune.bf16 existed ran in fp32: it is compared as it ran.
    made_in_fp32 = "bf16" not in (saved_values.get("finetune") or {})
    as_run = apply_overrides(from_dict(StudyConfig, {**saved_values, "protocol": config.protocol}),
                             [f"{name}=false" for name in _fp32_settings()] if made_in_fp32 else [])
    previous, current = _identity(to_dict(as_run)), _identity(to_dict(config))
    changed = sorted(key for key in current if previous.get(key) != current[key])
    if changed and made_in_fp32 and {"finetune", "pretrain"} >= set(changed):
        raise ConfigError(f"{out} was made before transfer jobs computed in bf16 where the device runs it natively; "
                          f"its jobs ran in fp32 (and, on a CPU, its pretraining too). Continue it with "
                          f"{' '.join(f'--set {name}=false' for name in _fp32_settings())}, or choose another --out")
    if changed:
        raise ConfigError(f"{out} holds a study with other settings for {', '.join(changed)} ({folder.config}); restart "
                          f"it with the same ones (tasks, budgets, draws, seeds, analyses and variants may change), or choose "
                          "another --out")


def _settings_key(values: dict[str, Any]) -> str:
    """A run's settings as a comparable text, wherever LFW lies and whatever its precision said (a run of
    an earlier version saved ``train.bf16: true`` where it computed in fp32; the folder check has already
    made sure the study continues in the precision its jobs ran in)."""
    data = {k: v for k, v in values.get("data", {}).items() if k != "lfw"}
    train = {k: v for k, v in values.get("train", {}).items() if k not in ("bf16", "channels_last")}
    return json.dumps({**values, "data": data, "train": train}, sort_keys=True)


def _move_jobs(folder: StudyFolder, old_init: str, name: str, seed: int) -> None:
    """Every job file of init ``old_init`` in the earlier layout to ``name``'s folders at ``seed``, its record saying so."""
    for job_file in sorted(folder.jobs.glob(f"*/{glob.escape(old_init)}/k*-d*.json")):
        record = json.loads(job_file.read_text())
        record.update(init=name, pretrain_seed=seed)
        write_json_atomic(folder.jobs / job_file.parent.parent.name / name / f"seed{seed}" / job_file.name, record)
        job_file.unlink()


def move_earlier_layout(config: StudyConfig, plan: StudyPlan, folder: StudyFolder) -> None:
    """Move the runs and jobs of an earlier layout into this one's seed folders: each run in
    ``pretrain/<name>/`` to the planned run whose settings it holds, its jobs first (so that a move
    stopped halfway resumes where it stopped); the jobs of inits that had no run (random init, the
    baselines) to seed 0. A run no plan asks for stays where it is, with its jobs."""
    planned = {_settings_key(to_dict(run_settings(config, run.variant, run.seed))): run for run in plan.runs}
    earlier = sorted(path.parent for path in folder.pretraining.glob("*/config.yaml"))
    for old in earlier:
        old_name = old.name.removeprefix(".").removesuffix(MOVING)
        run = planned.get(_settings_key(to_dict(RunFolder(old).settings())))
        if run is None:
            log.warning("%s holds a run of an earlier layout that this study does not plan; it is left as it is", old)
            continue
        _move_jobs(folder, old_name, run.name, run.seed)
        staging = old if old.name.endswith(MOVING) else old.with_name(f".{old.name}{MOVING}")
        old.rename(staging)
        target = folder.run(run).root
        target.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(target)
        log.info("moved %s (an earlier layout) and its jobs to %s", old, target)
    runs_left = {path.name for path in earlier if (path / "config.yaml").is_file()}
    for init in sorted({path.parent.name for path in folder.jobs.glob("*/*/k*-d*.json")} - runs_left):
        _move_jobs(folder, init, init, 0)
    for empty in sorted(folder.jobs.glob("*/*"), reverse=True):
        if empty.is_dir() and not any(empty.iterdir()):
            empty.rmdir()


def holds_earlier_layout(folder: StudyFolder) -> bool:
    """True when ``folder`` holds runs or jobs where an earlier version put them."""
    return any(folder.pretraining.glob("*/config.yaml")) or any(folder.jobs.glob("*/*/k*-d*.json"))



def set_aside_protocol2_jobs(config: StudyConfig, plan: StudyPlan, folder: StudyFolder) -> None:
    """Move the jobs of a protocol-2 folder that protocol 3 computes otherwise to ``superseded/`` (kept,
    not read): random init's fine-tuning and feature-change jobs whose backbone was drawn from the draw's
    fine-tuning seed instead of the init's seed (every draw but the one whose seeds coincide). Nothing
    to do in a folder of another protocol."""
    if not folder.config.is_file() or (read_settings_yaml(folder.config.read_text()) or {}).get("protocol") not in CONTINUED_PROTOCOLS:
        return
    randoms = {planned.name for planned in plan.inits if planned.source == RANDOM_SOURCE}
    for job_file in sorted(folder.jobs.glob("*/*/seed*/k*-d*.json")):
        mode, init, seed = job_file.parent.parent.parent.name, job_file.parent.parent.name, job_file.parent.name
        if init not in randoms or not (mode == FEATURE_CHANGE or mode in MODES and MODES[mode].trains_network):
            continue
        record = json.loads(job_file.read_text())
        if "weights_seed" not in record and config.finetune.seed + record["draw"] != int(seed.removeprefix("seed")):
            target = folder.root / SUPERSEDED / job_file.relative_to(folder.root)
            target.parent.mkdir(parents=True, exist_ok=True)
            job_file.rename(target)
            log.info("protocol 3 draws random init's weights from its seed: %s is recomputed (the earlier one is in %s)",
                     job_file.relative_to(folder.root), target.parent)
