"""Mixed precision where the hardware runs it natively.

bf16 autocast and channels_last tensors pay on CUDA GPUs and on CPUs with bf16 instructions
(AVX512-BF16 or AMX, which PyTorch reaches through oneDNN): on the 2-core AMD EPYC machine the
project is developed on, a bf16 matrix product runs at 4.3x the fp32 one and a vgg_small training
step at 2.2x (docs/benchmarks.md). Elsewhere bf16 would be emulated, slower than fp32, so those
devices train in fp32 whatever the settings ask.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch


def default_device() -> torch.device:
    """The CUDA GPU where there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 products natively (a CUDA GPU with bf16, a CPU with AVX512-BF16 or AMX)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return False


@dataclass(frozen=True)
class Precision:
    """How a network computes on one device: bf16 autocast or fp32, channels_last or contiguous tensors."""

    device_type: str
    bf16: bool
    channels_last: bool

    @classmethod
    def choose(cls, device: torch.device, bf16: bool, channels_last: bool) -> Precision:
        """The settings ``bf16`` and ``channels_last``, each kept where ``device`` runs bf16 natively
        (channels_last on every CUDA GPU)."""
        native = native_bf16(device)
        return cls(device.type, bf16 and native, channels_last and (native or device.type == "cuda"))

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def autocast(self) -> AbstractContextManager:
        """Autocast to bf16 on this device, or a context that changes nothing."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def describe(self) -> str:
        """``"bf16 autocast, channels_last"``, ``"fp32"``, ...: as job records and reports name it."""
        parts = ["bf16 autocast" if self.bf16 else "fp32"] + (["channels_last"] if self.channels_last else [])
        return ", ".join(parts)
