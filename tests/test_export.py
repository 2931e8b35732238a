"""Taking a model away: plain timm weights, the Python API, saved classifiers and predict."""

import csv
import json

import pytest
import timm
import torch
from safetensors.torch import load_file

from proxytask import load_backbone, load_classifier
from proxytask.cli import main
from proxytask.export import export_backbone
from proxytask.train import pretrain
from proxytask.transfer.classifier import pooled_features
from proxytask.transfer.inits import resolve_init
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fake_lfw):
    """Two finished 2-step pretraining runs: vgg_small on intensity, resnet18 on RGB."""
    root = tmp_path_factory.mktemp("runs")
    made = {}
    for backbone, task, input_kind in (("vgg_small", "colorization", "intensity"), ("resnet18", "rotation", "rgb")):
        made[backbone] = root / backbone
        pretrain(tiny_config(fake_lfw, f"model.backbone={backbone}", f"task={task}", f"input={input_kind}", "train.max_steps=2"),
                 made[backbone])
    return made


@pytest.mark.parametrize("backbone", ["vgg_small", "resnet18"])
def test_export_loads_into_plain_timm_and_gives_the_same_features(runs, backbone, tmp_path):
    info = export_backbone(runs[backbone], tmp_path / "export")
    channels = 1 if backbone == "vgg_small" else 3
    assert info["in_chans"] == channels and info["timm_keys_without_weights"] == []
    plain = timm.create_model(backbone, in_chans=channels, num_classes=0)
    missing, unexpected = plain.load_state_dict(load_file(tmp_path / "export" / "backbone.safetensors"), strict=True)
    assert not missing and not unexpected
    init = resolve_init(str(runs[backbone]), backbone)
    ours = init.backbone(0).eval()
    images = torch.rand(2, 3, 20, 20)
    with torch.no_grad():
        expected = pooled_features(ours, init.network_input, images)
        network_input = init.network_input(images)
        assert torch.allclose(plain.eval().forward_features(network_input).mean(dim=(2, 3)), expected, atol=1e-5)
        assert torch.allclose(load_backbone(tmp_path / "export")(images), expected, atol=1e-5)
        assert torch.allclose(load_backbone(runs[backbone])(images), expected, atol=1e-5)
    saved = json.loads((tmp_path / "export" / "backbone.json").read_text())
    assert saved["input"] == init.network_input.as_dict() and saved["preprocessing"]["crop_size"] == 20


def test_finetune_saves_a_classifier_that_predict_uses(runs, fake_lfw, tmp_path, capsys):
    out = tmp_path / "ft"
    settings = ["--lfw", str(fake_lfw), "--downstream", "lfw:min_faces=5", "--set", "pretrain.data.image_size=24",
                "--set", "pretrain.data.crop_size=20", "--set", "finetune.min_steps=2", "--set", "finetune.max_steps=2"]
    assert main(["finetune", "--init", str(runs["vgg_small"]), "--k", "2", "--out", str(out), *settings]) == 0
    classifier = load_classifier(out)
    assert classifier.class_names == ["Alice_Alpha", "Bob_Beta"]
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    faces = sorted((fake_lfw / "lfw-deepfunneled" / "Alice_Alpha").iterdir())[:3]
    for face in faces:
        (pictures / face.name).write_bytes(face.read_bytes())
    (pictures / "broken.jpg").write_text("no picture")
    assert main(["predict", str(pictures), "--model", str(out), "-o", str(tmp_path / "p.csv")]) == 0
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert [row["path"].rsplit("/", 1)[-1] for row in rows] == [face.name for face in faces]
    for row in rows:
        probabilities = [float(row[name]) for name in classifier.class_names]
        assert abs(sum(probabilities) - 1) < 1e-4
        assert row["predicted"] == classifier.class_names[probabilities.index(max(probabilities))]
    assert "broken.jpg" in capsys.readouterr().err
    # the classifier in the folder gives what the fine-tuning job measured on its test images
    result = json.loads((out / "result.json").read_text())
    about = json.loads((out / "classifier" / "classifier.json").read_text())
    assert about["test_accuracy"] == result["accuracy"] and about["k"] == "2"


def test_export_of_a_folder_that_is_no_run_is_refused(tmp_path):
    assert main(["export", str(tmp_path), "-o", str(tmp_path / "x")]) == 2


def test_the_readme_python_snippet_runs(runs, fake_lfw, tmp_path, monkeypatch):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    export_backbone(runs["vgg_small"], tmp_path / "exported" / "colorization")
    settings = ["--lfw", str(fake_lfw), "--downstream", "lfw:min_faces=5", "--set", "pretrain.data.image_size=24",
                "--set", "pretrain.data.crop_size=20", "--set", "finetune.min_steps=1", "--set", "finetune.max_steps=1"]
    assert main(["finetune", "--init", str(runs["vgg_small"]), "--k", "2", "--out", str(tmp_path / "runs" / "ft-color"), *settings]) == 0
    face = next((fake_lfw / "lfw-deepfunneled" / "Bob_Beta").iterdir())
    (tmp_path / "face.jpg").write_bytes(face.read_bytes())
    monkeypatch.chdir(tmp_path)
    names: dict = {}
    exec(snippet, names)
    assert names["features"].shape == (1, 256)
    assert names["probabilities"].shape == (1, 2) and abs(float(names["probabilities"].sum()) - 1) < 1e-5
