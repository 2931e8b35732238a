"""Fault injection: a real SIGKILL at several points of a pretraining and of a study, then the same
command again; what it finishes must equal an uninterrupted run (weights bit for bit, the same results)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from proxytask.checkpoint import load_weights
from tests.conftest import tiny_overrides

ROOT = Path(__file__).resolve().parents[2]


def run(arguments: list[str], die_at: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    """``proxytask ARGUMENTS`` in a fresh process, killed on the n-th call of ``die_at``'s function."""
    command = [sys.executable, "-m", "tests.faults.die_at", die_at[0], str(die_at[1]), "--"] if die_at else \
        [sys.executable, "-m", "proxytask"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([*command, *arguments], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)


def pretrain_arguments(lfw: Path, out: Path) -> list[str]:
    sets = [arg for value in tiny_overrides(lfw) if not value.startswith("train.max_steps") for arg in ("--set", value)]
    return ["pretrain", "--out", str(out), "--max-steps", "6", *sets]


def same_weights(a: Path, b: Path) -> None:
    first, second = load_weights(a / "model.safetensors"), load_weights(b / "model.safetensors")
    assert first.keys() == second.keys()
    for key in first:
        assert torch.equal(first[key], second[key]), key


@pytest.fixture(scope="module")
def uninterrupted(fake_lfw, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight") / "run"
    done = run(pretrain_arguments(fake_lfw, out))
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize("where", [
    ("proxytask.train.train_step", 4),          # during step 4 (a checkpoint at step 2 exists)
    ("torch.save", 2),                          # writing the second checkpoint: its weights written, its state not
    ("proxytask.data.cache._decode_rows", 1),   # while caching the pool (before any step)
])
def test_a_killed_pretraining_resumes_to_the_same_weights(fake_lfw, uninterrupted, tmp_path, where):
    out = tmp_path / "run"
    killed = run(pretrain_arguments(fake_lfw, out), die_at=where)
    assert killed.returncode == -signal.SIGKILL
    again = run([*pretrain_arguments(fake_lfw, out), *(["--resume"] if (out / "config.yaml").is_file() else [])])
    assert again.returncode == 0, again.stderr
    same_weights(uninterrupted, out)
    assert not list((out / "checkpoints").glob(".step-*"))  # no staging folder of the killed write is left


def study_arguments(lfw: Path, out: Path) -> list[str]:
    sets = [f"pretrain.{o}" for o in tiny_overrides(lfw) if not o.startswith("train.max_steps")]
    sets += ["pretrain_steps=4", "budgets=1,all", "draws=2", "frozen_draws=2", "finetune.min_steps=2", "finetune.max_steps=2",
             "finetune.batch_size=4", "baselines=random", "modes=finetune,knn"]
    return ["study", "--preset", "quick", "--out", str(out), "--executor", "inprocess", *[a for s in sets for a in ("--set", s)]]


def test_a_killed_study_keeps_its_finished_jobs_and_ends_with_the_same_results(fake_lfw, tmp_path):
    straight = run(study_arguments(fake_lfw, tmp_path / "straight"))
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "killed"
    killed = run(study_arguments(fake_lfw, out), die_at=("proxytask.study.run.run_job", 3))
    assert killed.returncode == -signal.SIGKILL
    finished = sorted(p.name for p in (out / "jobs").rglob("*.json"))
    assert len(finished) == 2  # the two jobs before the kill
    again = run(study_arguments(fake_lfw, out))
    assert again.returncode == 0, again.stderr

    def scores(folder: Path) -> list[tuple]:
        results = json.loads((folder / "results.json").read_text())
        return sorted((j["init"], j["mode"], str(j["k"]), j["draw"], j["accuracy"]) for j in results["jobs"])

    assert scores(out) == scores(tmp_path / "straight")


def test_a_study_killed_during_its_second_pretraining_seed_resumes_it_and_ends_as_an_uninterrupted_one(fake_lfw, tmp_path):
    two_seeds = ["--set", "pretrain_seeds=2", "--set", "modes=knn"]
    straight = run([*study_arguments(fake_lfw, tmp_path / "straight"), *two_seeds])
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "killed"
    # 4 steps a run, a checkpoint every 2: the 7th step is the 3rd of seed 1, after its checkpoint at step 2
    killed = run([*study_arguments(fake_lfw, out), *two_seeds], die_at=("proxytask.train.train_step", 7))
    assert killed.returncode == -signal.SIGKILL
    second = out / "pretrain" / "colorization" / "seed1"
    assert (out / "pretrain" / "colorization" / "seed0" / "metrics.json").is_file() and not (second / "metrics.json").exists()
    assert (second / "checkpoints" / "step-00000002").is_dir()
    again = run([*study_arguments(fake_lfw, out), *two_seeds])
    assert again.returncode == 0, again.stderr
    same_weights(tmp_path / "straight" / "pretrain" / "colorization" / "seed1", second)

    def scores(folder: Path) -> list[tuple]:
        results = json.loads((folder / "results.json").read_text())
        return sorted((j["init"], j["pretrain_seed"], j["mode"], str(j["k"]), j["draw"], j["accuracy"]) for j in results["jobs"])

    assert scores(out) == scores(tmp_path / "straight")
    assert {entry[1] for entry in scores(out) if entry[0] == "colorization"} == {0, 1}


def test_a_killed_cache_build_leaves_no_worker_behind(tmp_path):
    """The parent of two decoding workers is killed mid-build: the workers die with it."""
    script = tmp_path / "build.py"
    script.write_text(f"""
import os, signal, sys
sys.path[:0] = [{str(ROOT / 'src')!r}, {str(ROOT)!r}]
from proxytask.data import cache
from tests.conftest import face_image
files = []
for i in range(600):
    files.append({str(tmp_path)!r} + f"/{{i}}.jpg")
    face_image(i, size=64).save(files[-1])
real = cache._decode_rows
def slow(job):
    import time; time.sleep(0.2)
    return real(job)
cache._decode_rows = slow
original_collect = cache.json.dumps
calls = []
def record_then_die(chunk, *a, **k):
    calls.append(1)
    if len(calls) == 2:
        print(os.getpid(), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return original_collect(chunk, *a, **k)
cache.json.dumps = record_then_die
cache.load_cache(files, "center", 16, workers=2, home=__import__("pathlib").Path({str(tmp_path / 'home')!r}))
""")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    time.sleep(1)
    survivors = subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True).stdout.split()  # forked workers share its command line
    assert not survivors
