"""The ViT throughput path (encoded files → vectors on the device), on CPU with a tiny real Dinov2."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from copydetect.descriptors.vit import VitDescriptor
from copydetect.descriptors.vit_batch import (
    MAX_BATCH,
    MIN_BATCH,
    batch_size_for_memory,
    encoded_decode,
    tensors_preprocess,
    torchvision_jpeg_decoder,
)
from tests.copydetect.test_descriptors import tiny_dinov2_save
from tests.images import encode, scene


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_batch_size_fills_the_memory_share_within_bounds():
    assert batch_size_for_memory(free_bytes=10 * 2**30, bytes_per_image=20 * 2**20) == 307
    assert batch_size_for_memory(free_bytes=2**20, bytes_per_image=20 * 2**20) == MIN_BATCH
    assert batch_size_for_memory(free_bytes=2**40, bytes_per_image=2**20) == MAX_BATCH
    with pytest.raises(ValueError):
        batch_size_for_memory(free_bytes=2**30, bytes_per_image=0)


def test_cpu_decoding_gives_rgb_uint8_tensors_in_order_for_jpeg_and_png():
    jpeg, png = encode(scene(1)), _png(scene(2).resize((90, 70)))
    decoded = encoded_decode([jpeg, png], device=torch.device("cpu"))
    assert [tuple(t.shape) for t in decoded] == [(3, *scene(1).size[::-1]), (3, 70, 90)]
    assert all(t.dtype == torch.uint8 for t in decoded)
    expected = np.asarray(scene(2).resize((90, 70))).transpose(2, 0, 1)
    assert np.array_equal(decoded[1].numpy(), expected), "PNG is lossless: exact pixels"


def test_preprocess_squashes_to_the_square_and_standardises():
    image = torch.full((3, 40, 60), 255, dtype=torch.uint8)
    pixels = tensors_preprocess([image], side=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    assert pixels.shape == (1, 3, 32, 32)
    assert torch.allclose(pixels, torch.ones_like(pixels))


def test_encoded_path_agrees_with_the_pillow_path(tmp_path):
    tiny_dinov2_save(tmp_path)
    descriptor = VitDescriptor(model=str(tmp_path), device="cpu")
    images = [scene(seed) for seed in range(5)]
    blobs = [encode(image, quality=95) for image in images]
    decoded = [Image.open(io.BytesIO(blob)) for blob in blobs]
    reference = descriptor.embed(decoded)
    fast = descriptor.embed_encoded(blobs, batch_size=2)
    assert fast.shape == reference.shape
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(fast * reference, axis=1)
    # Bicubic with antialiasing on tensors vs Pillow's bicubic: the same picture, a slightly different resampler.
    assert cosines.min() > 0.99, cosines


def test_gpu_decoder_is_absent_or_callable():
    decoder = torchvision_jpeg_decoder()
    assert decoder is None or callable(decoder)
