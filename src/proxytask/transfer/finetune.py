"""Fine-tuning: the whole network with a new head, the backbone at a lower learning rate.

Below all labels the recipe is fixed (steps, learning rates, schedule) and the last step is kept,
so no label outside the budget influences the result; with all labels the step kept is chosen on
the validation part of the train split. The seed of draw d is ``config.seed + d`` (weights of a
random init and of the head, batch order, crops and flips), so draws differ in their fine-tuning
randomness as well as their labels, and every init sees the same draw with the same seed. The
optimizer, schedule, augmentation and step are the training engine's (:mod:`proxytask.engine`).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from proxytask.budgets import budget_name
from proxytask.config import FinetuneConfig
from proxytask.data.batches import BatchRandom, StepSampler
from proxytask.data.splits import Split
from proxytask.engine import augment, make_optimizer, make_scheduler, optimize
from proxytask.precision import Precision
from proxytask.transfer.classifier import Classifier
from proxytask.transfer.features import center_batches, transfer_precision
from proxytask.transfer.fitted import fitted_digest
from proxytask.transfer.inits import BackboneInit
from proxytask.transfer.metrics import ModeResult, TrainingTrace, classification_metrics, selection_score

# Share of the steps at the start and at the end whose mean losses tell whether training loss fell.
LOSS_WINDOW = 0.1


@torch.no_grad()
def predict(model: Classifier, pixels: torch.Tensor, rows: np.ndarray, crop: int, device: torch.device,
            precision: Precision) -> np.ndarray:
    """Predicted class of each row (centre crop), in eval mode."""
    model.eval()
    with precision.autocast():
        predictions = [model(batch).argmax(1).cpu() for batch in center_batches(pixels, rows, crop, device, precision.memory_format)]
    model.train()
    return torch.cat(predictions).numpy()


def finetune_seed(config: FinetuneConfig, draw: int) -> int:
    """The fine-tuning seed of a draw: every init gets the same one on the same draw."""
    return config.seed + draw


def finetune_steps(config: FinetuneConfig, train_images: int) -> int:
    """``epochs`` passes over the training images, clamped to [min_steps, max_steps]."""
    batch = min(config.batch_size, train_images)
    return int(min(max(math.ceil(config.epochs * train_images / batch), config.min_steps), config.max_steps))


def finetune(init: BackboneInit, pixels: torch.Tensor, labels: np.ndarray, split: Split, class_names: list[str], crop: int,
             config: FinetuneConfig, device: torch.device) -> ModeResult:
    """Fine-tune ``init`` on the split's training images; returns the test result of the model kept.

    Args:
        pixels: (N, S, S, 3) uint8 images of the whole task; labels: (N,) class indices.
    """
    return finetune_model(init, pixels, labels, split, class_names, crop, config, device)[1]


def finetune_model(init: BackboneInit, pixels: torch.Tensor, labels: np.ndarray, split: Split, class_names: list[str], crop: int,
                   config: FinetuneConfig, device: torch.device) -> tuple[Classifier, ModeResult]:
    """:func:`finetune`, also returning the fine-tuned network."""
    seed = finetune_seed(config, split.draw)
    precision = transfer_precision(config, device)
    model = Classifier(init.backbone(seed), init.network_input, len(class_names)).to(device)
    model = model.to(memory_format=precision.memory_format)
    optim = config.optimizer_settings()
    optimizer = make_optimizer([
        {"params": model.backbone.parameters(), "lr": config.lr * config.backbone_lr_factor},
        {"params": model.head.parameters(), "lr": config.lr},
    ], optim)
    total_steps = finetune_steps(config, len(split.train))
    scheduler = make_scheduler(optimizer, total_steps, optim)
    batch = min(config.batch_size, len(split.train))
    sampler = StepSampler(len(split.train), batch, seed=seed)
    train_labels = torch.from_numpy(labels[split.train])
    on_validation = len(split.validation) > 0
    best: tuple[tuple[float, float], int, dict[str, torch.Tensor]] | None = None
    losses = []
    model.train()
    with tqdm(total=total_steps, desc=f"fine-tune {init.name} k={budget_name(split.k)} draw {split.draw}", unit="step", leave=False,
              dynamic_ncols=True, disable=None) as bar:  # on a terminal only: silent in workers' logs
        for step, local in sampler.batches(0):
            if step >= total_steps:
                break
            rng = BatchRandom(seed, step, batch, device=device)
            images = augment(pixels[torch.from_numpy(split.train[local])], crop, rng, device, precision.memory_format)
            with precision.autocast():
                logits = model(images)
            loss = F.cross_entropy(logits.float(), train_labels[torch.from_numpy(local)].to(device))
            optimize(loss, optimizer, scheduler)
            bar.update()
            losses.append(loss.detach())
            done = step + 1
            if on_validation and (done % config.eval_every == 0 or done == total_steps):
                score = selection_score(labels[split.validation], predict(model, pixels, split.validation, crop, device, precision))
                if best is None or score > best[0]:
                    best = (score, done, copy.deepcopy(model.state_dict()))
    kept = {"step": total_steps}
    selection = "fixed recipe, last step (no label outside the budget is read)"
    if best is not None:
        model.load_state_dict(best[2])
        kept = {"step": best[1]}
        selection = f"step with the best macro-F1 on the validation part ({len(split.validation)} images of the train split)"
    window = max(1, round(LOSS_WINDOW * len(losses)))
    loss_first, loss_last = (torch.stack(part).mean().item() for part in (losses[:window], losses[-window:]))
    scores = classification_metrics(labels[split.test], predict(model, pixels, split.test, crop, device, precision), class_names)
    on_labeled = predict(model, pixels, split.labeled, crop, device, precision).tolist()
    return model, ModeResult(scores, kept, selection, TrainingTrace(total_steps, seed, loss_first, loss_last), fitted_digest(model),
                             on_labeled)
