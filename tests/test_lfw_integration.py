"""Reads the real LFW deep-funneled archive in ../shared/data/lfw (skipped where it is absent)."""

import pytest

from proxytask.config import DataConfig
from proxytask.data.cache import load_cache
from proxytask.data.lfw import locate_lfw
from proxytask.data.selection import downstream_task, pool_sources
from tests.conftest import SHARED_LFW

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (SHARED_LFW / "lfw-deepfunneled.tgz").is_file(), reason="no LFW archive in ../shared/data/lfw"),
]


def test_politicians_task_pool_and_cache_on_real_lfw():
    locate_lfw(SHARED_LFW)
    data = DataConfig(lfw=str(SHARED_LFW))
    downstream = downstream_task(data).images
    assert downstream.class_counts() == {
        "Ariel_Sharon": 77, "Colin_Powell": 236, "Donald_Rumsfeld": 121, "George_W_Bush": 530,
        "Gerhard_Schroeder": 109, "Hugo_Chavez": 71, "Tony_Blair": 144,
    }
    assert len(downstream.paths) == 1288
    assert len(pool_sources(data)[0].paths) == 11945 - 369  # without the development task's 7 people (48..60 images each)
    dev = downstream_task(DataConfig(lfw=str(SHARED_LFW), downstream="lfw-dev-7")).images.class_counts()
    assert sorted(dev.values()) == [48, 49, 52, 52, 53, 55, 60] and not set(dev) & set(downstream.class_names)
    assert len(downstream_task(DataConfig(lfw=str(SHARED_LFW), downstream="lfw:min_faces=1")).images.paths) == 13233
    cache = load_cache(downstream.paths, (61, 61, 189, 189), 32)
    assert cache.pixels.shape == (1288, 32, 32, 3) and cache.usable.all() and not cache.skipped
