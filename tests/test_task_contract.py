"""The task contract, checked for every registered task on every input it reads: settings declared
by its constructor and checked, build -> make_batch -> forward (named loss terms) -> backward ->
visualize (its declared pretext metrics), a 2-step pretraining run, and transfer loading the run's
backbone through the run's own input. Everything here comes from the registry: a new task is
checked by adding its module."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from proxytask.config import ConfigError, TaskSettings, apply_overrides, from_dict, to_dict
from proxytask.data.batches import BatchRandom
from proxytask.inputs import NetworkInput
from proxytask.precision import Precision
from proxytask.runs import PretrainConfig
from proxytask.tasks import TASKS, build_task, task_sections
from proxytask.train import pretrain
from proxytask.transfer.inits import resolve_init
from tests.conftest import tiny_config

CASES = [(name, kind) for name, task in sorted(TASKS.items()) for kind in task.inputs]


def test_every_task_module_registers_its_task():
    import pkgutil

    import proxytask.tasks

    modules = {module.name for module in pkgutil.iter_modules(proxytask.tasks.__path__)}
    registered = {task.__module__.rsplit(".", 1)[1] for task in TASKS.values()}
    assert registered <= modules and len(TASKS) >= 10
    assert all(name == task.name for name, task in TASKS.items())


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_task_declares_its_settings_and_the_generic_walk_checks_them(name):
    task = TASKS[name]
    config = PretrainConfig()
    for section, settings in task.sections().items():
        assert dataclasses.is_dataclass(settings) and issubclass(settings, TaskSettings) and settings.section == section
        assert task_sections()[section] is settings and config.section(settings) == settings()
        checked = [f for f in dataclasses.fields(settings) if "check" in f.metadata]
        for item in checked:  # a value outside each checked setting's range is refused, naming it
            check = item.metadata["check"]
            bad = ["no-such-choice"] if check.choices else [math.nan]
            bad += [check.low - 1] if check.low is not None else []
            bad += [check.high + 1] if check.high is not None else []
            for value in bad:
                with pytest.raises(ConfigError, match=f"{section}.{item.name}"):
                    apply_overrides(config, [f"{section}.{item.name}={value}"])
    assert from_dict(PretrainConfig, to_dict(config)) == config  # every section survives the YAML round trip


@pytest.mark.parametrize("name, kind", CASES)
def test_a_task_builds_trains_a_step_and_shows_its_predictions(name, kind):
    torch.manual_seed(0)
    task = build_task(apply_overrides(PretrainConfig(), [f"task={name}", f"input={kind}"]), num_classes=3)
    images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    inputs, targets = task.make_batch(images, BatchRandom(0, 0, 4), labels)
    losses = task(inputs, targets)
    assert set(losses) == {"loss", *task.loss_terms}
    assert all(value.dim() == 0 and torch.isfinite(value) for value in losses.values())
    losses["loss"].backward()
    gradients = [p.grad for p in task.backbone.parameters() if p.grad is not None]
    assert gradients and any(g.abs().sum() > 0 for g in gradients)  # the backbone learns from the task
    task.eval()
    panels, metrics = task.visualize(images, labels)
    assert panels and all(isinstance(title, str) and panel.dim() == 4 and panel.shape[:2] == (4, 3) for title, panel in panels)
    assert all(0.0 <= panel.min() and panel.max() <= 1.0 for _, panel in panels)
    assert set(metrics) == set(task.pretext_metrics)  # the report labels exactly what the task measures
    assert all(isinstance(value, float) and math.isfinite(value) for value in metrics.values())


@pytest.mark.parametrize("name, kind", CASES)
def test_a_task_pretrains_two_steps_and_transfer_loads_it_through_its_input(fake_lfw, tmp_path, name, kind):
    run = tmp_path / "run"
    config = tiny_config(fake_lfw, f"task={name}", f"input={kind}", "train.max_steps=2", "data.image_size=36",
                         "data.crop_size=32", "supervised.min_images_per_identity=3")
    pretrain(config, run)
    saved = NetworkInput.load(run / "input.json")
    assert saved == TASKS[name].input_for(kind) and saved.kind == kind
    init = resolve_init(str(run), "vgg_small")
    assert init.network_input == saved
    pixels = torch.randint(0, 256, (5, 36, 36, 3), dtype=torch.uint8)
    data = type("Pictures", (), {"pixels": pixels})()
    features = init.features(data, 32, torch.device("cpu"), Precision("cpu", bf16=False, channels_last=False))
    assert features.shape == (5, init.backbone(0).channels[-1]) and np.isfinite(features).all()


def test_the_registry_refuses_a_second_task_name_and_a_second_class_for_a_section():
    from dataclasses import dataclass

    from proxytask.models.backbones import Backbone
    from proxytask.tasks.colorization import Colorization
    from proxytask.tasks.registry import TASKS, register_task

    @dataclass
    class OtherColorizationConfig(TaskSettings):
        section = "colorization"

    class Copy(Colorization):
        name = "copy-of-colorization"

        def __init__(self, backbone: Backbone, input_kind: str, config: OtherColorizationConfig) -> None:
            super().__init__(backbone, input_kind, config)

    with pytest.raises(ValueError, match="section 'colorization' is declared twice"):
        register_task(Copy)
    with pytest.raises(ValueError, match="task name 'colorization' is registered twice"):
        register_task(type("Again", (Colorization,), {}))
    assert "copy-of-colorization" not in TASKS and task_sections()["colorization"].__name__ == "ColorizationConfig"
