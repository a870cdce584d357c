"""Every image mode we accept decodes to the picture a viewer would see, not Pillow's clipped default."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from copydetect.imaging import image_inspect, image_load
from tests.images import scene

LIMIT = 10_000_000


def _decoded(data: bytes) -> np.ndarray:
    image_inspect(data, max_pixels=LIMIT)  # accepted at upload
    image = image_load(io.BytesIO(data), max_pixels=LIMIT)
    assert image.mode == "RGB"
    return np.asarray(image, dtype=np.float64)


def _grey_ramp() -> np.ndarray:
    """An 8-bit picture with structure: a ramp plus the luminance of a scene."""
    return np.asarray(scene(11).convert("L"), dtype=np.uint8)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _mean_error(decoded: np.ndarray, expected: np.ndarray) -> float:
    if expected.ndim == 2:
        expected = np.repeat(expected[..., None], 3, axis=2)
    return float(np.abs(decoded - expected.astype(np.float64)).mean())


def test_a_16_bit_greyscale_png_keeps_its_tones_instead_of_turning_white():
    grey = _grey_ramp()
    sixteen = grey.astype(np.uint16) * 257  # the same picture at 16 bits
    image = Image.fromarray(sixteen)
    assert image.mode == "I;16"
    decoded = _decoded(_png(image))
    assert _mean_error(decoded, grey) < 1.0
    assert decoded.mean() < 250, "not the near-white picture Pillow's convert('RGB') gives"


def test_a_48_bit_rgb_png_decodes_to_its_8_bit_colours():
    rgb = np.asarray(scene(12), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)
    assert ok
    assert _mean_error(_decoded(encoded.tobytes()), rgb) < 1.0


def test_a_32_bit_integer_greyscale_image_is_read_as_16_bit_range():
    grey = _grey_ramp()
    image = Image.fromarray(grey.astype(np.int32) * 257, "I")
    buffer = io.BytesIO()
    image.save(buffer, "TIFF")
    assert _mean_error(_decoded(buffer.getvalue()), grey) < 1.0


@pytest.mark.parametrize("scale", [1.0 / 255.0, 1.0])
def test_a_float_greyscale_tiff_is_read_in_0_1_or_0_255(scale):
    grey = _grey_ramp()
    image = Image.fromarray(grey.astype(np.float32) * np.float32(scale), "F")
    buffer = io.BytesIO()
    image.save(buffer, "TIFF")
    assert _mean_error(_decoded(buffer.getvalue()), grey) < 1.0


def test_a_palette_png_with_transparency_shows_its_transparent_part_as_white():
    rgb = scene(13).quantize(colors=64)
    palette = rgb.copy()
    pixels = np.asarray(palette).copy()
    pixels[:, : pixels.shape[1] // 2] = 0  # left half uses palette index 0, made transparent
    palette = Image.fromarray(pixels, "P")
    palette.putpalette(rgb.getpalette())
    palette.info["transparency"] = 0
    buffer = io.BytesIO()
    palette.save(buffer, "PNG", transparency=0)
    decoded = _decoded(buffer.getvalue())
    left, right = decoded[:, : pixels.shape[1] // 2], decoded[:, pixels.shape[1] // 2 :]
    assert left.min() == 255, "transparent pixels over white"
    expected_right = np.asarray(palette.convert("RGB"), dtype=np.float64)[:, pixels.shape[1] // 2 :]
    assert np.abs(right - expected_right).mean() < 1.0


def test_a_greyscale_image_with_alpha_is_composited_over_white():
    grey = _grey_ramp()
    alpha = np.full_like(grey, 255)
    alpha[:40] = 0
    decoded = _decoded(_png(Image.fromarray(np.dstack([grey, alpha]), "LA")))
    assert decoded[:40].min() == 255
    assert _mean_error(decoded[40:], grey[40:]) < 1.0


def test_a_cmyk_jpeg_decodes_to_its_colours():
    rgb = scene(14)
    buffer = io.BytesIO()
    rgb.convert("CMYK").save(buffer, "JPEG", quality=95)
    assert Image.open(io.BytesIO(buffer.getvalue())).mode == "CMYK"
    expected = np.asarray(rgb.convert("CMYK").convert("RGB"), dtype=np.float64)
    assert _mean_error(_decoded(buffer.getvalue()), expected) < 4.0


def test_an_opaque_rgb_image_is_unchanged():
    rgb = scene(15)
    assert _mean_error(_decoded(_png(rgb)), np.asarray(rgb)) == 0.0
