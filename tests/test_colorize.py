"""Galleries of a colorization run: pictures in memory (intensity | colorized | original) and photo
files at their full size (gray | colorized | original, beside the colorized file itself)."""

import pytest
import torch
from PIL import Image

from proxytask import color
from proxytask.colorize import colorization_gallery, photo_gallery
from proxytask.gallery import SLIDE
from proxytask.train import pretrain
from tests.conftest import face_image, tiny_config


@pytest.fixture(scope="module")
def colorization_run(fake_lfw, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PROXYTASK_HOME", str(tmp_path_factory.mktemp("home")))
        run = tmp_path_factory.mktemp("colorize") / "run"
        pretrain(tiny_config(fake_lfw, "train.max_steps=2"), run)
    return run


def test_colorization_gallery_shows_the_pictures_colorized_on_their_own_intensity(colorization_run, tmp_path):
    torch.manual_seed(0)
    pictures = torch.rand(5, 3, 24, 24)
    colorized = colorization_gallery(colorization_run, pictures, tmp_path / "faces.png", title="downstream test faces",
                                     device=torch.device("cpu"))
    assert colorized.shape == (5, 3, 24, 24) and 0.0 <= colorized.min() and colorized.max() <= 1.0
    assert (color.intensity(colorized) - color.intensity(pictures)).abs().median() < 0.02  # chroma clipped at the RGB cube only
    with Image.open(tmp_path / "faces.png") as gallery:
        assert gallery.size[0] > gallery.size[1] and gallery.size[0] <= SLIDE[0] and gallery.size[1] <= SLIDE[1]
    shown = colorization_gallery(colorization_run, pictures, tmp_path / "two.png", max_examples=2, device=torch.device("cpu"))
    assert shown.shape[0] == 2 and (tmp_path / "two.png").is_file()


@pytest.mark.parametrize("pictures, message", [(torch.rand(2, 1, 24, 24), r"\(B, 3, H, W\)"), (torch.rand(2, 3, 24, 24) * 255, r"\[0, 1\]")])
def test_colorization_gallery_says_what_pictures_it_expects(colorization_run, tmp_path, pictures, message):
    with pytest.raises(ValueError, match=message):
        colorization_gallery(colorization_run, pictures, tmp_path / "g.png")
    with pytest.raises(ValueError, match="scale must be a positive number"):
        colorization_gallery(colorization_run, torch.rand(2, 3, 24, 24), tmp_path / "g.png", scale=0.0)


def test_photo_gallery_writes_one_figure_per_readable_photo_beside_its_full_size_colorization(colorization_run, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    face_image(1, size=200).save(photos / "color.jpg")
    face_image(2, size=90).resize((90, 60)).convert("L").save(photos / "gray.png")
    (photos / "broken.jpg").write_text("not a picture")
    inputs = [photos / "color.jpg", photos / "broken.jpg", photos / "gray.png"]
    figures, skipped = photo_gallery(colorization_run, inputs, tmp_path / "out")
    assert figures == [tmp_path / "out" / "color.png", tmp_path / "out" / "gray.png"]
    assert [path for path, _ in skipped] == [photos / "broken.jpg"]
    with Image.open(tmp_path / "out" / "colorized" / "color.png") as colorized, Image.open(figures[0]) as figure:
        assert colorized.size == (200, 200)  # colorize_files' own output, full size
        assert figure.size[0] >= 3 * 200 and figure.size[0] <= SLIDE[0] and figure.size[1] <= SLIDE[1]  # panels at full size
    with Image.open(figures[1]) as figure:
        assert figure.size[0] >= 3 * 90 * 2  # a small photo is enlarged
