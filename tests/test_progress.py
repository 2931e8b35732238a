"""The study's progress line: what it counts in the study folder and the ETA it draws from measured times."""

import io
import json

from proxytask.study.folder import StudyFolder
from proxytask.study.plan import plan_study
from proxytask.study.presets import study_config
from proxytask.study.progress import StudyProgress, clock

NOWHERE = "pretrain.data.lfw=/no/such/folder"  # a plan reads no file


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def finish_job(folder, job, seconds):
    path = folder.job(job)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seconds": seconds}))


def finish_run(folder, run, seconds, steps):
    run_folder = folder.run(run)
    run_folder.root.mkdir(parents=True, exist_ok=True)
    run_folder.log.write_text(f"step,epoch,loss\n{steps},1.0,0.5\n")
    run_folder.metrics.write_text(json.dumps({"train_seconds": seconds}))


def finish_all_but(folder, plan, left, steps=100):
    for run in plan.runs:
        finish_run(folder, run, seconds=200.0, steps=steps)
    for job in plan.transfer[left:]:
        finish_job(folder, job, seconds=10.0)
    return (200.0 * len(plan.runs) + 10.0 * (len(plan.transfer) - left)) / 2  # the wall time that work takes on 2 workers


def test_the_line_counts_finished_work_and_estimates_the_rest_from_its_measured_time(tmp_path):
    plan = plan_study(study_config("quick", [NOWHERE, "pretrain_steps=100", "tasks=colorization", "baselines=random,supervised"]))
    folder, stream, now = StudyFolder(tmp_path / "a"), io.StringIO(), Clock()
    progress = StudyProgress(plan, folder, steps=100, workers=2, stream=stream, now=now)
    assert "ETA after the first job of each kind" in progress.line()  # nothing measured yet
    now.now = finish_all_but(folder, plan, left=4)
    line = progress.line()
    assert f"{len(plan.runs)}/{len(plan.runs)} pretraining runs" in line
    assert f"{len(plan.transfer) - 4:,}/{len(plan.transfer):,} transfer jobs" in line
    # Every kind of the jobs left was measured at 10 s; 4 of them over 2 workers.
    assert progress.seconds_left() == 4 * 10.0 / 2
    now.now += 1000.0  # time passing while the last jobs run does not change the estimate of what is left
    assert progress.seconds_left() == 4 * 10.0 / 2

    slower, later = StudyFolder(tmp_path / "b"), Clock()
    progress = StudyProgress(plan, slower, steps=100, workers=2, stream=io.StringIO(), now=later)
    later.now = 3 * finish_all_but(slower, plan, left=4)  # the same work took three times as long (start-up, loading)
    progress.line()
    assert progress.seconds_left() == 3 * 4 * 10.0 / 2


def test_work_done_before_a_restart_sets_the_rates_but_not_the_wall_time_scale(tmp_path):
    plan = plan_study(study_config("quick", [NOWHERE, "pretrain_steps=100", "tasks=colorization", "baselines=random,supervised"]))
    folder, now = StudyFolder(tmp_path), Clock()
    for run in plan.runs[:1]:
        finish_run(folder, run, seconds=300.0, steps=100)
    for job in plan.transfer:
        finish_job(folder, job, seconds=5.0)
    progress = StudyProgress(plan, folder, steps=100, workers=1, stream=io.StringIO(), now=now)
    now.now = 1000.0  # a long pause with nothing done: the earlier work's wall time is unknown, so no scale
    assert progress.seconds_left() == 300.0 * (len(plan.runs) - 1)  # the other runs at the measured 3 s per step


def test_the_line_is_printed_at_each_stage_and_at_most_once_a_minute_in_a_log(tmp_path):
    plan = plan_study(study_config("quick", [NOWHERE]))
    stream, now = io.StringIO(), Clock()
    progress = StudyProgress(plan, StudyFolder(tmp_path), steps=900, workers=2, stream=stream, now=now)
    progress.update("pretraining")
    now.now = 30.0
    progress.update()
    progress.update("transfer jobs")
    now.now = 100.0
    progress.update()
    lines = stream.getvalue().splitlines()
    assert [line.split(" | ")[1] for line in lines] == ["pretraining", "transfer jobs", "transfer jobs"]
    assert lines[0].startswith(f"study: 0/{len(plan.runs)} pretraining runs, 0/{len(plan.transfer):,} transfer jobs")
    assert "elapsed 1:40" in lines[-1]


def test_clock():
    assert (clock(5), clock(65), clock(3723)) == ("0:05", "1:05", "1:02:03")
