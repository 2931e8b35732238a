import numpy as np
import pytest

from proxytask.data import cache as cache_module
from proxytask.data.cache import load_cache
from proxytask.data.images import decode_image
from proxytask.data.lfw import DataError
from tests.conftest import face_image

CROP = (61, 61, 189, 189)


@pytest.fixture
def mixed_files(tmp_path):
    """Two good faces, a gray one, an empty file, a text file and a truncated JPEG."""
    files = []
    for i in range(2):
        files.append(tmp_path / f"good{i}.jpg")
        face_image(i).save(files[-1])
    files.append(tmp_path / "gray.jpg")
    face_image(9).convert("L").save(files[-1])
    files.append(tmp_path / "empty.jpg")
    files[-1].write_bytes(b"")
    files.append(tmp_path / "notes.jpg")
    files[-1].write_text("not an image")
    files.append(tmp_path / "truncated.jpg")
    face_image(3).save(files[-1])
    files[-1].write_bytes(files[-1].read_bytes()[:500])
    return files


@pytest.mark.parametrize("workers", [1, 2])
def test_cache_skips_and_lists_bad_files_and_flags_gray(mixed_files, workers):
    cache = load_cache(mixed_files, CROP, 16, workers=workers)
    assert cache.pixels.shape == (6, 16, 16, 3)
    assert cache.usable.tolist() == [True, True, True, False, False, False]
    assert cache.is_gray.tolist()[:3] == [False, False, True]
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in cache.skipped) == ["empty.jpg", "notes.jpg", "truncated.jpg"]
    assert all(reason for _, reason in cache.skipped)


def test_cached_pixels_equal_direct_decoding(mixed_files):
    cache = load_cache(mixed_files[:2], CROP, 16, workers=1)
    np.testing.assert_array_equal(cache.pixels[1], decode_image(mixed_files[1], CROP, 16).pixels)


def test_second_load_does_not_decode_again(mixed_files, monkeypatch):
    first = load_cache(mixed_files, CROP, 16, workers=1)
    monkeypatch.setattr(cache_module, "_decode_rows", lambda job: pytest.fail("decoded again"))
    second = load_cache(mixed_files, CROP, 16, workers=1)
    assert second.folder == first.folder
    np.testing.assert_array_equal(np.asarray(first.pixels), np.asarray(second.pixels))


def test_cache_key_changes_with_inputs(mixed_files):
    base = load_cache(mixed_files[:2], CROP, 16, workers=1).folder
    assert load_cache(mixed_files[:2], CROP, 24, workers=1).folder != base
    assert load_cache(mixed_files[:2], (0, 0, 128, 128), 16, workers=1).folder != base
    face_image(7).save(mixed_files[0])  # the file changed on disk
    assert load_cache(mixed_files[:2], CROP, 16, workers=1).folder != base


def test_no_images_is_an_error():
    with pytest.raises(DataError, match="no images"):
        load_cache([], CROP, 16)


def test_copies_share_a_digest_and_unreadable_files_have_none(mixed_files, tmp_path):
    copy = tmp_path / "elsewhere" / "copy.jpg"
    copy.parent.mkdir()
    copy.write_bytes(mixed_files[0].read_bytes())
    cache = load_cache([*mixed_files, copy], CROP, 16, workers=1)
    assert cache.digests[0] == cache.digests[-1] != cache.digests[1]
    assert cache.digests[3] != "" and len(set(cache.digests)) == len(cache.digests) - 1


def test_center_crop_takes_the_middle_square(tmp_path):
    from PIL import Image

    wide = np.zeros((10, 30, 3), dtype=np.uint8)
    wide[:, 10:20] = 255  # the middle square is white, the sides black
    Image.fromarray(wide).save(tmp_path / "wide.png")
    cache = load_cache([tmp_path / "wide.png"], "center", 5, workers=1)
    assert cache.pixels[0][:, 1:4].min() == 255 and cache.pixels[0].mean() > 200  # (the edges blend with the sides)


def test_an_interrupted_build_resumes_from_its_finished_chunks(tmp_path, monkeypatch):
    files = []
    for i in range(7):
        files.append(tmp_path / f"{i}.jpg")
        face_image(i).save(files[-1])
    monkeypatch.setattr(cache_module, "_CHUNK", 2)
    decode = cache_module._decode_rows
    calls = []

    def failing_third_chunk(job):
        calls.append(job[1])
        if len(calls) == 3:
            raise KeyboardInterrupt  # as if the build were stopped
        return decode(job)

    monkeypatch.setattr(cache_module, "_decode_rows", failing_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        load_cache(files, CROP, 16, workers=1)
    assert calls == [0, 2, 4]
    calls.clear()
    monkeypatch.setattr(cache_module, "_decode_rows", lambda job: calls.append(job[1]) or decode(job))
    resumed = load_cache(files, CROP, 16, workers=1)
    assert calls == [4, 6]  # only the chunks not finished before
    assert resumed.usable.all() and not resumed.folder.with_name(resumed.folder.name + ".partial").exists()
    for row, path in enumerate(files):
        np.testing.assert_array_equal(resumed.pixels[row], decode_image(path, CROP, 16).pixels)


def test_a_damaged_interrupted_build_starts_over(mixed_files):
    from proxytask.data.cache import cache_key
    from proxytask.data.lfw import proxytask_home

    folder = proxytask_home() / "cache" / f"16x16-{cache_key(mixed_files[:2], CROP, 16)}"
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True)
    (partial / "pixels.npy").write_bytes(b"\x93NUMPY")  # cut short by a kill
    (partial / "rows.jsonl").write_text('{"start": 0, "usa')  # a torn record
    cache = load_cache(mixed_files[:2], CROP, 16, workers=1)
    assert cache.usable.all() and cache.folder == folder
    np.testing.assert_array_equal(cache.pixels[0], decode_image(mixed_files[0], CROP, 16).pixels)


def huge_png(path) -> None:
    """A tiny file whose header declares 60000 x 60000 pixels (a decompression bomb)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))


def test_non_utf8_names_and_decompression_bombs_are_handled(tmp_path):
    import os

    from proxytask.data.folders import image_tree

    face_image(1).save(tmp_path / os.fsdecode(b"caf\xe9.jpg"))  # a Latin-1 name, not UTF-8
    (tmp_path / os.fsdecode(b"cl\xe4ss")).mkdir()
    face_image(2).save(tmp_path / os.fsdecode(b"cl\xe4ss") / "x.jpg")
    huge_png(tmp_path / "bomb.png")
    files = image_tree(tmp_path)
    cache = load_cache(files, "center", 16, workers=2)
    assert cache.usable.tolist() == [False, True, True]  # bomb.png sorts first
    assert cache.skipped[0][1].startswith("too large:")
    assert load_cache(files, "center", 16, workers=1).folder == cache.folder
