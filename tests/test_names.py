"""A mistyped name gets the nearest valid one; a folder given where a pretraining run is expected is
named as what it is (missing, empty, a study folder, one task's seeds, a run without a classifier)."""

import pytest

from proxytask.cli import main
from proxytask.config import save_yaml, unknown_name_error
from proxytask.runs import PretrainConfig
from proxytask.study.settings import StudyConfig
from tests.conftest import face_image

RUN_FOLDER_HINT = "a run folder is what 'proxytask pretrain --out DIR' or a study's pretrain/<task>/seed<s>/ holds"


@pytest.fixture
def no_lfw(monkeypatch):
    """Any LFW lookup fails the test: a mistyped name is refused before any picture is looked for."""
    monkeypatch.setattr("proxytask.data.selection.locate_lfw", lambda *a, **k: pytest.fail("LFW looked up"))


def one_line_error(arguments: list[str], capsys) -> str:
    """The command's error (exit 2, one line)."""
    assert main(arguments) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_the_nearest_name_is_suggested_and_every_name_listed():
    error = unknown_name_error("preset", "quik", ("quick", "standard", "paper"), where="--preset")
    assert str(error) == "--preset: unknown preset 'quik'; did you mean quick? (known: quick, standard, paper)"
    far = unknown_name_error("downstream", "cats", ("lfw-politicians-7", "lfw-dev-7"), otherwise="an existing image folder")
    assert str(far) == "unknown downstream 'cats' (known: lfw-politicians-7, lfw-dev-7; or an existing image folder)"


@pytest.mark.parametrize("arguments, message", [
    (["cache", "--downstream", "lfw-politicans-7"],
     "error: unknown downstream 'lfw-politicans-7'; did you mean lfw-politicians-7? (known: lfw-politicians-7, lfw-dev-7, "
     "lfw:min_faces=N, lfw:people=Name_One,Name_Two; or an existing image folder root/<class>/<image>)"),
    (["study", "--out", "{tmp}/s", "--plan", "--downstream", "lfw-politicans-7"], "did you mean lfw-politicians-7?"),
    (["cache", "--downstream", "lfw:min_face=50"],
     "downstream spec 'lfw:min_face=50': unknown LFW selection 'min_face'; did you mean min_faces? (known: min_faces, people)"),
    (["cache", "--downstream", "{tmp}/no_such_folder"], "image folder {tmp}/no_such_folder does not exist"),
    (["study", "--out", "{tmp}/s", "--plan", "--tasks", "colorization,rotaton"], "tasks: unknown task 'rotaton'; did you mean rotation?"),
    (["pretrain", "--out", "{tmp}/r", "--task", "colorizaton"], "task: unknown task 'colorizaton'; did you mean colorization?"),
    (["study", "--out", "{tmp}/s", "--plan", "--preset", "quik"], "--preset: unknown preset 'quik'; did you mean quick?"),
    (["study", "--out", "{tmp}/s", "--plan", "--analyses", "lose"], "got 'lose'; did you mean loss?"),
    (["study", "--out", "{tmp}/s", "--plan", "--set", "modes=finetune,prob"], "got 'prob'; did you mean probe?"),
    (["study", "--out", "{tmp}/s", "--plan", "--set", "draw=5"], "--set: unknown setting 'draw'; did you mean draws?"),
    (["study", "--out", "{tmp}/s", "--plan", "--set", "pretrain.optim.optimiser=sgd"], "did you mean pretrain.optim.optimizer?"),
    (["finetune", "--init", "randm", "--k", "5", "--out", "{tmp}/f"], "--init: unknown init 'randm'; did you mean random?"),
])
def test_a_mistyped_name_gets_the_nearest_valid_one(no_lfw, tmp_path, capsys, arguments, message):
    err = one_line_error([a.format(tmp=tmp_path) for a in arguments], capsys)
    assert message.format(tmp=tmp_path) in err
    assert not any(tmp_path.iterdir())  # refused before anything is written


