"""Reads the real LFW deep-funneled archive in ../shared/data/lfw (skipped where it is absent)."""

import pytest

from proxytask.data.cache import load_cache
from proxytask.data.lfw import locate_lfw
from proxytask.data.selection import select
from tests.conftest import SHARED_LFW

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (SHARED_LFW / "lfw-deepfunneled.tgz").is_file(), reason="no LFW archive in ../shared/data/lfw"),
]


def test_politicians_task_pool_and_cache_on_real_lfw():
    root = locate_lfw(SHARED_LFW)
    selection = select("lfw-politicians-7", root)
    assert selection.downstream.class_counts() == {
        "Ariel_Sharon": 77, "Colin_Powell": 236, "Donald_Rumsfeld": 121, "George_W_Bush": 530,
        "Gerhard_Schroeder": 109, "Hugo_Chavez": 71, "Tony_Blair": 144,
    }
    assert len(selection.downstream.paths) == 1288
    assert len(selection.pool) == 11945 - 369  # without the development task's 7 people (48..60 images each)
    dev = select("lfw-dev-7", root).downstream.class_counts()
    assert sorted(dev.values()) == [48, 49, 52, 52, 53, 55, 60] and not set(dev) & set(selection.downstream.class_names)
    assert len(select("lfw:min_faces=1", root).downstream.paths) == 13233
    cache = load_cache(selection.downstream.paths, (61, 61, 189, 189), 32)
    assert cache.pixels.shape == (1288, 32, 32, 3) and cache.usable.all() and not cache.skipped
