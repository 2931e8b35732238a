import numpy as np
import pytest
from PIL import Image

from proxytask.data.images import BadImage, decode_image
from tests.conftest import face_image


def test_color_jpeg_is_cropped_resized_and_colored(tmp_path):
    path = tmp_path / "face.jpg"
    face_image(1).save(path)
    decoded = decode_image(path, crop=(61, 61, 189, 189), size=32)
    assert decoded.pixels.shape == (32, 32, 3) and decoded.pixels.dtype == np.uint8
    assert not decoded.is_gray


@pytest.mark.parametrize("mode", ["CMYK", "P", "RGBA", "LA", "L", "I;16", "1"])
def test_every_mode_becomes_rgb(tmp_path, mode):
    source = face_image(2, size=64)
    if mode == "I;16":
        values = (np.asarray(source.convert("L"), dtype=np.uint16) * 257)
        image = Image.fromarray(values.astype("<u2"))
        assert image.mode == "I;16"
        path = tmp_path / "deep.png"
    else:
        image = source.convert(mode)
        path = tmp_path / ("image.tif" if mode == "CMYK" else "image.png")
    image.save(path)
    decoded = decode_image(path)
    assert decoded.pixels.shape == (64, 64, 3)
    assert decoded.is_gray == (mode in ("LA", "L", "I;16", "1"))
    if mode == "I;16":
        expected = np.asarray(source.convert("L"))
        assert np.abs(decoded.pixels[..., 0].astype(int) - expected).max() <= 1


def test_gray_picture_stored_as_rgb_is_flagged_gray(tmp_path):
    path = tmp_path / "gray_rgb.jpg"
    face_image(3).convert("L").convert("RGB").save(path, quality=75)
    assert decode_image(path).is_gray


def test_alpha_is_composited_on_white(tmp_path):
    path = tmp_path / "transparent.png"
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(path)
    assert decode_image(path).pixels[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("content", [b"", b"this is not an image", b"\xff\xd8\xff\xe0garbage"])
def test_unusable_bytes_raise_bad_image(tmp_path, content):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(BadImage) as raised:
        decode_image(path)
    assert "BytesIO" not in str(raised.value)  # the reason speaks of the file, not of PIL's in-memory buffer


def test_truncated_jpeg_raises_bad_image(tmp_path):
    path = tmp_path / "truncated.jpg"
    face_image(4).save(path, quality=95)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BadImage):
        decode_image(path)


def test_image_smaller_than_crop_raises_bad_image(tmp_path):
    path = tmp_path / "small.png"
    face_image(5, size=100).save(path)
    with pytest.raises(BadImage, match="smaller than the crop"):
        decode_image(path, crop=(61, 61, 189, 189))


def test_reduced_scale_jpeg_decoding_matches_full_decoding(tmp_path):
    path = tmp_path / "face.jpg"
    face_image(8).save(path, quality=95)
    fast = decode_image(path, crop=(61, 61, 189, 189), size=32).pixels.astype(int)
    with Image.open(path) as image:
        full = np.asarray(image.convert("RGB").crop((61, 61, 189, 189)).resize((32, 32), Image.Resampling.BILINEAR)).astype(int)
    assert np.abs(fast - full).mean() < 3.0
    # The crop stays in place: the disc center is the crop center in both.
    assert np.abs(fast[16, 16] - full[16, 16]).max() < 20