def write_task(root, counts):
    for name, count in counts.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            face_image(i, size=32).save(root / name / f"{i}.png")
    return root


def test_an_existing_folder_is_a_downstream_task_whatever_its_name(no_lfw, tmp_path, monkeypatch, capsys):
    """A folder named like a typo of an LFW task, given as a bare relative name, is that folder, not an unknown name."""
    monkeypatch.chdir(tmp_path)
    write_task(tmp_path / "lfw-politicans-7", {"cats": 4, "dogs": 4})
    write_task(tmp_path / "pool", {"any": 3})
    assert main(["cache", "--downstream", "lfw-politicans-7", "--pool", "pool", "--image-size", "16"]) == 0
    assert "downstream: 8 images, 0 skipped" in capsys.readouterr().out


@pytest.fixture
def study(tmp_path):
    """A study folder's settings and one of its (unfinished) pretraining runs."""
    root = tmp_path / "study"
    root.mkdir()
    save_yaml(StudyConfig(), root / "config.yaml")
    save_yaml(PretrainConfig(), root / "pretrain" / "colorization" / "seed0" / "config.yaml")
    return root


def test_a_folder_that_is_not_a_run_is_named_as_what_it_is(study, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    seed0 = study / "pretrain" / "colorization" / "seed0"
    cases = [
        (["export", str(tmp_path / "missing"), "-o", str(tmp_path / "x")],
         f"{tmp_path / 'missing'} does not exist; expected a pretraining run folder ({RUN_FOLDER_HINT})"),
        (["export", str(tmp_path / "empty"), "-o", str(tmp_path / "x")],
         f"{tmp_path / 'empty'} is not a pretraining run folder (no config.yaml; {RUN_FOLDER_HINT})"),
        (["export", str(study), "-o", str(tmp_path / "x")],
         f"{study} is a study folder, not a pretraining run folder: its runs are {study / 'pretrain'}/<task>/seed<s>/, e.g. {seed0}"),
        (["export", str(seed0.parent), "-o", str(tmp_path / "x")],
         f"{seed0.parent} holds the pretraining seeds of one task, not a run: give one of them, e.g. {seed0}"),
        (["export", str(seed0), "-o", str(tmp_path / "x")], f"pretraining run {seed0} has not finished"),
        (["finetune", "--init", str(study), "--k", "5", "--out", str(tmp_path / "f")], f"{study} is a study folder"),
        (["finetune", "--init", str(tmp_path / "empty"), "--k", "5", "--out", str(tmp_path / "f")], "is not a pretraining run folder"),
        (["colorize", str(tmp_path / "face.png"), "--checkpoint", str(study), "-o", str(tmp_path / "c")], f"{study} is a study folder"),
        (["predict", str(tmp_path / "face.png"), "--model", str(seed0), "-o", str(tmp_path / "p.csv")],
         f"{seed0} is a pretraining run folder, not a fine-tuned classifier: fine-tune it first"),
        (["predict", str(tmp_path / "face.png"), "--model", str(study), "-o", str(tmp_path / "p.csv")],
         f"{study} is a study folder, which keeps no fine-tuned classifier"),
    ]
    face_image(0, size=32).save(tmp_path / "face.png")
    for arguments, message in cases:
        assert message in one_line_error(arguments, capsys), arguments
    assert not any((tmp_path / name).exists() for name in ("x", "f", "c", "p.csv"))


def test_a_study_folder_is_recognised_before_its_first_run(tmp_path, capsys):
    root = tmp_path / "fresh"
    root.mkdir()
    save_yaml(StudyConfig(), root / "config.yaml")
    err = one_line_error(["export", str(root), "-o", str(tmp_path / "x")], capsys)
    assert f"{root} is a study folder, not a pretraining run folder: its runs are {root / 'pretrain'}/<task>/seed<s>/" in err
