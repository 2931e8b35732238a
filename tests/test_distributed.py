"""The training loop under ``torchrun`` with 2 CPU processes (gloo) against 1 process, same global batch."""

import os
import socket
import subprocess
import sys

import pytest
import torch

from proxytask.checkpoint import load_weights
from tests.conftest import tiny_overrides


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_pretrain(out, lfw, processes: int, *extra: str) -> None:
    # fp32: these tests compare processes to the last bits, which bf16 products would round away.
    sets = [arg for value in [*tiny_overrides(lfw), "train.max_steps=4", "train.bf16=false", *extra] for arg in ("--set", value)]
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--nnodes=1",
               "--master_addr=127.0.0.1", f"--master_port={free_port()}", "-m", "proxytask", "pretrain",
               "--out", str(out), *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.mark.timeout_heavy
def test_two_processes_match_one_process_of_the_same_global_batch(fake_lfw, tmp_path):
    # BatchNorm statistics are per process on CPU (SyncBatchNorm needs CUDA) and dropout draws are
    # per process, so the exact comparison runs without them; the next test covers BatchNorm.
    exact = ("model.batchnorm=false", "colorization.head_dropout=0")
    run_pretrain(tmp_path / "one", fake_lfw, 1, *exact)
    run_pretrain(tmp_path / "two", fake_lfw, 2, *exact)
    one, two = load_weights(tmp_path / "one" / "model.safetensors"), load_weights(tmp_path / "two" / "model.safetensors")
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=2e-5, rtol=1e-4, msg=key)
    initial_loss = float((tmp_path / "one" / "log.csv").read_text().splitlines()[1].split(",")[2])
    assert initial_loss == pytest.approx(float((tmp_path / "two" / "log.csv").read_text().splitlines()[1].split(",")[2]), rel=1e-4)


@pytest.mark.timeout_heavy
@pytest.mark.parametrize("task", ["colorization", "contrastive", "masked-autoencoding"])
def test_two_processes_with_batchnorm_train_and_write_once(fake_lfw, tmp_path, task):
    run_pretrain(tmp_path / "bn", fake_lfw, 2, f"task={task}", "contrastive.projection_width=16",
                 "masked_autoencoding.decoder_width=16", "data.image_size=36", "data.crop_size=32")
    assert (tmp_path / "bn" / "metrics.json").is_file()
    rows = (tmp_path / "bn" / "log.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["2", "4"]  # one writer, no duplicated rows


@pytest.mark.timeout_heavy
def test_the_lab_prior_is_the_same_on_every_rank_and_as_in_one_process(fake_lfw, tmp_path):
    """colorization-lab updates its class prior from each batch: with 2 processes it must follow the
    global batch (all-reduced), as one process does, not each rank's half."""
    # SGD: Adam's normalized steps turn rounding noise in near-zero gradients into lr-sized differences
    exact = ("task=colorization-lab", "model.batchnorm=false", "colorization.head_dropout=0", "colorization.head_width=16",
             "optim.optimizer=sgd", "optim.lr=0.05")
    run_pretrain(tmp_path / "one", fake_lfw, 1, *exact)
    run_pretrain(tmp_path / "two", fake_lfw, 2, *exact)
    one, two = load_weights(tmp_path / "one" / "model.safetensors"), load_weights(tmp_path / "two" / "model.safetensors")
    torch.testing.assert_close(two["prior"], one["prior"], atol=1e-6, rtol=1e-5)
    for key in one:
        torch.testing.assert_close(two[key], one[key], atol=2e-5, rtol=1e-4, msg=key)
