"""The transfer monitor: development-task scores logged during pretraining, without changing the run."""

import csv
import dataclasses

import pytest
import torch

from proxytask.checkpoint import load_weights
from proxytask.config import ConfigError
from proxytask.data.lfw import DataError
from proxytask.runs import RunFolder
from proxytask.train import pretrain
from proxytask.transfer.monitor import run_monitor
from tests.conftest import face_image, tiny_config


def development_folder(root):
    """A labeled folder of two generated classes: the study's own development task (the fake LFW's
    labeled people are the test task)."""
    for label, name in enumerate(("dev_a", "dev_b")):
        (root / name).mkdir(parents=True)
        for i in range(12):
            face_image(300 + 20 * label + i, size=60).save(root / name / f"{i}.png")
    return root


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_monitor_logs_scores_at_the_first_every_nth_and_last_step_and_changes_no_weight(fake_lfw, tmp_path):
    config = tiny_config(fake_lfw, "train.max_steps=5", "train.monitor_every=2")
    monitor = dataclasses.replace(run_monitor(config, str(development_folder(tmp_path / "dev"))), budget=2, draws=2)
    pretrain(config, tmp_path / "watched", monitor=monitor)
    pretrain(config, tmp_path / "plain")
    logged = rows(RunFolder(tmp_path / "watched").monitor)
    assert [int(r["step"]) for r in logged] == [0, 2, 4, 5]
    assert [int(r["images_seen"]) for r in logged] == [0, 8, 16, 20]
    for r in logged:
        for mode in ("knn", "probe"):
            assert 0.0 <= float(r[f"monitor_{mode}"]) <= 1.0 and float(r[f"monitor_{mode}_sd"]) >= 0.0
    assert not RunFolder(tmp_path / "plain").monitor.exists()
    watched, plain = (load_weights(RunFolder(tmp_path / name).weights) for name in ("watched", "plain"))
    assert all(torch.equal(watched[key], plain[key]) for key in plain)  # it reads no randomness and restores train mode


def test_a_resumed_run_keeps_the_monitor_rows_up_to_its_checkpoint(fake_lfw, tmp_path, monkeypatch):
    config = tiny_config(fake_lfw, "train.max_steps=6", "train.monitor_every=1", "train.checkpoint_every=2")
    monitor = dataclasses.replace(run_monitor(config, str(development_folder(tmp_path / "dev"))), budget=2, draws=2)
    calls = []

    def die_after_three(backbone, network_input):
        calls.append(len(calls))
        if len(calls) == 5:  # steps 0, 1, 2, 3 scored, then the monitor of step 4 dies (last checkpoint: step 2)
            raise KeyboardInterrupt
        return monitor(backbone, network_input)

    try:
        pretrain(config, tmp_path / "run", monitor=die_after_three)
    except KeyboardInterrupt:
        pass
    pretrain(config, tmp_path / "run", resume=True, monitor=monitor)
    assert [int(r["step"]) for r in rows(RunFolder(tmp_path / "run").monitor)] == [0, 1, 2, 3, 4, 5, 6]


def monitor_row(step, probe, sd=0.02):
    return {"step": step, "images_seen": 32 * step, "monitor_probe": probe, "monitor_probe_sd": sd,
            "monitor_knn": probe - 0.05, "monitor_knn_sd": sd}


def test_a_curve_has_flattened_when_its_last_fifth_stays_within_the_draw_spread():
    from proxytask.report.monitoring import flattened

    rising = [monitor_row(s, 0.2 + 0.001 * s) for s in range(0, 901, 100)]
    level = [monitor_row(s, 0.2 + 0.3 * min(s, 400) / 400) for s in range(0, 901, 100)]
    assert flattened(rising, "monitor_probe") is False  # +0.1 over the last 200 steps, draw sd 0.02
    assert flattened(level, "monitor_probe") is True
    assert flattened(level[:2], "monitor_probe") is None


def test_the_report_draws_the_monitor_of_the_runs_that_logged_it(tmp_path):
    from proxytask.records import PretrainingRecord, StudyResults
    from proxytask.report.monitoring import monitor_blocks

    for seed in (0, 1):
        run = RunFolder(tmp_path / "pretrain" / "colorization" / f"seed{seed}")
        run.root.mkdir(parents=True)
        with open(run.monitor, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(monitor_row(0, 0.2)))
            writer.writeheader()
            writer.writerows(monitor_row(s, 0.2 + 0.3 * min(s, 400) / 400) for s in range(0, 901, 100))
    records = [PretrainingRecord("colorization", "colorization", seed, f"pretrain/colorization/seed{seed}", {"flops_per_image": 1.4e9})
               for seed in (0, 1)]
    study = StudyResults({}, {}, "cpu", {}, records, {}, [], [], [], ["colorization"])
    blocks = monitor_blocks(study, tmp_path)
    assert (tmp_path / "monitor.png").is_file()
    table = next(block for block in blocks if hasattr(block, "rows"))
    assert [row[:2] for row in table.rows] == [["colorization", "0"], ["colorization", "1"]]
    assert table.rows[0][-2:] == ["yes", "yes"]
    assert monitor_blocks(StudyResults({}, {}, "cpu", {}, [], {}, [], [], [], []), tmp_path / "none") == []


def test_the_monitor_never_scores_the_study_test_task_and_a_bad_one_stops_the_study_before_any_work(fake_lfw, tmp_path):
    from proxytask.study.run import run_study
    from tests.test_study import tiny_study

    with pytest.raises(ConfigError, match=r"the transfer monitor scores a development task, never the test task \(lfw:min_faces=5\)"):
        run_study(tiny_study(fake_lfw, "pretrain.train.monitor_every=1", "monitor_task=lfw:min_faces=5"), tmp_path / "study")
    development = development_folder(tmp_path / "dev")
    same = tiny_study(fake_lfw, "pretrain.train.monitor_every=1", f"pretrain.data.downstream={development}",
                      f"monitor_task={development}/../dev/")
    with pytest.raises(ConfigError, match="never the test task"):  # one folder, however written
        run_study(same, tmp_path / "study")
    with pytest.raises(DataError, match="missing"):
        run_study(tiny_study(fake_lfw, "pretrain.train.monitor_every=1", f"monitor_task={tmp_path / 'missing'}"), tmp_path / "study")
    assert not (tmp_path / "study").exists()


def test_a_study_with_the_monitor_on_logs_it_for_every_run_and_reports_it(fake_lfw, tmp_path):
    from proxytask.study.run import run_study
    from tests.test_study import tiny_study

    config = tiny_study(fake_lfw, "pretrain.train.monitor_every=1", f"monitor_task={development_folder(tmp_path / 'dev')}",
                        "modes=knn", "baselines=random,supervised")
    results = run_study(config, tmp_path / "study")
    for run in results.pretraining:
        assert [int(r["step"]) for r in rows(RunFolder(tmp_path / "study" / run.folder).monitor)] == [0, 1, 2]
    assert "### Transfer during pretraining (development task)" in (tmp_path / "study" / "report.md").read_text()
