import hashlib

import numpy as np
import pytest
from PIL import Image
from threatexchange.signal_type.pdq.signal import PdqSignal

from copydetect.imaging import image_decode
from copydetect.signals import (
    DIHEDRAL_NAMES,
    PDQ_MIN_QUALITY,
    ImageSignals,
    image_signals_compute,
    pdq_distance,
)
from tests.images import encode, scene

LIMIT = 10_000_000


def _signals_of(data: bytes, *, dihedral: bool = False) -> ImageSignals:
    return image_signals_compute(image=image_decode(data, max_pixels=LIMIT).image, data=data, dihedral=dihedral)


def test_pdq_and_md5_are_plain_values_of_the_picture_and_the_bytes():
    data = encode(scene(1))
    signals = _signals_of(data)
    assert len(signals.pdq) == 64 and int(signals.pdq, 16) >= 0 and signals.pdq == signals.pdq.lower()
    assert signals.md5 == hashlib.md5(data).hexdigest()
    assert signals.pdq_quality == 100 and signals.pdq_usable
    assert signals.pdq_dihedral == ()
    with pytest.raises(AttributeError):
        signals.pdq = "0" * 64  # frozen


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_hash_equals_threatexchanges_for_the_same_file(seed):
    data = encode(scene(seed))
    assert _signals_of(data).pdq == PdqSignal.hash_from_bytes(data)


def test_identical_pictures_have_distance_zero_and_different_bytes_different_md5():
    picture = scene(5)
    as_png, as_bmp = encode(picture, "PNG"), encode(picture, "BMP")
    first, second = _signals_of(as_png), _signals_of(as_bmp)
    assert pdq_distance(first.pdq, second.pdq) == 0
    assert first.md5 != second.md5


@pytest.mark.parametrize("seed", range(6, 14))
def test_a_reencoded_jpeg_stays_close_and_an_unrelated_picture_is_far(seed):
    picture = scene(seed)
    original = _signals_of(encode(picture, "PNG"))
    reencoded = _signals_of(encode(picture.resize((360, 270)), "JPEG", quality=60))
    unrelated = _signals_of(encode(scene(seed + 100), "PNG"))
    assert pdq_distance(original.pdq, reencoded.pdq) <= 16
    assert pdq_distance(original.pdq, unrelated.pdq) >= 80
    assert original.md5 != reencoded.md5


@pytest.mark.parametrize("seed", range(20, 26))
def test_a_colour_shift_stays_within_the_match_radius_but_a_small_crop_leaves_it(seed):
    # Why banks add reach and not accuracy: PDQ follows the whole frame, so cropping 4 % per side
    # already moves it past HMA's radius of 31 on these pictures, where SSCD still matches.
    picture = scene(seed)
    width, height = picture.size
    shifted = Image.fromarray(np.clip(np.asarray(picture, dtype=np.int16) + (25, -10, 5), 0, 255).astype(np.uint8))
    cropped = picture.crop((width // 25, height // 25, width - width // 25, height - height // 25))
    original = image_signals_compute(image=picture).pdq
    assert pdq_distance(original, image_signals_compute(image=shifted).pdq) <= 8
    assert pdq_distance(original, image_signals_compute(image=cropped).pdq) > 31


@pytest.mark.parametrize(
    "transform",
    [
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.ROTATE_270,
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.FLIP_TOP_BOTTOM,
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
    ],
)
def test_a_rotated_or_mirrored_copy_matches_one_dihedral_variant(transform):
    picture = scene(30)
    original = _signals_of(encode(picture, "PNG"), dihedral=True)
    turned = _signals_of(encode(picture.transpose(transform), "PNG"))
    assert len(original.pdq_dihedral) == len(DIHEDRAL_NAMES) == 8
    assert original.pdq_dihedral[0] == original.pdq
    # Far from the plain hash, near one variant (the odd transforms are approximate, see the module).
    assert pdq_distance(original.pdq, turned.pdq) > 60
    assert min(pdq_distance(variant, turned.pdq) for variant in original.pdq_dihedral) <= 31


def test_a_flat_picture_has_low_quality_and_is_not_usable():
    flat = Image.new("RGB", (200, 200), (120, 130, 140))
    signals = image_signals_compute(image=flat)
    assert signals.pdq_quality < PDQ_MIN_QUALITY and not signals.pdq_usable
    assert signals.md5 is None


def test_greyscale_arrays_and_images_hash_like_their_rgb_version():
    grey = scene(40).convert("L")
    rgb = grey.convert("RGB")
    from_array = image_signals_compute(image=np.asarray(grey))
    from_image = image_signals_compute(image=grey)
    from_rgb = image_signals_compute(image=rgb)
    assert from_array.pdq == from_image.pdq == from_rgb.pdq


def test_an_array_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="RGB or greyscale"):
        image_signals_compute(image=np.zeros((10, 10, 2), dtype=np.uint8))


def test_pdq_distance_counts_differing_bits():
    zero, one_bit, all_ones = "0" * 64, "0" * 63 + "1", "f" * 64
    assert pdq_distance(zero, zero) == 0
    assert pdq_distance(zero, one_bit) == 1
    assert pdq_distance(zero, all_ones) == 256
