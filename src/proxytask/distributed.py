"""Process-group set-up for runs under ``torchrun`` (gloo on CPU, NCCL on CUDA), and the CPU cores a
process may use."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity, which Slurm and cgroups set), else all."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Context:
    """Where this process runs: its rank among ``world_size`` and its device."""

    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup() -> Context:
    """Join the process group when started by ``torchrun`` (WORLD_SIZE > 1); else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank=rank, world_size=world_size, device=device)


def barrier(context: Context) -> None:
    """Wait for every rank (no-op in a single process)."""
    if context.world_size > 1:
        dist.barrier()


def mean_over_ranks(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over every rank of the process group (``tensor`` itself outside one);
    a sum all-reduced, then divided: gloo has no average."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return tensor
    total = tensor.clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def gather_with_gradients(tensor: torch.Tensor) -> tuple[list[torch.Tensor], int]:
    """Every rank's ``tensor`` (one shape on all), in rank order, with gradients flowing back to the
    rank each came from; and this rank's index. Outside a process group: ``[tensor]`` and 0."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [tensor], 0
    from torch.distributed.nn.functional import all_gather

    return list(all_gather(tensor)), dist.get_rank()


def teardown(context: Context) -> None:
    """Leave the process group."""
    if context.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()
