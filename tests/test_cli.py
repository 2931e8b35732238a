import json

import pytest
from PIL import Image

from proxytask.cli import main
from tests.conftest import face_image, tiny_overrides


@pytest.mark.parametrize("command", ["pretrain", "colorize", "cache", "study", "finetune", "export", "predict", "tune"])
def test_every_subcommand_help_shows_an_example(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "example:\n  proxytask " in out and f"proxytask {command} " in out.split("example:")[1]


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
    assert "is not a pretraining run folder" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path / "r"), "--set", "train.batch_size=0"]) == 2
    assert "train.batch_size must be a whole number >= 1" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(tmp_path / "r"), "--lfw", str(tmp_path / "nowhere")]) == 2
    assert "nowhere does not exist" in capsys.readouterr().err


def test_colorize_keeps_inputs_of_one_name_apart_and_skips_a_bad_one(trained_run, tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        face_image(3, size=64).save(tmp_path / folder / "photo.jpg")
    (tmp_path / "broken.jpg").write_text("not a picture")
    inputs = [str(tmp_path / "a" / "photo.jpg"), str(tmp_path / "broken.jpg"), str(tmp_path / "b" / "photo.jpg")]
    assert main(["colorize", *inputs, "--checkpoint", str(trained_run), "-o", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo-2.png", "photo.png"]
    assert "broken.jpg" in capsys.readouterr().err
    for scale in ("nan", "1e9"):
        assert main(["colorize", inputs[0], "--checkpoint", str(trained_run), "-o", str(tmp_path / "o2"), "--scale", scale]) == 2
        assert "--scale must be a positive number" in capsys.readouterr().err


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(tmp_path, capsys, monkeypatch):
    from proxytask import cli

    def broken(args):
        raise RuntimeError("something\nwent wrong")

    monkeypatch.setattr(cli, "_cache", broken)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_handler(parser(), "cache", broken))
    assert main(["cache"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "RuntimeError: something went wrong" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        main(["cache", "--debug"])


def _with_handler(parser, command, handler):
    parser._subparsers._group_actions[0].choices[command].set_defaults(handler=handler)
    return parser


@pytest.mark.parametrize("arguments, message", [
    (["study", "--out", "{tmp}/s", "--set", "preset=bogus"], "preset: unknown preset 'bogus' (known: quick, standard, paper)"),
    (["study", "--out", "{tmp}/s", "--downstream", "{tmp}/one_class"], "1 class subfolder"),
    (["study", "--out", "{tmp}/s", "--downstream", "{tmp}/file.txt"], "is a file; expected a folder"),
    (["study", "--out", "{tmp}/s", "--workers", "0"], "--workers must be >= 1"),
    (["study", "--out", "{tmp}/s", "--workers", "0", "--plan"], "--workers must be >= 1"),
    (["study", "--out", "{tmp}/s", "--set", "draws=9007199254740992", "--plan"], "draws"),
    (["study", "--out", "{tmp}/s", "--set", "pretrain_seeds=1000000", "--plan"], "pretrain_seeds"),
    (["pretrain", "--out", "{tmp}/r", "--extend-steps", "9"], "pass it with --resume"),
    (["knn", "--init", "random", "--k", "5", "--draw", "-1", "--out", "{tmp}/s"], "--draw must be a draw's seed from 0 to 4294967295"),
    (["study", "--out", "{tmp}/s", "--config", "{tmp}"], "is a folder; expected a YAML file"),
    (["study", "--out", "{tmp}/s", "--tasks", "colorization,bogus"], "bogus"),
    (["pretrain", "--out", "{tmp}/r", "--config", "{tmp}/binary.yaml"], "is not a text file"),
])
def test_bad_settings_are_one_line_errors(tmp_path, capsys, arguments, message):
    (tmp_path / "one_class" / "cats").mkdir(parents=True)
    face_image(1, size=32).save(tmp_path / "one_class" / "cats" / "1.png")
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    assert main([a.format(tmp=tmp_path) for a in arguments]) == 2
    assert not (tmp_path / "s").exists() and not (tmp_path / "r").exists()
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
