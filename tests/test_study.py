import json
import shutil

import pytest
import torch
import yaml

from proxytask.checkpoint import load_weights
from proxytask.cli import main
from proxytask.config import ConfigError
from proxytask.data.downstream import load_downstream
from proxytask.data.lfw import DataError
from proxytask.records import StudyResults
from proxytask.report.verdicts import verdict
from proxytask.study import run as study_module
from proxytask.study.folder import StudyFolder
from proxytask.study.plan import plan_study
from proxytask.study.presets import study_config
from proxytask.study.run import run_study
from tests.conftest import face_image, tiny_overrides


def tiny_study(lfw, *extra):
    pretrain = [f"pretrain.{o}" for o in tiny_overrides(lfw) if not o.startswith("train.max_steps")]
    return study_config("quick", [*pretrain, "pretrain.supervised.min_images_per_identity=3", "pretrain_steps=2", "budgets=1,all",
                                  "draws=2", "frozen_draws=3", "finetune.min_steps=2", "finetune.max_steps=2",
                                  "finetune.eval_every=1", "finetune.batch_size=4", "pretrain_seeds=1", *extra])


def test_study_writes_results_report_and_figures(fake_lfw, tmp_path):
    photos = tmp_path / "my photos"
    photos.mkdir()
    for i, size in enumerate(((90, 60), (40, 40))):
        face_image(i).resize(size).save(photos / f"photo{i}.jpg")
    results = run_study(tiny_study(fake_lfw, "pretrain_seeds=2"), tmp_path / "study", gallery=photos)
    out = tmp_path / "study"
    assert (out / "gallery_colorization_downstream.png").is_file()  # the colorization run on the politicians' test faces
    assert sorted(p.name for p in (out / "photos" / "colorization").glob("*.png")) == ["photo0.png", "photo1.png"]
    assert "colorizing photo0 (your photo" in (out / "report.md").read_text()
    for name in ("results.json", "report.md", "report.html", "report.pdf", "budgets_accuracy.png", "budgets_macro_f1.png", "forest_finetune.png",
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
    assert one["n_seeds"] == 2 and one["init_seeds"] == one["baseline_seeds"] == [0, 1]
    assert one["seed_sd"] >= 0 and one["draw_sd"] >= 0 and one["detectable"] > 0
    assert all(c["n_seeds"] == 2 for c in saved["comparisons"] if c["baseline"] != "eigenfaces")
    assert [(run["name"], run["seed"], run["folder"]) for run in saved["pretraining"]] == [
        (name, seed, f"pretrain/{name}/seed{seed}") for name in ("colorization", "supervised") for seed in (0, 1)]
    for entry in (run["metrics"] for run in saved["pretraining"]):
        assert entry["images_seen"] == 2 * 4 and entry["flops_per_image"] > 0 and entry["train_seconds"] > 0
        assert entry["input"] == "intensity"
    assert {job["pretrain_seed"] for job in saved["jobs"] if job["init"] != "eigenfaces"} == {0, 1}
    assert (out / "jobs/finetune/colorization/seed1/k1-d1.json").is_file() and (out / "jobs/finetune/random/seed1/k1-d1.json").is_file()
    assert {job["weights_seed"] for job in saved["jobs"] if job["init"] == "random"} == {0, 1}
    assert set(saved["selection"]) == {"finetune", "probe", "knn", "svm"}
    stages = saved["time_by_stage"]
    assert {"pretraining colorization", "pretraining supervised seed 1", "fine-tuning k=1", "fine-tuning k=all", "linear probe",
            "k-NN", "eigenfaces + SVM", "report"} <= set(stages) and all(v >= 0 for v in stages.values())
    assert "Where the time went" in (out / "report.md").read_text()
    assert "over 2 pretraining seeds and the draws" in (out / "report.md").read_text()
    assert "Where the spread comes from" in (out / "report.md").read_text()
    assert "held-out PSNR of the colorized pictures (dB)" in (out / "report.md").read_text()  # the task's own label, not its key
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 5 and "gap closed" in html.lower() and "95% CI" in html
    assert "| colorization | finetune |" in (out / "report.md").read_text()
    summary = (out / "report.md").read_text().split("## Summary")[1].split("\n## ")[0]
    for c in results.comparisons:  # the verdict in words follows each comparison of the main table
        if c.metric == "accuracy" and c.mode in ("finetune", "probe") and c.init in ("colorization", "supervised"):
            assert verdict(c).clause in summary, c
    assert summary.count("\n- At k=") == 2 * 2 + 2 * 2  # colorization and supervised at k=1 and all, fine-tuned and probed
    pdf = (out / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page ") >= 10  # a page per figure and table
    assert len(list((out / "splits").glob("*.csv"))) == 4
    assert results.downstream["images"] == 11


def test_interrupted_study_finishes_the_rest_without_redoing(fake_lfw, tmp_path, monkeypatch):
    config = tiny_study(fake_lfw, "baselines=random,supervised")
    real_job = study_module.run_job
    calls = []

    # In one process random init's 11 jobs run first (they need no pretraining), then the runs train, then the
    # interruption comes at the 4th job of a pretrained init.
    die_at = 11 + 4

    def count_then_die(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == die_at:
            raise KeyboardInterrupt
        return real_job(*args, **kwargs)

    monkeypatch.setattr(study_module, "run_job", count_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_study(config, tmp_path / "study")
    done = sorted(p.name for p in (tmp_path / "study" / "jobs").rglob("*.json"))
    assert len(done) == die_at - 1 and (tmp_path / "study" / "pretrain" / "supervised" / "seed0" / "metrics.json").is_file()
    calls.clear()
    monkeypatch.setattr(study_module, "run_job", lambda *a, **k: calls.append(a[0]) or real_job(*a, **k))
    monkeypatch.setattr(study_module, "pretrain", lambda *a, **k: pytest.fail("finished pretraining run again"))
    run_study(config, tmp_path / "study")
    total = 3 * (3 + 4 + 4)  # inits (random, colorization, supervised) x jobs (finetune: 2 draws + all; probe, knn: 3 + all)
    assert len(calls) == total - (die_at - 1)
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
    variants = {"colorization-lab", "colorization-l2", "colorization+data.pool_fraction=0.5", "colorization+hypercolumn=false"}
    assert variants <= {run.name for run in results.pretraining}
    assert results.run("colorization+data.pool_fraction=0.5").metrics["train_images"] < results.run("colorization").metrics["train_images"]
    rows = results.rows
    for name in variants:  # variants are transferred at the analysis budget only
        assert {r.k for r in rows if r.init == name} == {1}
    assert {r.k for r in rows if r.init == "colorization"} == {1, None}
    change = results.feature_change
    assert {c.init for c in change} == {"random", "colorization"}
    for record in change:
        assert len(record.cka) == len(record.weight_change) == record.stages
        assert all(0.0 <= c <= 1.0 + 1e-9 for c in record.cka)
        assert all(w > 0 for w in record.weight_change)
    assert StudyResults.from_json(json.loads((out / "results.json").read_text())).feature_change == change
    for name in ("analysis_loss.png", "analysis_data.png", "analysis_head.png", "analysis_feature_change.png"):
        assert (out / name).is_file(), name
    report = (out / "report.md").read_text()
    for heading in ("Loss formulation", "Amount of unlabeled data", "Hypercolumn or last layer", "How much fine-tuning changes"):
        assert heading in report


def test_a_gallery_that_is_no_folder_of_photos_is_refused_before_any_work(fake_lfw, tmp_path):
    (tmp_path / "empty").mkdir()
    for folder, message in ((tmp_path / "nowhere", "is not a folder"), (tmp_path / "empty", "holds no image files")):
        with pytest.raises(DataError, match=message):
            run_study(tiny_study(fake_lfw), tmp_path / "study", gallery=folder)
    with pytest.raises(ConfigError, match="no task of this study colorizes"):
        run_study(tiny_study(fake_lfw, "tasks=rotation"), tmp_path / "study", gallery=tmp_path / "empty")
    assert not (tmp_path / "study").exists()


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


def test_local_workers_through_submitit_give_the_same_results_as_one_process(fake_lfw, tmp_path, capsys):
    from proxytask.study.executors import ExecutorSettings

    # fp32 and contiguous tensors: the workers compute on one thread each, the single process on two, and
    # bf16 or channels_last convolutions sum in an order that depends on it.
    plain = [f"{section}.{setting}=false" for section in ("finetune", "pretrain.train") for setting in ("bf16", "channels_last")]
    config = tiny_study(fake_lfw, "baselines=random,supervised", "modes=finetune,probe", "budgets=1", *plain)
    alone = run_study(config, tmp_path / "alone")
    capsys.readouterr()
    spread = run_study(config, tmp_path / "spread", ExecutorSettings("local", workers=2))
    assert list((tmp_path / "spread" / "executor").iterdir())  # submitit's job logs: the jobs ran in worker processes
    progress = [line for line in capsys.readouterr().err.splitlines() if line.startswith("study: ")]  # the live line, from this process
    total = len(spread.jobs)
    assert progress[0].startswith(f"study: 0/2 pretraining runs, 0/{total} transfer jobs | pretraining")
    assert progress[-1].startswith(f"study: 2/2 pretraining runs, {total}/{total} transfer jobs | done")

    def scores(results):
        return sorted((j.init, j.mode, j.k, j.draw, j.accuracy, j.macro_f1, tuple(j.details["confusion"][0]))
                      for j in results.jobs)

    assert scores(alone) == scores(spread)
    for run in alone.pretraining:
        assert run.metrics["loss_last"] == pytest.approx(spread.run(run.name).metrics["loss_last"], rel=1e-5)


def test_the_input_analysis_adds_rgb_forms_beside_random_rgb(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "tasks=colorization,rotation", "baselines=random,supervised", "modes=finetune",
                        "analyses=input", "analysis_budgets=1")
    results = run_study(config, tmp_path / "study")
    runs = {(run.name, run.seed) for run in results.pretraining}
    assert {("rotation+input=rgb", 0), ("supervised+input=rgb", 0)} <= runs
    assert not any(name.startswith("colorization+input") for name, _ in runs)  # colorization reads intensity only
    assert results.run("rotation+input=rgb").metrics["input"] == "rgb"
    pairs = {(c.init, c.baseline, c.init_seeds) for c in results.comparisons}
    assert {("rotation+input=rgb", "random-rgb", (0,)), ("supervised+input=rgb", "random-rgb", (0,)), ("rotation", "random", (0,))} <= pairs
    assert not {("rotation+input=rgb", "random", (0,)), ("rotation+input=rgb", "supervised", (0,))} & pairs
    main_rows = {r.init for r in results.rows if r.k is None}
    assert main_rows == {"random", "colorization", "rotation", "supervised"}  # analysis runs only at k=1
    report = (tmp_path / "study" / "report.md").read_text()
    assert "RGB or intensity input" in report
    headline_rows = report.split("## Headline")[1].split("##")[0]
    assert "input=rgb" not in headline_rows


def test_the_length_analysis_transfers_the_weights_each_run_kept_part_of_the_way(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "baselines=random", "modes=finetune,probe", "pretrain_steps=9", "analyses=length",
                        "analysis_budgets=1")
    plan = plan_study(config)
    assert len(plan.runs) == 1  # no new pretraining
    kept = {(p.name, p.reads, p.step, p.budgets) for p in plan.inits if p.source == "kept"}
    assert kept == {("colorization@1of9", "colorization", 1, (1,)), ("colorization@1of3", "colorization", 3, (1,))}
    results = run_study(config, tmp_path / "study")
    folder = StudyFolder(tmp_path / "study")
    run = folder.run_of("colorization", 0)
    third = study_module.make_init(folder, config, plan.init("colorization@1of3", 0)).backbone(0).state_dict()
    kept_weights = load_weights(run.kept_weights(3))
    assert third.keys() == kept_weights.keys() and all(torch.equal(third[key], kept_weights[key]) for key in third)
    whole = study_module.make_init(folder, config, plan.init("colorization", 0)).backbone(0).state_dict()
    assert any(not torch.equal(third[key], whole[key]) for key in third if third[key].is_floating_point())
    rows = {(r.init, r.mode, r.k) for r in results.rows}
    assert {("colorization@1of3", "probe", 1), ("colorization@1of9", "finetune", 1)} <= rows
    assert not any(init.startswith("colorization@") and k is None for init, _, k in rows)  # the analysis budget only
    pairs = {(c.init, c.baseline, c.role) for c in plan.comparisons}
    assert {("colorization@1of3", "random", "floor"), ("colorization", "colorization@1of3", "length (colorization)"),
            ("colorization@1of3", "colorization@1of9", "length (colorization)")} <= pairs
    saved = json.loads((tmp_path / "study" / "results.json").read_text())
    assert StudyResults.from_json(saved).to_json() == saved  # the kept members round-trip
    report = (tmp_path / "study" / "report.md").read_text()
    assert "colorization: pretraining length" in report and "1/3 of the run (step 3)" in report
    run.kept_sha256(3).unlink()  # a finished run without them (an earlier version's) is named before any work
    shutil.rmtree(tmp_path / "study" / "jobs" / "probe" / "colorization@1of3")
    with pytest.raises(ConfigError, match="kept no weights at step 3"):
        run_study(config, tmp_path / "study")


def test_jigsaw_is_compared_with_random_init_on_its_standardized_input(fake_lfw, tmp_path):
    results = run_study(tiny_study(fake_lfw, "tasks=jigsaw", "baselines=random", "modes=probe", "budgets=1", "pretrain.data.image_size=64",
                                   "pretrain.data.crop_size=56"), tmp_path / "study")
    floor = results.floor("jigsaw", "probe", 1)
    assert floor.baseline == "random-standardized"
    standardized = [job for job in results.jobs if job.init == "random-standardized"]
    assert standardized and all(job.details["input_detail"] == "intensity (mean of RGB), standardized per image" for job in standardized)
    assert "random-standardized" in results.main_inits
    assert "| jigsaw | probe | minus random-standardized |" in (tmp_path / "study" / "report.md").read_text()


def test_a_study_folder_of_protocol_2_continues_with_random_inits_fine_tuning_recomputed(fake_lfw, tmp_path, monkeypatch):
    config = tiny_study(fake_lfw, "baselines=random", "modes=finetune,probe")
    out = tmp_path / "study"
    run_study(config, out)
    saved = yaml.safe_load((out / "config.yaml").read_text())
    (out / "config.yaml").write_text(yaml.safe_dump({**saved, "protocol": 2}))
    for job in (out / "jobs").glob("*/random/seed0/*.json"):  # as protocol 2 wrote them
        record = json.loads(job.read_text())
        record.pop("weights_seed")
        job.write_text(json.dumps(record))
    ran = []
    real_job = study_module.run_job
    monkeypatch.setattr(study_module, "pretrain", lambda *a, **k: pytest.fail("a finished run trained again"))
    monkeypatch.setattr(study_module, "run_job", lambda mode, init, split, *a: ran.append((init.name, mode, split.k, split.draw))
                        or real_job(mode, init, split, *a))
    run_study(config, out)
    assert ran == [("random", "finetune", 1, 1)]  # draw 0 drew its weights from seed 0 under both protocols
    assert (out / "superseded" / "jobs" / "finetune" / "random" / "seed0" / "k1-d1.json").is_file()
    assert yaml.safe_load((out / "config.yaml").read_text())["protocol"] == 3


def test_a_study_folder_of_the_earlier_protocol_is_refused(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "baselines=random", "modes=probe")
    (tmp_path / "study" / "jobs" / "probe" / "random" / "seed0").mkdir(parents=True)
    (tmp_path / "study" / "jobs" / "probe" / "random" / "seed0" / "k1-d0.json").write_text("{}")
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

    def recording(settings, folder, jobs, name, distributed=False, alongside=(), **progress):
        described = [(job[0].__name__, job[3].name) for job in [*jobs, *alongside]]
        calls.append((name, described))
        real_run_all(settings, folder, jobs, name, distributed, alongside, **progress)

    monkeypatch.setattr(study_module, "run_all", recording)
    run_study(tiny_study(fake_lfw, "modes=finetune,probe", "budgets=1,2"), tmp_path / "study")
    (first, with_runs), (second, after_runs) = calls
    assert first == "pretraining" and second == "transfer jobs"
    assert {entry for entry in with_runs if entry[0] != "pretrain_unit"} == {("transfer_unit", "random"), ("transfer_unit", "eigenfaces")}
    assert [entry[0] for entry in with_runs[:2]] == ["pretrain_unit", "pretrain_unit"]  # the runs start first
    assert {name for _, name in after_runs} == {"colorization", "supervised"}


def test_transfer_units_come_longest_first(fake_lfw, tmp_path):
    from proxytask.data.splits import budget_split
    from proxytask.transfer.finetune import finetune_steps

    config = tiny_study(fake_lfw, "modes=finetune,probe", "budgets=1,2,all", "draws=1", "finetune.max_steps=500", "finetune.epochs=40")
    data = load_downstream(config.pretrain.data)
    plan = plan_study(config)
    units = study_module.transfer_units(config, StudyFolder(tmp_path), plan, [plan.init("random", 0)], 2, data)
    steps = [sum(finetune_steps(config.finetune, len(budget_split(data.images, job.k, job.draw).train)) for job in unit[-1]
                 if job.mode == "finetune") for unit in units]
    assert steps == sorted(steps, reverse=True) and steps[-1] == 0  # the probe's unit trains no network
    assert {job.k for job in units[0][-1]} == {None}  # all labels: the most images, so the most steps


def test_pretraining_seeds_are_run_folders_of_their_own_and_a_finished_study_extends_to_more(fake_lfw, tmp_path, monkeypatch):
    one, two = (tiny_study(fake_lfw, "baselines=random", "modes=probe", f"pretrain_seeds={n}") for n in (1, 2))
    straight = run_study(two, tmp_path / "straight")
    out = tmp_path / "extended"
    run_study(one, out)
    trained, jobs = [], []
    real_pretrain, real_job = study_module.pretrain, study_module.run_job
    monkeypatch.setattr(study_module, "pretrain", lambda config, run_dir, **kw: trained.append(str(run_dir)) or real_pretrain(config, run_dir, **kw))
    monkeypatch.setattr(study_module, "run_job", lambda mode, init, *a: jobs.append((init.name, init.seed)) or real_job(mode, init, *a))
    extended = run_study(two, out)
    assert trained == [str(out / "pretrain" / "colorization" / "seed1")]  # only the new seed trains
    assert set(jobs) == {("colorization", 1), ("random", 1)} and len(jobs) == 2 * (3 + 1)  # probe: 3 draws at k=1, one with all labels

    def scores(results):
        return sorted((j.init, j.pretrain_seed, j.mode, str(j.k), j.draw, j.accuracy) for j in results.jobs)

    assert scores(extended) == scores(straight)
    assert {j.pretrain_seed for j in extended.jobs if j.init == "colorization"} == {0, 1}
    row = next(r for r in extended.rows if (r.init, r.mode, r.k) == ("colorization", "probe", 1))
    assert (row.n_seeds, row.n_draws) == (2, 3)
    floor = extended.comparison("colorization", "random", "probe", 1)
    assert floor.init_seeds == floor.baseline_seeds == (0, 1) and (floor.n_seeds, floor.n_draws) == (2, 3)
    seed_one = run_study(one, tmp_path / "alone")  # seed 0 of the two-seed study is the one-seed study
    assert scores(seed_one) == [s for s in scores(straight) if s[1] == 0]


def test_vary_reports_each_variant_against_random_init_and_against_the_default(fake_lfw, tmp_path):
    config = tiny_study(fake_lfw, "tasks=denoising", "baselines=random", "modes=probe", 'vary=["denoising.mask_fraction=0.3,0.6"]')
    results = run_study(config, tmp_path / "study")
    assert (tmp_path / "study" / "pretrain" / "denoising+mask_fraction=0.6" / "seed0" / "model.safetensors").is_file()
    assert results.run("denoising+mask_fraction=0.6") is not None and "denoising+mask_fraction=0.6" not in results.main_inits
    for role, baseline in (("floor", "random"), ("vary denoising.mask_fraction (denoising)", "denoising")):
        found = results.comparison("denoising+mask_fraction=0.6", baseline, "probe", 1)
        assert found is not None and found.role == role and found.ci_low is not None
    report = (tmp_path / "study" / "report.md").read_text()
    section = report.split("### denoising: denoising.mask_fraction")[1]
    assert "| denoising+mask_fraction=0.6 minus denoising |" in section and "denoising.mask_fraction=0.3 (default)" in section
    assert (tmp_path / "study" / "analysis_vary_denoising_mask_fraction__denoising_.png").is_file()


def test_a_study_folder_of_the_earlier_layout_is_moved_into_seed_folders_and_continues(fake_lfw, tmp_path, monkeypatch):
    config = tiny_study(fake_lfw, "baselines=random", "modes=probe", "analyses=head", "analysis_budgets=1")
    out = tmp_path / "study"
    before = run_study(config, out)
    earlier_names = {"colorization+hypercolumn=false": "colorization-lastlayer"}
    for run in sorted((out / "pretrain").glob("*/seed0")):  # as the code before pretraining seeds left it
        name = earlier_names.get(run.parent.name, run.parent.name)
        run.rename(out / "pretrain" / f".{name}")
        run.parent.rmdir()
        (out / "pretrain" / f".{name}").rename(out / "pretrain" / name)
        saved = yaml.safe_load((out / "pretrain" / name / "config.yaml").read_text())
        saved["train"]["bf16"] = not saved["train"]["bf16"]  # an earlier version saved bf16 where it computed in fp32
        (out / "pretrain" / name / "config.yaml").write_text(yaml.safe_dump(saved))
    for job in sorted((out / "jobs").glob("*/*/seed0/*.json")):
        init = earlier_names.get(job.parent.parent.name, job.parent.parent.name)
        record = json.loads(job.read_text())
        record.pop("pretrain_seed")
        (job.parents[2] / init).mkdir(exist_ok=True)
        (job.parents[2] / init / job.name).write_text(json.dumps({**record, "init": init}))
        job.unlink()
    for empty in sorted((out / "jobs").glob("*/*/seed0"), reverse=True):
        empty.rmdir()
        if not any(empty.parent.iterdir()):
            empty.parent.rmdir()
    assert (out / "pretrain" / "colorization-lastlayer" / "config.yaml").is_file()
    (out / "pretrain" / "colorization").rename(out / "pretrain" / ".colorization.moving")  # as a move stopped halfway leaves it
    monkeypatch.setattr(study_module, "pretrain", lambda *a, **k: pytest.fail("a moved run trained again"))
    monkeypatch.setattr(study_module, "run_job", lambda *a, **k: pytest.fail("a moved job ran again"))
    after = run_study(config, out)
    assert (out / "pretrain" / "colorization+hypercolumn=false" / "seed0" / "model.safetensors").is_file()
    assert not (out / "pretrain" / "colorization-lastlayer").exists() and not (out / "pretrain" / ".colorization.moving").exists()
    assert sorted(path.relative_to(out / "jobs").parts[1:3] for path in (out / "jobs").glob("*/*/*")) == sorted(
        [("colorization", "seed0"), ("colorization+hypercolumn=false", "seed0"), ("random", "seed0")])

    def scores(results):
        return sorted((j.init, j.pretrain_seed, j.mode, str(j.k), j.draw, j.accuracy) for j in results.jobs)

    assert scores(after) == scores(before)


def test_the_plan_is_printed_and_nothing_runs(fake_lfw, tmp_path, capsys):
    sets = [arg for value in ["pretrain_seeds=2", "budgets=5,all"] for arg in ("--set", value)]
    assert main(["study", "--out", str(tmp_path / "study"), "--preset", "quick", "--plan", "--lfw", str(fake_lfw), "--tasks", "denoising",
                 "--vary", "denoising.mask_fraction=0.3,0.6", *sets]) == 0
    printed = capsys.readouterr().out
    assert "pretraining runs:" in printed and "denoising+mask_fraction=0.6" in printed and "seed 1" in printed
    assert "(vary denoising.mask_fraction (denoising))" in printed
    assert not (tmp_path / "study").exists()
