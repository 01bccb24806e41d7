"""Reading real pictures (issue #14 items 2, 3, 4, 7): EXIF orientation, thin strokes on large
canvases, 16-bit and float images, decompression bombs. Each test failed before its fix."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from convgrad.data import ImageError, load_digit, read_image
from convgrad.data import images as images_module


def _seven(size, width):
    """A '7' drawn in black with a ``width``-pixel pen on a white ``size`` x ``size`` canvas."""
    img = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(img)
    m = size // 5
    d.line([(m, m), (size - m, m), (size // 2 - m // 2, size - m)], fill=0, width=width)
    return img


def test_exif_orientation_is_applied(tmp_path):
    # a tall bar stored sideways: the pixels are 60 wide x 20 high, Orientation=6 says "rotate 90"
    stored = np.zeros((20, 60), np.uint8)
    stored[:, :10] = 255  # bright block at the stored left edge
    img = Image.fromarray(stored)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif, quality=95)
    got = read_image(path, channels=1)
    assert got.shape == (60, 20)  # displayed upright: 20 wide, 60 high
    # Orientation 6 = rotate 90 degrees clockwise for display: the stored left edge becomes the top
    assert got[:10].mean() > 200 and got[-10:].mean() < 50


def test_exif_orientation_in_load_digit(tmp_path):
    # a '7' stored rotated by 90 degrees counter-clockwise, tagged Orientation=6: must read as the 7
    seven = _seven(200, 12)
    upright = load_digit(_save(seven, tmp_path / "upright.png"))
    stored = seven.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "tagged.jpg"
    stored.save(path, exif=exif, quality=95)
    got = load_digit(path)
    assert np.corrcoef(got.ravel().astype(float), upright.ravel().astype(float))[0, 1] > 0.8


def _save(img, path):
    img.save(path)
    return path


def test_thin_strokes_on_large_canvas_keep_full_contrast(tmp_path):
    # issue #14 item 3: a 3-pixel pen on 500x500 became a 28x28 digit peaking at 70/255
    digit = load_digit(_save(_seven(500, 3), tmp_path / "thin.png"))
    assert digit.max() == 255
    assert (digit > 128).sum() >= 25  # the stroke stays a visible line, not a faint trace


def test_thin_strokes_match_thick_strokes_layout(tmp_path):
    thin = load_digit(_save(_seven(500, 3), tmp_path / "thin.png")).astype(float)
    thick = load_digit(_save(_seven(100, 6), tmp_path / "thick.png")).astype(float)
    assert np.corrcoef(thin.ravel(), thick.ravel())[0, 1] > 0.6


@pytest.mark.parametrize("ext", ["png", "tiff"])
def test_16_bit_images_scaled_by_their_range(tmp_path, ext):
    # a 12-bit scan: values 0..4000 in a 16-bit file; convert("L") clipped everything >255 to 255
    ramp = np.tile(np.linspace(0, 4000, 64), (16, 1)).astype(np.uint16)
    path = tmp_path / f"scan.{ext}"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    got = read_image(path, channels=1)
    assert got.min() == 0 and got.max() == 255
    assert len(np.unique(np.round(got))) > 40  # a ramp, not two levels
    assert np.all(np.diff(got[0]) >= 0)


def test_float_tiff_scaled_by_its_range(tmp_path):
    ramp = np.tile(np.linspace(-3.0, 5.0, 50), (10, 1)).astype(np.float32)
    path = tmp_path / "float.tiff"
    Image.fromarray(ramp, mode="F").save(path)
    got = read_image(path, channels=1)
    np.testing.assert_allclose(got[0], (ramp[0] + 3) / 8 * 255, atol=0.5)


def test_16_bit_digit_reads_like_8_bit(tmp_path):
    seven = np.asarray(_seven(120, 8), dtype=np.float64)
    Image.fromarray((seven / 255 * 60000).astype(np.uint16)).save(tmp_path / "seven16.png")
    Image.fromarray(seven.astype(np.uint8)).save(tmp_path / "seven8.png")
    a = load_digit(tmp_path / "seven16.png").astype(int)
    b = load_digit(tmp_path / "seven8.png").astype(int)
    assert np.abs(a - b).max() <= 3


def test_decompression_bomb_is_one_line_error_before_decoding(tmp_path, monkeypatch):
    # a 20000 x 20000 PNG of one colour is ~48 KB on disk; Pillow raised DecompressionBombError
    path = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(path)
    assert path.stat().st_size < 200_000
    with pytest.raises(ImageError) as info:
        load_digit(path)
    message = str(info.value)
    assert "20000x20000" in message and "\n" not in message
    with pytest.raises(ImageError, match="20000x20000"):
        read_image(path)


def test_pixel_limit_checked_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (300, 200), 255).save(path)
    monkeypatch.setattr(images_module, "MAX_IMAGE_PIXELS", 50_000)
    decoded = []
    original = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1) or original(self))
    with pytest.raises(ImageError, match=r"300x200 .*60,000 pixels.* limit of 50,000"):
        read_image(path)
    assert not decoded
