"""The transfer-mode registry: what each mode is (light, read by --help and settings checks) and how it runs."""

import subprocess
import sys

from proxytask.transfer.modes import MODES, backbone_modes
from proxytask.transfer.runners import RUNNERS


def test_every_mode_has_a_runner_and_describes_its_choices():
    assert set(RUNNERS) == set(MODES)
    assert backbone_modes() == ("finetune", "probe", "knn")
    from proxytask.config import FinetuneConfig

    for name, runner in RUNNERS.items():
        assert "cross-validation" in runner.describe(FinetuneConfig(), "fixed beforehand") or name == "finetune"


def test_the_command_line_parses_without_loading_pytorch():
    done = subprocess.run([sys.executable, "-c", "import sys; from proxytask.cli import build_parser; build_parser(); "
                           "print(sorted(m for m in ('torch', 'sklearn', 'timm') if m in sys.modules))"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
