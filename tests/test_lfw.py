import dataclasses
import hashlib
import io
import shutil
import tarfile
import urllib.error
import urllib.request

import pytest

from proxytask.data.lfw import VARIANTS, DataError, PeopleIndex, extract_archive, locate_lfw


def test_locate_reads_extracted_folder(fake_lfw):
    assert locate_lfw(fake_lfw) == fake_lfw / "lfw-deepfunneled"
    assert locate_lfw(fake_lfw / "lfw-deepfunneled") == fake_lfw / "lfw-deepfunneled"


def test_locate_extracts_archive_into_home_once(fake_lfw_archive, isolated_home):
    found = locate_lfw(fake_lfw_archive)
    assert found == isolated_home / "lfw" / "lfw-deepfunneled"
    assert len(PeopleIndex.scan(found).images) == 14
    assert locate_lfw(None, allow_download=False) == found  # now found in the cache folder


def test_locate_from_environment_variable(fake_lfw, monkeypatch):
    monkeypatch.setenv("PROXYTASK_LFW", str(fake_lfw))
    assert locate_lfw() == fake_lfw / "lfw-deepfunneled"


def test_checksum_mismatch_is_an_error(fake_lfw_archive, tmp_path):
    folder = tmp_path / "copy"
    folder.mkdir()
    shutil.copy(fake_lfw_archive / "lfw-deepfunneled.tgz", folder)
    (folder / "SHA256SUMS").write_text("0" * 64 + "  lfw-deepfunneled.tgz\n")
    with pytest.raises(DataError, match="does not match its SHA256"):
        locate_lfw(folder)
    digest = hashlib.sha256((folder / "lfw-deepfunneled.tgz").read_bytes()).hexdigest()
    (folder / "SHA256SUMS").write_text(f"{digest}  lfw-deepfunneled.tgz\n")
    assert locate_lfw(folder).name == "lfw-deepfunneled"


def test_nothing_local_and_offline_says_where_to_put_the_archive(isolated_home):
    with pytest.raises(DataError, match=f"put it in {isolated_home / 'lfw'}"):
        locate_lfw(None, allow_download=False)


def test_every_source_is_tried_in_turn_and_named_when_all_fail(isolated_home, monkeypatch):
    tried = []

    def unreachable(url, timeout):
        tried.append(url)
        raise urllib.error.URLError("no route")

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    with pytest.raises(DataError, match="every download failed") as error:
        locate_lfw(None)
    assert tried == [variant.url for variant in VARIANTS]
    assert all(url in str(error.value) for url in tried)


def test_a_download_is_verified_and_a_bad_one_deleted(isolated_home, monkeypatch, fake_lfw_archive):
    """The first source serves a damaged file, the second a good archive: its checksum decides."""
    funneled = tmp_tree_archive(isolated_home.parent / "funneled.tgz", fake_lfw_archive)
    served = {VARIANTS[0].url: b"damaged", VARIANTS[1].url: funneled.read_bytes()}
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response(served[url]))
    monkeypatch.setattr("proxytask.data.lfw.VARIANTS", (VARIANTS[0], dataclasses.replace(
        VARIANTS[1], digest=hashlib.sha256(served[VARIANTS[1].url]).hexdigest())))
    found = locate_lfw(None)
    assert found == isolated_home / "lfw" / "lfw_funneled" and len(PeopleIndex.scan(found).images) == 14
    assert not (isolated_home / "lfw" / "lfw-deepfunneled.tgz").exists()


class Response(io.BytesIO):
    headers: dict[str, str] = {}


def tmp_tree_archive(path, fake_lfw_archive):
    """The fake LFW tree packed as the funneled variant's archive (top folder lfw_funneled/)."""
    with tarfile.open(fake_lfw_archive / "lfw-deepfunneled.tgz") as source, tarfile.open(path, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member) if member.isfile() else None
            member.name = member.name.replace("lfw-deepfunneled", "lfw_funneled", 1)
            target.addfile(member, data)
    return path


