"""Shared fixtures: generated images and a small fake LFW tree; every test gets its own cache folder."""

from __future__ import annotations

import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from proxytask.config import apply_overrides
from proxytask.runs import PretrainConfig

SHARED_LFW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw"


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """A fresh PROXYTASK_HOME per test, no PROXYTASK_LFW from the environment, and no downloads."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PROXYTASK_HOME", str(home))
    monkeypatch.delenv("PROXYTASK_LFW", raising=False)

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError(f"tests do not download ({url})")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return home


def face_image(seed: int, size: int = 250) -> Image.Image:
    """A colorful synthetic 'face': a skin-colored disc on a colored background, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    background = rng.uniform(0, 255, 3)
    skin = np.array([200, 150, 120]) + rng.uniform(-30, 30, 3)
    inside = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size * 0.3) ** 2
    pixels = np.where(inside[..., None], skin, background) + rng.normal(0, 8, (size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def make_lfw_tree(root: Path, people: dict[str, int]) -> Path:
    """Write ``root/lfw-deepfunneled/<Name>/<Name>_NNNN.jpg`` with the given image counts."""
    folder = root / "lfw-deepfunneled"
    seed = 0
    for name, count in people.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for index in range(1, count + 1):
            face_image(seed).save(folder / name / f"{name}_{index:04d}.jpg", quality=90)
            seed += 1
    return folder


FAKE_PEOPLE = {"Alice_Alpha": 6, "Bob_Beta": 5, **{f"Pool_Person{i:02d}": 3 for i in range(12)}}


@pytest.fixture(scope="session")
def fake_lfw(tmp_path_factory) -> Path:
    """A folder holding an extracted fake ``lfw-deepfunneled/`` (2 people with >= 5 images, 36 pool images)."""
    root = tmp_path_factory.mktemp("lfw")
    make_lfw_tree(root, FAKE_PEOPLE)
    return root


@pytest.fixture(scope="session")
def fake_lfw_archive(tmp_path_factory, fake_lfw) -> Path:
    """A folder holding ``lfw-deepfunneled.tgz`` packed from the fake tree."""
    root = tmp_path_factory.mktemp("lfw_archive")
    with tarfile.open(root / "lfw-deepfunneled.tgz", "w:gz") as tar:
        tar.add(fake_lfw / "lfw-deepfunneled", arcname="lfw-deepfunneled")
    return root


def tiny_overrides(lfw: Path) -> list[str]:
    """``--set`` values small enough for a test run on the fake LFW in seconds."""
    return [
        f"data.lfw={lfw}", "data.downstream=lfw:min_faces=5", "data.image_size=24", "data.crop_size=20",
        "data.heldout_images=4", "data.workers=1", "colorization.samples_per_image=16", "colorization.border=2",
        "colorization.head_width=32", "train.batch_size=4", "train.log_every=2", "train.checkpoint_every=2",
        "optim.warmup_steps=1", "train.max_steps=6",
    ]


def tiny_config(lfw: Path, *extra: str) -> PretrainConfig:
    """A PretrainConfig of ``tiny_overrides`` plus ``extra`` overrides."""
    return apply_overrides(PretrainConfig(), [*tiny_overrides(lfw), *extra])
