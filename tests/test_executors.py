"""Where a study's jobs run: the local executor's waves and GPU slots, the default executor."""

from proxytask.study import executors


class FakeJob:
    def __init__(self, name, finished_after):
        self.name, self.polls_left = name, finished_after

    def done(self):
        self.polls_left -= 1
        return self.polls_left < 0

    def result(self):
        return self.name


class FakeExecutor:
    """Records which GPU each submitted job was given and how many ran at once."""

    def __init__(self):
        self.visible, self.log, self.jobs = None, [], []

    def update_parameters(self, **parameters):
        self.visible = parameters["visible_gpus"]

    def submit(self, name, polls):
        job = FakeJob(name, polls)
        self.jobs.append(job)
        running = sum(1 for j in self.jobs if j.polls_left >= 0)
        self.log.append((name, self.visible, running))
        return job


def test_waves_keep_at_most_workers_running_and_give_each_slot_its_own_gpu(monkeypatch):
    monkeypatch.setattr(executors, "POLL_SECONDS", 0)
    fake = FakeExecutor()
    executors._run_in_waves(fake, 2, [(f"job{i}", i % 3) for i in range(6)], gpus=2)
    assert [name for name, _, _ in fake.log] == [f"job{i}" for i in range(6)]
    assert max(running for _, _, running in fake.log) <= 2
    assert [gpu for _, gpu, _ in fake.log[:2]] == [[0], [1]]  # the two slots on the two GPUs
    assert all(gpu in ([0], [1]) for _, gpu, _ in fake.log)


def test_the_default_executor_on_a_cpu_is_one_worker_per_core(monkeypatch):
    monkeypatch.setattr(executors.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(executors, "usable_cores", lambda: 2)
    assert executors.default_executor() == executors.ExecutorSettings("local", 2)
    monkeypatch.setattr(executors, "usable_cores", lambda: 64)
    assert executors.default_executor().workers == executors.MAX_DEFAULT_WORKERS
    monkeypatch.setattr(executors, "usable_cores", lambda: 1)
    assert executors.default_executor() == executors.ExecutorSettings()


def _fill_the_disk():
    raise OSError(28, "No space left on device", "/data/run/model.safetensors")


def test_a_failed_job_is_named_by_its_own_last_line(tmp_path):
    import pytest
    import submitit

    executor = submitit.AutoExecutor(folder=str(tmp_path), cluster="local")
    executor.update_parameters(timeout_min=5)
    job = executor.submit(_fill_the_disk)
    with pytest.raises(RuntimeError) as raised:
        executors._wait([job])
    message = str(raised.value)
    assert "\n" not in message and "Traceback" not in message  # one line, not the job's whole traceback
    assert message.startswith("OSError: [Errno 28] No space left on device: '/data/run/model.safetensors'")
    assert str(tmp_path) in message  # where the traceback is
