import io
import zlib

import pytest
from PIL import Image

from copydetect.imaging import ImageRejected, image_inspect, image_load
from tests.images import encode, scene

LIMIT = 10_000_000


def test_a_jpeg_is_inspected_with_its_size_and_hash():
    data = encode(scene(1))
    facts = image_inspect(data, max_pixels=LIMIT)
    assert (facts.width, facts.height, facts.format, facts.extension) == (480, 360, "JPEG", "jpg")
    assert len(facts.sha256) == 64


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"%PDF-1.4 this is not a picture", "not an image"),
        (b"GIF89a\x01\x00", "not an image"),
    ],
)
def test_non_images_are_rejected_with_a_reason(data, message):
    with pytest.raises(ImageRejected, match=message):
        image_inspect(data, max_pixels=LIMIT)


def test_a_truncated_jpeg_is_rejected():
    data = encode(scene(2))
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        image_inspect(data[: len(data) // 2], max_pixels=LIMIT)


def test_a_png_with_a_corrupt_body_is_rejected():
    data = bytearray(encode(scene(3), "PNG"))
    middle = len(data) // 2
    data[middle : middle + 64] = b"\x00" * 64
    with pytest.raises(ImageRejected):
        image_inspect(bytes(data), max_pixels=LIMIT)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge canvas: the classic decompression bomb."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def test_a_decompression_bomb_is_rejected_before_decoding():
    with pytest.raises(ImageRejected, match="decompression bomb"):
        image_inspect(_png_header_only(50_000, 50_000), max_pixels=LIMIT)


def test_tiny_images_are_rejected():
    with pytest.raises(ImageRejected, match="too small"):
        image_inspect(encode(Image.new("RGB", (4, 4)), "PNG"), max_pixels=LIMIT)


def test_exif_orientation_is_applied_and_output_is_rgb():
    image = scene(4).convert("L")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90° clockwise
    data = encode(image, "JPEG", exif=exif.tobytes())
    loaded = image_load(io.BytesIO(data), max_pixels=LIMIT)
    assert loaded.mode == "RGB"
    assert loaded.size == (360, 480)
