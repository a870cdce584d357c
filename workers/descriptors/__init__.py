"""Global descriptor engines: images → unit vectors + a version string. Django-free by design."""
from __future__ import annotations

from workers.descriptors.base import Descriptor

DESCRIPTOR_NAMES = ("sscd", "sscd_distilled", "vit")

__all__ = ["DESCRIPTOR_NAMES", "Descriptor", "descriptor_build"]


def descriptor_build(
    *,
    name: str,
    vit_model: str | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> Descriptor:
    """The descriptor called `name`; heavy imports (onnxruntime, torch) happen only for the one asked for."""
    if name in ("sscd", "sscd_distilled"):
        from workers.descriptors.sscd import SscdDescriptor

        return SscdDescriptor(name=name, threads=threads)
    if name == "vit":
        from workers.descriptors.vit import SETUP_HINT, VitDescriptor

        if not vit_model:
            raise ValueError(f"The 'vit' descriptor needs a model directory or hub id (vit_model). {SETUP_HINT}")
        return VitDescriptor(model=vit_model, device=device, threads=threads)
    raise ValueError(f"Unknown descriptor {name!r}; choose one of {', '.join(DESCRIPTOR_NAMES)}.")
