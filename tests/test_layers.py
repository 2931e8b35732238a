"""The layers contract in pyproject.toml (import-linter): cli > study > report > export, colorize >
transfer > training engine > tasks > models, data > config and the leaves, and no import circle in
any package. The static graph counts imports inside functions too, so none can dodge a circle."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path, source: Path) -> subprocess.CompletedProcess:
    """import-linter on the package in ``source`` with the contracts of ``root/pyproject.toml``, in a
    process of its own (it reconfigures logging)."""
    return subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                           f"sys.exit(lint_imports(config_filename={str(root / 'pyproject.toml')!r}, no_cache=True, no_logo=True))"],
                          cwd=root, env={"PYTHONPATH": str(source), "PATH": ""}, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers_and_has_no_import_circle():
    done = lint_imports(ROOT, ROOT / "src")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 2 kept, 0 broken." in done.stdout


def test_an_import_from_a_higher_layer_breaks_the_contract(tmp_path):
    shutil.copytree(ROOT / "src" / "proxytask", tmp_path / "proxytask", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    config = tmp_path / "proxytask" / "config.py"
    config.write_text(config.read_text() + "\n\ndef study_settings():\n    from proxytask.study.settings import StudyConfig\n\n"
                      "    return StudyConfig\n")
    done = lint_imports(tmp_path, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "proxytask.config -> proxytask.study.settings" in done.stdout and "BROKEN" in done.stdout
