"""Any transformers Vision Transformer as a global descriptor (CLS or GeM pooling, optional projection).

A model directory holds a `save_pretrained` checkpoint and may add:
- `preprocessor_config.json`: loaded with AutoImageProcessor (else ImageNet normalisation, squashed square);
- `descriptor.json`: {"pooling": "cls" | "gem", "image_size": int, "version": str (optional)};
- `projection.safetensors`: `weight` [out_dim, hidden] and `bias` [out_dim], applied after pooling.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import AutoImageProcessor, AutoModel, BaseImageProcessor

from copydetect.descriptors.base import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    Descriptor,
    files_digest,
    images_to_normalised_nchw,
    text_digest,
    version_join,
)
from copydetect.descriptors.vit_batch import encoded_embed

POOLINGS = ("cls", "gem")
GEM_POWER = 3.0
DEFAULT_IMAGE_SIZE = 224
DESCRIPTOR_CONFIG_FILE = "descriptor.json"
PROJECTION_FILE = "projection.safetensors"
PREPROCESSOR_CONFIG_FILE = "preprocessor_config.json"
IMAGE_BACKEND = "pil"
_VERSIONED_FILE_NAMES = ("config.json", PREPROCESSOR_CONFIG_FILE, DESCRIPTOR_CONFIG_FILE)
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
SETUP_HINT = (
    "Run `python manage.py setup_vit` to export the DINOv2 ViT-S/14 backbone (or train a model), "
    "then point ISC_VIT_MODEL at that directory."
)


@dataclass(frozen=True)
class DescriptorConfig:
    """The optional `descriptor.json` of a model directory."""

    pooling: str = "cls"
    image_size: int | None = None
    version: str | None = None


def descriptor_config_read(model_dir: Path | None) -> DescriptorConfig:
    path = model_dir / DESCRIPTOR_CONFIG_FILE if model_dir else None
    if path is None or not path.is_file():
        return DescriptorConfig()
    raw = json.loads(path.read_text())
    image_size = raw.get("image_size")
    return DescriptorConfig(
        pooling=raw.get("pooling", "cls"),
        image_size=int(image_size) if image_size is not None else None,
        version=raw.get("version"),
    )


def device_resolve(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def tokens_pool(hidden: torch.Tensor, *, pooling: str, prefix_tokens: int) -> torch.Tensor:
    """(N, tokens, hidden) → (N, hidden). `prefix_tokens` = CLS + register tokens before the patches."""
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "gem":
        patches = hidden[:, prefix_tokens:].float()
        return patches.clamp(min=1e-6).pow(GEM_POWER).mean(dim=1).pow(1.0 / GEM_POWER)
    raise ValueError(f"Unknown pooling {pooling!r}; choose one of {', '.join(POOLINGS)}.")


def projection_load(path: Path, *, hidden_size: int) -> torch.nn.Linear:
    tensors = load_file(str(path))
    weight, bias = tensors["weight"], tensors["bias"]
    out_dim, in_dim = weight.shape
    if in_dim != hidden_size or bias.shape != (out_dim,):
        raise ValueError(
            f"{path}: projection weight {tuple(weight.shape)} / bias {tuple(bias.shape)} "
            f"do not fit the model's hidden size {hidden_size}."
        )
    projection = torch.nn.Linear(in_dim, out_dim)
    with torch.no_grad():
        projection.weight.copy_(weight.float())
        projection.bias.copy_(bias.float())
    return projection.eval()


def vit_model_dir(model: str) -> Path | None:
    """The local directory `model` names, None for a hub id; ValueError when it is neither."""
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    if _HUB_ID.match(model) and not path.exists():
        return None
    raise ValueError(f"ViT model directory {model!r} does not exist. {SETUP_HINT}")


class VitDescriptor(Descriptor):
    name = "vit"

    def __init__(
        self,
        *,
        model: str,
        pooling: str | None = None,
        device: str = "auto",
        threads: int | None = None,
    ):
        model_dir = vit_model_dir(model)
        config = descriptor_config_read(model_dir)
        self.pooling = pooling or config.pooling
        if self.pooling not in POOLINGS:
            raise ValueError(f"Unknown pooling {self.pooling!r}; choose one of {', '.join(POOLINGS)}.")
        if threads is not None:
            torch.set_num_threads(threads)
        self._device = device_resolve(device)
        self._model = _backbone_load(model, local=model_dir is not None).to(self._device)
        hidden_size = int(self._model.config.hidden_size)
        self._projection = _projection_optional(model_dir, hidden_size=hidden_size, device=self._device)
        self.dim = self._projection.out_features if self._projection else hidden_size
        self._prefix_tokens = 1 + int(getattr(self._model.config, "num_register_tokens", 0) or 0)
        self._processor = _processor_load(model, model_dir)
        self._image_size = config.image_size or (None if self._processor else DEFAULT_IMAGE_SIZE)
        self._forward_kwargs = _forward_kwargs(self._model)
        self.version = self._version(model, model_dir, config)

    def _version(self, model: str, model_dir: Path | None, config: DescriptorConfig) -> str:
        if model_dir is None:
            identity = [model, text_digest(model)]
        else:
            identity = [config.version or model_dir.name, files_digest(_versioned_files(model_dir))]
        size_tag = f"{self._image_size}px" if self._image_size else "proc"
        return version_join("vit", *identity, self.pooling, size_tag)

    def _embed_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.pixels_forward(self._pixels(images).to(self._device))

    def pixels_forward(self, pixels: torch.Tensor) -> np.ndarray:
        """Raw features of normalised pixels already on the device (fp16 autocast on CUDA)."""
        with torch.inference_mode(), self._autocast():
            hidden = self._model(pixel_values=pixels, **self._forward_kwargs).last_hidden_state
            pooled = tokens_pool(hidden, pooling=self.pooling, prefix_tokens=self._prefix_tokens)
            if self._projection is not None:
                pooled = self._projection(pooled)
        return pooled.float().cpu().numpy()

    def embed_encoded(self, blobs: Sequence[bytes], *, batch_size: int | None = None) -> np.ndarray:
        """Unit vectors straight from encoded files (the throughput path, see vit_batch): decoded on
        the GPU where possible, squashed to the model's square side; batch size from free memory."""
        mean, std = self.normalisation
        return encoded_embed(
            blobs,
            forward=self.pixels_forward,
            side=self.square_side,
            device=self._device,
            mean=mean,
            std=std,
            batch_size=batch_size,
        )

    @property
    def square_side(self) -> int:
        if self._image_size:
            return self._image_size
        size = getattr(self._processor, "crop_size", None) or getattr(self._processor, "size", None) or {}
        return int(size.get("height") or size.get("shortest_edge") or DEFAULT_IMAGE_SIZE)

    @property
    def normalisation(self) -> tuple[Sequence[float], Sequence[float]]:
        if self._processor is None:
            return IMAGENET_MEAN, IMAGENET_STD
        return tuple(self._processor.image_mean), tuple(self._processor.image_std)

    @property
    def device(self) -> torch.device:
        return self._device

    def _pixels(self, images: Sequence[Image.Image]) -> torch.Tensor:
        if self._processor is None:
            return torch.from_numpy(images_to_normalised_nchw(images, self._image_size or DEFAULT_IMAGE_SIZE))
        overrides = {}
        if self._image_size:
            # descriptor.json fixes the input side; a square squash keeps content a centre crop would lose.
            side = {"height": self._image_size, "width": self._image_size}
            overrides = {"size": side, "crop_size": side, "do_center_crop": False}
        return self._processor(images=list(images), return_tensors="pt", **overrides)["pixel_values"]

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self._device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()


