"""Pretraining throughput as a fraction of this device's measured matrix-multiply peak.

For each backbone (and, where the device runs bf16 natively: a CUDA GPU, a CPU with AVX512-BF16 or
AMX, for fp32 against bf16 autocast + channels_last) it times the real
training step of the colorization task (``proxytask.train.train_step``), counts its FLOPs with
torch's FlopCounterMode, and prints achieved FLOP/s / peak FLOP/s. It also times the batch
pipeline alone (cached uint8 rows -> crop/flip -> task targets) against the training step and, with
``--lfw``, against a plain PIL + torchvision ImageFolder loader that decodes JPEGs every epoch.

    python bench/train_throughput.py                       # CPU defaults
    python bench/train_throughput.py --backbones vgg_small,vgg16_bn,resnet50 --image-size 224 --crop-size 176 --batch-size 128
"""

from __future__ import annotations

import argparse
import resource
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from proxytask.config import apply_overrides
from proxytask.data.batches import BatchRandom
from proxytask.engine import augment, compiled, make_optimizer, make_scheduler
from proxytask.precision import Precision, native_bf16
from proxytask.runs import PretrainConfig
from proxytask.tasks import build_task
from proxytask.train import train_step


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, repeats: int) -> float:
    """Best FLOP/s of square matrix products of ``size`` on ``device``.

    fp32 products are allowed TF32 tensor cores exactly when cuDNN convolutions are (PyTorch's
    default lets convolutions use them), so the fp32 peak is the one the fp32 training step can reach.
    """
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def time_training(config: PretrainConfig, device: torch.device, fast: bool, steps: int) -> tuple[float, float, float]:
    """(images/s, FLOP per step, batch-pipeline images/s) of the colorization training step."""
    torch.manual_seed(0)
    precision = Precision(device.type, bf16=fast, channels_last=fast)
    memory_format = precision.memory_format
    task = build_task(config).to(device).to(memory_format=memory_format)
    optimizer = make_optimizer(task.parameters(), config.optim)
    scheduler = make_scheduler(optimizer, 2 * steps + 4, config.optim)
    model = compiled(task) if config.train.compile else task
    amp = precision.autocast()
    size, batch = config.data.image_size, config.train.batch_size
    rows = torch.randint(0, 256, (batch, size, size, 3), dtype=torch.uint8)

    def batch_at(step: int):
        rng = BatchRandom(0, step, batch, device=device)
        return augment(rows, config.data.crop_size, rng, device, memory_format), rng

    images, rng = batch_at(0)
    with FlopCounterMode(display=False) as counter:
        train_step(task, task, optimizer, scheduler, images, rng, amp)
    flops = counter.get_total_flops()
    for warm in range(3):
        train_step(model, task, optimizer, scheduler, *batch_at(warm), amp)
    sync(device)
    start = time.perf_counter()
    for step in range(steps):
        train_step(model, task, optimizer, scheduler, *batch_at(step), amp)
    sync(device)
    train_rate = steps * batch / (time.perf_counter() - start)
    start = time.perf_counter()
    for step in range(steps):
        images, rng = batch_at(step)
        task.make_batch(images, rng)
    sync(device)
    pipeline_rate = steps * batch / (time.perf_counter() - start)
    return train_rate, flops, pipeline_rate


def imagefolder_rate(lfw: str, image_size: int, crop: tuple[int, int, int, int], batches: int, batch: int, workers: int) -> float:
    """Images/s of a plain torchvision ImageFolder + PIL loader with the same crop and resize."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    from proxytask.data.lfw import locate_lfw

    left, top, right, bottom = crop
    transform = transforms.Compose([
        transforms.Lambda(lambda image: image.crop((left, top, right, bottom))),
        transforms.Resize((image_size, image_size)),
        transforms.ToTensor(),
    ])
    dataset = datasets.ImageFolder(str(locate_lfw(lfw)), transform=transform)
    loader = DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers, drop_last=True)
    batches = min(batches, len(loader) - 1)
    iterator = iter(loader)
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", default="vgg_small")
    parser.add_argument("--image-size", type=int, default=PretrainConfig().data.image_size)
    parser.add_argument("--crop-size", type=int, default=PretrainConfig().data.crop_size)
    parser.add_argument("--batch-size", type=int, default=PretrainConfig().train.batch_size)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lfw", help="also time a plain PIL + ImageFolder loader on this LFW")
    parser.add_argument("--compile", action="store_true", help="run the training step through torch.compile")
    parser.add_argument("--task", default="colorization", help="the proxy task whose step is timed")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    peak_fp32 = matmul_peak(device, torch.float32, 4096 if device.type == "cuda" else 2048, 10)
    fast_modes = native_bf16(device)
    peak_bf16 = matmul_peak(device, torch.bfloat16, 8192 if device.type == "cuda" else 2048, 10) if fast_modes else None
    print(f"device: {name}")
    tf32 = " (TF32 tensor cores, as cuDNN convolutions)" if device.type == "cuda" and torch.backends.cudnn.allow_tf32 else ""
    print(f"matmul peak fp32{tf32}: {peak_fp32 / 1e9:.1f} GFLOP/s" + (f", bf16: {peak_bf16 / 1e9:.1f} GFLOP/s" if peak_bf16 else ""))
    modes = [False, True] if fast_modes else [False]
    results = []
    for backbone in args.backbones.split(","):
        config = apply_overrides(PretrainConfig(), [
            f"model.backbone={backbone}", f"data.image_size={args.image_size}", f"data.crop_size={args.crop_size}",
            f"train.batch_size={args.batch_size}", f"train.compile={args.compile}", f"task={args.task}",
        ])
        for fast in modes:
            rate, flops, pipeline = time_training(config, device, fast, args.steps)
            peak = peak_bf16 if fast else peak_fp32
            achieved = rate / args.batch_size * flops
            mode = "bf16+channels_last" if fast else "fp32"
            results.append((backbone, mode, rate))
            print(f"{backbone:>10} {mode:>18}: {rate:8.1f} img/s, {flops / args.batch_size / 1e9:.2f} GFLOP/img, "
                  f"{achieved / peak:.1%} of {mode.split('+')[0]} matmul peak; batch pipeline {pipeline:.0f} img/s "
                  f"= {pipeline / rate:.1f}x training")
    if fast_modes:
        for backbone in args.backbones.split(","):
            fp32, fast = (r for b, m, r in results if b == backbone)
            print(f"{backbone:>10} speed-up bf16+channels_last / fp32: {fast / fp32:.2f}x")
    if args.lfw:
        plain = imagefolder_rate(args.lfw, args.image_size, PretrainConfig().data.face_crop, 20, args.batch_size, 2)
        best = max(r for _, _, r in results)
        print(f"plain PIL + ImageFolder loader (2 workers): {plain:.0f} img/s = {plain / best:.1f}x the fastest training step")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB")
    else:
        print(f"peak process memory (max RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


if __name__ == "__main__":
    main()
