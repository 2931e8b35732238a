"""Real processes: one writer per run and study folder, and SIGTERM or SIGINT stopping a whole
study (its local workers included) so that the command it names continues to the same results."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from proxytask.locks import folder_lock
from tests.faults.test_kill import ROOT, pretrain_arguments, run, same_weights, study_arguments


def start(arguments: list[str], interrupts: bool = True) -> subprocess.Popen:
    """``proxytask ARGUMENTS`` started in a fresh process (not waited for); ``interrupts``: Ctrl-C
    interrupts it, as in a terminal (else SIGINT is ignored, as for a command started with ``nohup``)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "proxytask", *arguments], cwd=ROOT, env=environment, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL if interrupts else signal.SIG_IGN))


def wait_for(path: Path, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def processes_naming(text: str) -> list[str]:
    """PIDs of the running processes whose command line holds ``text``."""
    return subprocess.run(["pgrep", "-f", text], capture_output=True, text=True).stdout.split()


def continuation(stderr: str) -> list[str]:
    """The arguments of the command an interrupted one says continues it."""
    line = next(line for line in stderr.splitlines() if "continue with: " in line)
    words = shlex.split(line.split("continue with: ", 1)[1])
    assert words[0] == "proxytask"
    return words[1:]


def test_a_second_command_on_a_held_folder_is_refused_naming_the_holder(fake_lfw, tmp_path):
    out = tmp_path / "run"
    with folder_lock(out, "run folder"):
        refused = run(pretrain_arguments(fake_lfw, out))
        assert refused.returncode == 2
        assert f"run folder {out} is in use by PID {os.getpid()}" in refused.stderr
        study = tmp_path / "study"
        with folder_lock(study, "study folder"):
            assert f"study folder {study} is in use by PID {os.getpid()}" in run(study_arguments(fake_lfw, study)).stderr
    assert not out.exists()  # the lock made the folder and leaves it as it found it: a refused start writes nothing
    assert run(pretrain_arguments(fake_lfw, out)).returncode == 0


def test_a_lock_dies_with_its_holder(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", f"import sys, time; sys.path[:0] = [{str(ROOT / 'src')!r}]\n"
                               "from proxytask.locks import folder_lock\n"
                               f"with folder_lock(__import__('pathlib').Path({str(out)!r}), 'run folder'):\n"
                               "    print('held', flush=True); time.sleep(600)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    with folder_lock(out, "run folder"):  # a kill -9 leaves no lock behind
        assert (out / ".lock").read_text().startswith(f"PID {os.getpid()}")


def test_an_interrupted_pretraining_names_the_command_that_continues_it(fake_lfw, tmp_path):
    out = tmp_path / "run"
    arguments = [*pretrain_arguments(fake_lfw, out), "--max-steps", "40"]
    process = start(arguments)
    wait_for(out / "checkpoints" / "step-00000002", process)
    assert not (out / "metrics.json").exists()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    again = continuation(stderr)
    assert again == [*arguments, "--resume"]
    finished = run(again)
    assert finished.returncode == 0, finished.stderr
    steps = [line.split(",")[0] for line in (out / "log.csv").read_text().splitlines()[1:]]
    assert len(steps) == len(set(steps)) and steps[-1] == "40"


def local_study(lfw: Path, out: Path) -> list[str]:
    """A study of one 12-step pretraining run whose jobs run in two local worker processes."""
    arguments = study_arguments(lfw, out)
    arguments[arguments.index("inprocess")] = "local"
    small = ["pretrain_steps=12", "pretrain_seeds=1", "modes=knn", "budgets=1", "draws=1", "frozen_draws=1"]
    return [*arguments, "--workers", "2", *[a for s in small for a in ("--set", s)]]


@pytest.fixture(scope="module")
def uninterrupted_study(fake_lfw, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("straight") / "study"
    done = run(local_study(fake_lfw, out))
    assert done.returncode == 0, done.stderr
    return out


def scores(folder: Path) -> list[tuple]:
    results = json.loads((folder / "results.json").read_text())
    return sorted((j["init"], j["pretrain_seed"], j["mode"], str(j["k"]), j["draw"], j["accuracy"]) for j in results["jobs"])


@pytest.mark.parametrize("stop, interrupts", [(signal.SIGTERM, True), (signal.SIGINT, True), (signal.SIGTERM, False)],
                         ids=["SIGTERM", "SIGINT", "SIGTERM, started with nohup"])
def test_a_signal_stops_a_study_and_its_workers_and_the_named_command_ends_as_an_uninterrupted_one(
        fake_lfw, uninterrupted_study, tmp_path, stop, interrupts):
    """Without interrupts (``nohup``), the workers ignore the cancel's SIGINT too, and are killed."""
    out = tmp_path / "study"
    arguments = local_study(fake_lfw, out)
    process = start(arguments, interrupts)
    wait_for(out / "pretrain" / "colorization" / "seed0" / "checkpoints" / "step-00000002", process)
    assert not (out / "pretrain" / "colorization" / "seed0" / "metrics.json").exists()  # stopped while it trains
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    time.sleep(1)
    assert not processes_naming(str(out / "executor")), "a worker outlived the study"
    again = continuation(stderr)
    assert again == arguments  # the same command continues a study
    finished = run(again)
    assert finished.returncode == 0, finished.stderr
    assert scores(out) == scores(uninterrupted_study)
    run_folder = out / "pretrain" / "colorization" / "seed0"
    same_weights(uninterrupted_study / "pretrain" / "colorization" / "seed0", run_folder)
    steps = [line.split(",")[0] for line in (run_folder / "log.csv").read_text().splitlines()[1:]]
    assert len(steps) == len(set(steps)) and steps[-1] == "12", f"log rows of {run_folder}: {steps}"
