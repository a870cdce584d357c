"""Global descriptor engines: images → unit vectors + a version string. Django-free by design."""

from __future__ import annotations

from copydetect.descriptors.base import Descriptor

DESCRIPTOR_NAMES = ("sscd", "sscd_distilled", "vit", "fused")
VIT_DESCRIPTOR_NAMES = ("vit", "fused")  # the ones that load a ViT model

__all__ = ["DESCRIPTOR_NAMES", "VIT_DESCRIPTOR_NAMES", "Descriptor", "descriptor_build"]


def descriptor_build(
    *,
    name: str,
    vit_model: str | None = None,
    fusion_dir: str | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> Descriptor:
    """The descriptor called `name`; heavy imports (onnxruntime, torch) happen only for the one asked for.

    'fused' = SSCD + the ViT `vit_model`, with the weights and projections found in `fusion_dir`
    (raw parts and default weights when it is None or does not exist).
    """
    if name in ("sscd", "sscd_distilled"):
        from copydetect.descriptors.sscd import SscdDescriptor

        return SscdDescriptor(name=name, threads=threads)
    if name == "vit":
        from copydetect.descriptors.vit import SETUP_HINT, VitDescriptor

        if not vit_model:
            raise ValueError(f"The 'vit' descriptor needs a model directory or hub id (vit_model). {SETUP_HINT}")
        return VitDescriptor(model=vit_model, device=device, threads=threads)
    if name == "fused":
        from copydetect.descriptors.fused import fused_from_config, fusion_config_read

        config = fusion_config_read(fusion_dir)  # read first: a bad fusion dir fails before loading models
        parts = [
            descriptor_build(name="sscd", threads=threads),
            descriptor_build(name="vit", vit_model=vit_model, device=device, threads=threads),
        ]
        return fused_from_config(parts, config)
    raise ValueError(f"Unknown descriptor {name!r}; choose one of {', '.join(DESCRIPTOR_NAMES)}.")