def test_missing_or_wrong_path_is_named(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        locate_lfw(tmp_path / "nowhere")
    with pytest.raises(DataError, match="holds neither"):
        locate_lfw(tmp_path)


def test_extraction_refuses_unsafe_members(tmp_path):
    archive = tmp_path / "evil.tgz"
    payload = tmp_path / "payload.txt"
    payload.write_text("x")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(payload, arcname="lfw-deepfunneled/../../escaped.txt")
    with pytest.raises(DataError, match="unsafe member"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out" / "lfw-deepfunneled").exists()


def test_people_index_thresholds_and_pool(fake_lfw):
    index = PeopleIndex.scan(fake_lfw / "lfw-deepfunneled")
    assert index.with_min_faces(5) == ["Alice_Alpha", "Bob_Beta"]
    pool = index.pool_excluding(["Alice_Alpha", "Bob_Beta"])
    assert len(pool) == 36 and not any("Alice" in str(p) or "Bob" in str(p) for p in pool)
    with pytest.raises(DataError, match="no LFW person folder named 'Carol'"):
        index.check_names(["Carol"])


def test_an_empty_or_half_made_cache_folder_is_not_taken_for_lfw(isolated_home):
    (isolated_home / "lfw" / ".extract-1234").mkdir(parents=True)  # a failed download's leftovers
    with pytest.raises(DataError, match="downloading is switched off"):
        locate_lfw(None, allow_download=False)


def test_an_archive_damaged_mid_stream_is_refused_and_never_reused(fake_lfw_archive, tmp_path, isolated_home):
    """Bytes flipped in the middle of the archive (no SHA256SUMS to catch them): tarfile's listing stops
    early and silently at the first header it cannot read; the extraction is refused, and a good
    archive given afterwards is extracted in full."""
    raw = bytearray((fake_lfw_archive / "lfw-deepfunneled.tgz").read_bytes())
    middle = len(raw) // 2
    raw[middle:middle + 64] = bytes(255 - b for b in raw[middle:middle + 64])
    damaged = tmp_path / "damaged" / "lfw-deepfunneled.tgz"
    damaged.parent.mkdir()
    damaged.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="damaged"):
        locate_lfw(damaged.parent)
    # the same damage inside an uncompressed tar: the listing stops at a broken header, data follows
    import gzip

    tar_bytes = bytearray(gzip.decompress((fake_lfw_archive / "lfw-deepfunneled.tgz").read_bytes()))
    header = tar_bytes.find(b"Pool_Person05/", len(tar_bytes) // 2) // 512 * 512
    tar_bytes[header + 148: header + 156] = b"9999999\0"  # a wrong header checksum
    plain = tmp_path / "plain" / "lfw-deepfunneled.tgz"
    plain.parent.mkdir()
    plain.write_bytes(gzip.compress(bytes(tar_bytes)))
    with pytest.raises(DataError, match="damaged"):
        locate_lfw(plain.parent)
    assert not (isolated_home / "lfw" / "lfw-deepfunneled").exists()
    truncated = tmp_path / "truncated" / "lfw-deepfunneled.tgz"
    truncated.parent.mkdir()
    truncated.write_bytes((fake_lfw_archive / "lfw-deepfunneled.tgz").read_bytes()[:3000])
    with pytest.raises(DataError, match="not a readable tar archive"):
        locate_lfw(truncated.parent)
    found = locate_lfw(fake_lfw_archive)
    assert sum(len(files) for files in PeopleIndex.scan(found).images.values()) == 47


def test_a_tree_from_another_archive_is_extracted_again(fake_lfw_archive, tmp_path, isolated_home):
    found = locate_lfw(fake_lfw_archive)
    (found / "Alice_Alpha" / "Alice_Alpha_0001.jpg").unlink()  # a tree that no longer matches
    (found / ".extracted-from.json").unlink()
    again = locate_lfw(fake_lfw_archive)
    assert (again / "Alice_Alpha" / "Alice_Alpha_0001.jpg").is_file()
