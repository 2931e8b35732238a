import json
import shutil

import pytest

from proxytask import study as study_module
from proxytask.cli import main
from proxytask.config import ConfigError
from proxytask.data.lfw import DataError
from proxytask.presets import study_config
from proxytask.records import StudyResults
from proxytask.study import run_study
from tests.conftest import face_image, tiny_overrides


def tiny_study(lfw, *extra):
    pretrain = [f"pretrain.{o}" for o in tiny_overrides(lfw) if not o.startswith("train.max_steps")]
    return study_config("quick", [*pretrain, "pretrain.supervised.min_images_per_identity=3", "pretrain_steps=2", "budgets=1,all",
                                  "draws=2", "frozen_draws=3", "finetune.min_steps=2", "finetune.max_steps=2",
                                  "finetune.eval_every=1", "finetune.batch_size=4", *extra])


def test_study_writes_results_report_and_figures(fake_lfw, tmp_path):
    results = run_study(tiny_study(fake_lfw), tmp_path / "study")
    out = tmp_path / "study"
    for name in ("results.json", "report.md", "report.html", "budgets_finetune.png", "budgets_frozen.png",
                 "confusion_best.png", "pretrain_loss.png", "gallery_colorization.png", "config.yaml"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "results.json").read_text())
    assert StudyResults.from_json(saved).to_json() == saved  # typed records round-trip results.json
    records = saved["results"]
    inits = {r["init"] for r in records}
    assert inits == {"random", "colorization", "supervised", "eigenfaces"}
    for record in records:
        for key in ("init", "mode", "k", "accuracy_mean", "accuracy_std", "macro_f1_mean", "macro_f1_std", "n_draws",
                    "labels_per_class", "input", "degenerate"):
            assert key in record
        if record["k"] == "all":
            assert record["n_draws"] == 1
        else:
            assert record["n_draws"] == (2 if record["mode"] == "finetune" else 3)
            assert record["labels_per_class"] == {"Alice_Alpha": 1, "Bob_Beta": 1}
        assert record["k"] in (1, "all")
        assert record["input"] == ("intensity" if record["init"] != "eigenfaces" else record["input"])
    assert {r["mode"] for r in records} == {"finetune", "probe", "knn", "svm"}
    pairs = {(c["init"], c["baseline"], c["mode"], c["k"]) for c in saved["comparisons"] if c["metric"] == "accuracy"}
    assert ("colorization", "random", "finetune", 1) in pairs and ("colorization", "supervised", "probe", 1) in pairs
    assert ("supervised", "random", "knn", "all") in pairs
    one = next(c for c in saved["comparisons"] if (c["init"], c["baseline"], c["mode"], c["k"]) == ("colorization", "random", "probe", 1))
    assert one["n_draws"] == 3 and one["ci_low"] <= one["diff_mean"] <= one["ci_high"]
    for entry in saved["pretraining"].values():
        assert entry["images_seen"] == 2 * 4 and entry["flops_per_image"] > 0 and entry["train_seconds"] > 0
        assert entry["input"] == "intensity"
    assert set(saved["selection"]) == {"finetune", "probe", "knn", "svm"}
    stages = saved["time_by_stage"]
    assert {"pretraining colorization", "pretraining supervised", "fine-tuning k=1", "fine-tuning k=all", "linear probe",
            "k-NN", "eigenfaces + SVM", "report"} <= set(stages) and all(v >= 0 for v in stages.values())
    assert "Where the time went" in (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5 and "gap closed" in html.lower() and "95% CI" in html
    assert "| colorization | finetune |" in (out / "report.md").read_text()
    assert len(list((out / "splits").glob("*.csv"))) == 4
    assert results.downstream["images"] == 11


def test_interrupted_study_finishes_the_rest_without_redoing(fake_lfw, tmp_path, monkeypatch):
    config = tiny_study(fake_lfw, "baselines=random,supervised")
    real_job = study_module.run_job
    calls = []

    def count_then_die(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real_job(*args, **kwargs)

    monkeypatch.setattr(study_module, "run_job", count_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path / "study")
    done = sorted(p.name for p in (tmp_path / "study" / "jobs").rglob("*.json"))
    assert len(done) == 3
    calls.clear()
    monkeypatch.setattr(study_module, "run_job", lambda *a, **k: calls.append(a[0]) or real_job(*a, **k))
    monkeypatch.setattr(study_module, "pretrain", lambda *a, **k: pytest.fail("finished pretraining run again"))
    run_study(config, tmp_path / "study")
    total = 3 * (3 + 4 + 4)  # inits (random, colorization, supervised) x jobs (finetune: 2 draws + all; probe, knn: 3 + all)
    assert len(calls) == total - 3
    calls.clear()
    run_study(config, tmp_path / "study")
    assert calls == []


def test_restart_with_other_settings_is_refused_but_may_extend_the_study(fake_lfw, tmp_path):
    run_study(tiny_study(fake_lfw, "modes=probe", "baselines=random"), tmp_path / "study")
    with pytest.raises(ConfigError, match="other settings for finetune"):
        run_study(tiny_study(fake_lfw, "modes=probe", "baselines=random", "finetune.lr=0.1"), tmp_path / "study")
    extended = run_study(tiny_study(fake_lfw, "modes=probe,knn", "baselines=random"), tmp_path / "study")
    assert {r.mode for r in extended.rows} == {"probe", "knn"}


def test_study_analyses_add_variant_runs_tables_and_figures(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "baselines=random", "modes=finetune", "analyses=loss,data,head,feature-change",
                        "analysis_budgets=1", "pool_fractions=0.5")
    results = run_study(config, tmp_path / "study")
    out = tmp_path / "study"
    variants = {"colorization-lab", "colorization-l2", "colorization-pool50", "colorization-lastlayer"}
    assert variants <= set(results.pretraining)
    assert results.pretraining["colorization-pool50"]["train_images"] < results.pretraining["colorization"]["train_images"]
    rows = results.rows
    for name in variants:  # variants are transferred at the analysis budget only
        assert {r.k for r in rows if r.init == name} == {1}
    assert {r.k for r in rows if r.init == "colorization"} == {1, None}
    change = results.analyses["feature_change"]
    assert {c["init"] for c in change} == {"random", "colorization"}
    for record in change:
        assert len(record["cka"]) == len(record["weight_change"]) == record["stages"]
        assert all(0.0 <= c <= 1.0 + 1e-9 for c in record["cka"])
        assert all(w > 0 for w in record["weight_change"])
    for name in ("analysis_loss.png", "analysis_data.png", "analysis_head.png", "analysis_feature_change.png"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    for heading in ("Loss formulation", "Amount of unlabeled data", "Hypercolumn or last layer", "How much fine-tuning changes"):
        assert heading in report


def test_folder_downstream_with_one_image_class_is_a_clear_error(tmp_path, capsys):
    for name, count in (("alice", 6), ("bob", 1)):
        (tmp_path / "faces" / name).mkdir(parents=True)
        for i in range(count):
            face_image(i).save(tmp_path / "faces" / name / f"{i}.jpg")
    code = main(["finetune", "--init", "random", "--out", str(tmp_path / "ft"), "--downstream", str(tmp_path / "faces")])
    assert code == 2
    assert "class 'bob' has 1 image(s)" in capsys.readouterr().err


def test_single_transfer_commands_write_result_and_manifest(fake_lfw, tmp_path, capsys):
    sets = ["--set", "finetune.min_steps=2", "--set", "finetune.max_steps=2", "--set", "pretrain.data.image_size=24",
            "--set", "pretrain.data.crop_size=20"]
    for mode in ("finetune", "probe", "knn"):
        out = tmp_path / mode
        assert main([mode, "--init", "random", "--out", str(out), "--k", "2", "--lfw", str(fake_lfw),
                     "--downstream", "lfw:min_faces=5", *sets]) == 0
        result = json.loads((out / "result.json").read_text())
        assert result["mode"] == mode and result["k"] == 2 and result["train_images"] == 4
        assert (out / "manifest.csv").is_file()
    assert "test accuracy" in capsys.readouterr().out


def test_local_workers_through_submitit_give_the_same_results_as_one_process(fake_lfw, tmp_path):
    from proxytask.executors import ExecutorSettings

    # fp32 and contiguous tensors: the workers compute on one thread each, the single process on two, and
    # bf16 or channels_last convolutions sum in an order that depends on it.
    plain = [f"{section}.{setting}=false" for section in ("finetune", "pretrain.train") for setting in ("bf16", "channels_last")]
    config = tiny_study(fake_lfw, "baselines=random,supervised", "modes=finetune,probe", "budgets=1", *plain)
    alone = run_study(config, tmp_path / "alone")
    spread = run_study(config, tmp_path / "spread", ExecutorSettings("local", workers=2))
    assert list((tmp_path / "spread" / "executor").iterdir())  # submitit's job logs: the jobs ran in worker processes

    def scores(results):
        return sorted((j.init, j.mode, j.k, j.draw, j.accuracy, j.macro_f1, tuple(j.details["confusion"][0]))
                      for j in results.jobs)

    assert scores(alone) == scores(spread)
    for name, metrics in alone.pretraining.items():
        assert metrics["loss_last"] == pytest.approx(spread.pretraining[name]["loss_last"], rel=1e-5)


def test_input_and_seeds_analyses_add_rgb_forms_beside_random_rgb_and_a_second_seed(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "tasks=colorization,rotation", "baselines=random,supervised", "modes=finetune",
                        "analyses=input,seeds", "analysis_budgets=1")
    results = run_study(config, tmp_path / "study")
    assert {"rotation-rgb", "supervised-rgb", "colorization-seed1", "supervised-seed1"} <= set(results.pretraining)
    assert "colorization-rgb" not in results.pretraining  # colorization reads intensity only
    assert results.pretraining["rotation-rgb"]["input"] == "rgb"
    pairs = {(c.init, c.baseline) for c in results.comparisons}
    assert {("rotation-rgb", "random-rgb"), ("supervised-rgb", "random-rgb"), ("rotation", "random"),
            ("colorization-seed1", "random")} <= pairs
    assert ("rotation-rgb", "random") not in pairs and ("rotation-rgb", "supervised") not in pairs
    main_rows = {r.init for r in results.rows if r.k is None}
    assert main_rows == {"random", "colorization", "rotation", "supervised"}  # analysis runs only at k=1
    report = (tmp_path / "study" / "report.md").read_text()
    assert "RGB or intensity input" in report and "Pretraining seed against label draws" in report
    headline_rows = report.split("## Headline")[1].split("##")[0]
    assert "rotation-rgb" not in headline_rows and "seed1" not in headline_rows


def test_a_study_folder_of_the_earlier_protocol_is_refused(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "baselines=random", "modes=probe")
    (tmp_path / "study" / "jobs" / "probe" / "random").mkdir(parents=True)
    (tmp_path / "study" / "jobs" / "probe" / "random" / "k1-d0.json").write_text("{}")
    (tmp_path / "study" / "config.yaml").write_text("preset: quick\nbaselines: [random, random-rgb]\n")
    with pytest.raises(ConfigError, match="made under protocol 1"):
        run_study(config, tmp_path / "study")


def test_a_failed_start_does_not_lock_the_folder(fake_lfw, tmp_path):
    """A wrong pool folder fails before any work; the corrected command (other settings) then runs.
    Where LFW lies is no part of a study's identity."""
    out = tmp_path / "study"
    wrong = tiny_study(fake_lfw, "baselines=random", "modes=probe", f"pretrain.data.pool=[{tmp_path / 'missing'}]")
    with pytest.raises(DataError, match="missing does not exist"):
        run_study(wrong, out)
    assert not out.exists()
    (out).mkdir()
    (out / "config.yaml").write_text("preset: quick\npretrain_steps: 7\n")  # as a start that failed after writing it
    results = run_study(tiny_study(fake_lfw, "baselines=random", "modes=probe"), out)
    assert {r.init for r in results.rows} == {"random", "colorization"}
    moved = tmp_path / "elsewhere"
    shutil.copytree(fake_lfw, moved)
    run_study(tiny_study(moved, "baselines=random", "modes=probe"), out)  # same study, LFW found elsewhere


def test_jobs_that_need_no_pretraining_run_while_the_runs_train(fake_lfw, tmp_path, monkeypatch):
    calls = []
    real_run_all = study_module.run_all

    def recording(settings, folder, jobs, name, distributed=False, alongside=()):
        described = [(job[0].__name__, job[4] if job[0].__name__ == "transfer_unit" else None) for job in [*jobs, *alongside]]
        calls.append((name, described))
        real_run_all(settings, folder, jobs, name, distributed, alongside)

    monkeypatch.setattr(study_module, "run_all", recording)
    run_study(tiny_study(fake_lfw, "modes=finetune,probe", "budgets=1,2"), tmp_path / "study")
    (first, with_runs), (second, after_runs) = calls
    assert first == "pretraining" and second == "transfer jobs"
    assert {entry for entry in with_runs if entry[0] != "pretrain_run"} == {("transfer_unit", "random"), ("eigenfaces_unit", None)}
    assert [entry[0] for entry in with_runs[:2]] == ["pretrain_run", "pretrain_run"]  # the runs start first
    assert {name for _, name in after_runs} == {"colorization", "supervised"}


def test_transfer_units_come_longest_first(fake_lfw, tmp_path):
    from proxytask.transfer.finetune import finetune_steps

    config = tiny_study(fake_lfw, "modes=finetune,probe", "budgets=1,2,all", "draws=1", "finetune.max_steps=500", "finetune.epochs=40")
    data = study_module.load_downstream(config.pretrain.data)
    splits = study_module.study_splits(config, data, tmp_path)
    units = study_module.transfer_units(config, tmp_path, [("random", "random", config.budget_values())], splits)
    steps = [sum(finetune_steps(config.finetune, len(splits[k, d].train)) for mode, k, d in unit[-1] if mode == "finetune")
             for unit in units]
    assert steps == sorted(steps, reverse=True) and steps[-1] == 0  # the probe's unit trains no network
    assert {k for _, k, _ in units[0][-1]} == {None}  # all labels: the most images, so the most steps