def _backbone_load(model: str, *, local: bool) -> torch.nn.Module:
    try:
        # fp32 master weights whatever the checkpoint stores; CUDA gets fp16 through autocast.
        loaded = AutoModel.from_pretrained(model, local_files_only=local, dtype=torch.float32)
    except OSError as exc:
        raise ValueError(f"Could not load the ViT model {model!r} ({exc}). {SETUP_HINT}") from exc
    return loaded.eval()


def _projection_optional(model_dir: Path | None, *, hidden_size: int, device: torch.device) -> torch.nn.Linear | None:
    path = model_dir / PROJECTION_FILE if model_dir else None
    if path is None or not path.is_file():
        return None
    return projection_load(path, hidden_size=hidden_size).to(device)


def _processor_load(model: str, model_dir: Path | None) -> BaseImageProcessor | None:
    if model_dir is not None and not (model_dir / PREPROCESSOR_CONFIG_FILE).is_file():
        return None
    try:
        # The PIL backend everywhere: the torchvision one resizes slightly differently, and vectors
        # made on a GPU machine must match those made on a CPU worker under the same version.
        return AutoImageProcessor.from_pretrained(model, local_files_only=model_dir is not None, backend=IMAGE_BACKEND)
    except OSError:
        return None


def _forward_kwargs(model: torch.nn.Module) -> dict[str, bool]:
    # ViTModel refuses inputs whose size differs from its config unless asked to interpolate;
    # Dinov2Model always interpolates and has no such argument.
    if "interpolate_pos_encoding" in inspect.signature(model.forward).parameters:
        return {"interpolate_pos_encoding": True}
    return {}


def _versioned_files(model_dir: Path) -> list[Path]:
    return sorted(
        path
        for path in model_dir.iterdir()
        if path.is_file() and (path.name in _VERSIONED_FILE_NAMES or path.suffix in _WEIGHT_SUFFIXES)
    )
