import json

import pytest
from PIL import Image

from proxytask.cli import main
from tests.conftest import face_image, tiny_overrides


@pytest.mark.parametrize("command", ["pretrain", "colorize", "cache"])
def test_every_subcommand_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"example:\n  proxytask {command}" in capsys.readouterr().out


@pytest.fixture(scope="module")
def trained_run(fake_lfw, tmp_path_factory):
    run = tmp_path_factory.mktemp("cli") / "run"
    sets = [arg for value in tiny_overrides(fake_lfw) for arg in ("--set", value)]
    assert main(["pretrain", "--task", "colorization", "--out", str(run), "--max-steps", "3", *sets]) == 0
    return run


def test_pretrain_command_writes_metrics(trained_run):
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["steps"] == 3 and metrics["task"] == "colorization"
    assert (trained_run / "gallery.png").is_file()


def test_colorize_writes_one_png_per_input_at_input_size(trained_run, tmp_path):
    color_input = tmp_path / "color.jpg"
    face_image(5, size=120).save(color_input)
    gray_input = tmp_path / "gray.png"
    face_image(6, size=250).resize((200, 150)).convert("L").save(gray_input)
    out = tmp_path / "out"
    assert main(["colorize", str(color_input), str(gray_input), "--checkpoint", str(trained_run), "-o", str(out)]) == 0
    with Image.open(out / "color.png") as first, Image.open(out / "gray.png") as second:
        assert first.size == (120, 120) and first.mode == "RGB"
        assert second.size == (200, 150)
        # the input's intensity is kept: mean of RGB equals the gray input up to rounding and clipping
        import numpy as np

        gray = np.asarray(Image.open(gray_input), dtype=float)
        result = np.asarray(second, dtype=float).mean(axis=2)
        assert np.median(np.abs(result - gray)) <= 1.0


def test_errors_name_the_problem(trained_run, tmp_path, capsys):
    assert main(["colorize", str(tmp_path / "missing.jpg"), "--checkpoint", str(trained_run), "-o", str(tmp_path)]) == 2
    assert "missing.jpg" in capsys.readouterr().err
    image = tmp_path / "x.png"
    face_image(1, size=32).save(image)
    assert main(["colorize", str(image), "--checkpoint", str(tmp_path), "-o", str(tmp_path)]) == 2
    assert "is not a run folder" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path / "r"), "--set", "train.batch_size=0"]) == 2
    assert "train.batch_size must be >= 1" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path / "r"), "--lfw", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err
