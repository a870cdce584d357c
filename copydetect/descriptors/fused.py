"""SSCD and a ViT side by side: each embedded, optionally projected, weighted, concatenated, L2-normalised.

With unit-length parts scaled by sqrt(w_i / Σw), the fused inner product is the weighted mean of the
parts' cosine similarities: cos_fused = Σ w_i · cos_i / Σ w_i. So a weight is "how much this model's
similarity counts", independent of the parts' dimensions.

A projection (workers/projection.py) is fitted per part on a background set of that part's vectors:
centring (PCA to the full dimension, no whitening: a rotation after subtracting the mean) or
PCA-whitening. It removes what every image shares, which matters for the untrained DINOv2 CLS token
(unrelated images at ~0.8 cosine). A fusion directory holds:

- `fusion.json`: {"weights": {"sscd": 1.0, "vit": 0.5}, "projections": {"sscd": "sscd.npz", ...},
  "fitted_on": "..."}; every key optional;
- the `.npz` projections it names.

The version joins both parts' versions, the weights and each projection's digest: any change is a
new vector-store collection, i.e. a reindex.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from copydetect.descriptors.base import Descriptor, version_join
from copydetect.projection import Projection, projection_fit

FUSION_CONFIG_FILE = "fusion.json"
# Picked on bench/seed1 with the *untrained* DINOv2-S/14 backbone (CLS), raw parts, full view: every ViT
# weight tried (0.05–2) scored below SSCD alone (µAP falls monotonically as the weight grows); 0.25 is the
# largest weight that costs little (−0.01 µAP). Refit with `fusion_fit --vit-weight` once a trained ViT ships.
DEFAULT_WEIGHTS: Mapping[str, float] = {"sscd": 1.0, "vit": 0.25}


@dataclass(frozen=True)
class FusionComponent:
    descriptor: Descriptor
    weight: float = 1.0
    projection: Projection | None = None

    @property
    def dim(self) -> int:
        return self.projection.dim if self.projection is not None else self.descriptor.dim

    @property
    def tag(self) -> str:
        projection = f"p{self.projection.digest()}" if self.projection is not None else "raw"
        return f"{self.descriptor.version}_w{self.weight:g}_{projection}"


@dataclass(frozen=True)
class FusionConfig:
    weights: dict[str, float] = field(default_factory=dict)
    projections: dict[str, Path] = field(default_factory=dict)


class FusedDescriptor(Descriptor):
    name = "fused"

    def __init__(self, components: Sequence[FusionComponent]):
        if not components:
            raise ValueError("A fused descriptor needs at least one component.")
        for component in components:
            if not (math.isfinite(component.weight) and component.weight > 0):
                raise ValueError(f"{component.descriptor.name}: weight must be positive, got {component.weight}.")
            projection = component.projection
            if projection is not None and projection.mean.shape != (component.descriptor.dim,):
                raise ValueError(
                    f"{component.descriptor.name}: projection expects {projection.mean.shape[0]}-d vectors, "
                    f"the descriptor makes {component.descriptor.dim}-d ones."
                )
        self.components = tuple(components)
        total = sum(component.weight for component in self.components)
        self._scales = [math.sqrt(component.weight / total) for component in self.components]
        self.dim = sum(component.dim for component in self.components)
        self.version = version_join("fused", *(component.tag for component in self.components))

    def _embed_batch(self, images: Sequence[Image.Image]) -> np.ndarray:
        parts = []
        for component, scale in zip(self.components, self._scales):
            vectors = component.descriptor.embed(images, batch_size=max(len(images), 1))
            if component.projection is not None:
                vectors = component.projection.apply(vectors)
            parts.append(vectors * np.float32(scale))
        return np.concatenate(parts, axis=1)


def fusion_config_read(directory: Path | str | None) -> FusionConfig:
    """The fusion directory's settings; none (raw parts, default weights) when it does not exist."""
    path = Path(directory) / FUSION_CONFIG_FILE if directory else None
    if path is None or not path.is_file():
        return FusionConfig()
    raw = json.loads(path.read_text())
    unknown = set(raw) - {"weights", "projections", "fitted_on"}
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}.")
    projections = {name: path.parent / file for name, file in (raw.get("projections") or {}).items()}
    for name, projection_path in projections.items():
        if not projection_path.is_file():
            raise ValueError(f"{path}: the projection for {name!r} ({projection_path}) does not exist.")
    return FusionConfig(weights={k: float(v) for k, v in (raw.get("weights") or {}).items()}, projections=projections)


def fused_from_config(parts: Sequence[Descriptor], config: FusionConfig) -> FusedDescriptor:
    names = {part.name for part in parts}
    unknown = (set(config.weights) | set(config.projections)) - names
    if unknown:
        raise ValueError(f"Fusion settings name {sorted(unknown)}, but the parts are {sorted(names)}.")
    return FusedDescriptor(
        [
            FusionComponent(
                descriptor=part,
                weight=config.weights.get(part.name, DEFAULT_WEIGHTS.get(part.name, 1.0)),
                projection=Projection.load(config.projections[part.name]) if part.name in config.projections else None,
            )
            for part in parts
        ]
    )


def fusion_projections_fit(
    vectors_by_part: Mapping[str, np.ndarray], *, whitening_power: float = 0.0, dims: Mapping[str, int] | None = None
) -> dict[str, Projection]:
    """One projection per part from its background vectors.

    whitening_power 0 without a dimension for the part is plain centring (subtract the background mean,
    keep every direction: PCA would drop those the background does not span, fewer images than dims);
    otherwise PCA to dims[name] (default: all) with that whitening.
    """
    dims = dims or {}
    projections = {}
    for name, vectors in vectors_by_part.items():
        vectors = np.asarray(vectors, dtype=np.float64)
        if whitening_power == 0 and name not in dims:
            projections[name] = projection_centring(vectors)
        else:
            dim = min(dims.get(name, vectors.shape[1]), vectors.shape[1])
            projections[name] = projection_fit(vectors, dim=dim, whitening_power=whitening_power)
    return projections


def projection_centring(vectors: np.ndarray) -> Projection:
    if len(vectors) < 2:
        raise ValueError("Fitting a projection needs at least two vectors.")
    return Projection(mean=vectors.mean(axis=0), matrix=np.eye(vectors.shape[1]))


def fusion_save(
    directory: Path, *, weights: Mapping[str, float], projections: Mapping[str, Projection], fitted_on: str = ""
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, projection in projections.items():
        files[name] = f"{name}.npz"
        projection.save(directory / files[name])
    config = {"weights": dict(weights), "projections": files, "fitted_on": fitted_on}
    (directory / FUSION_CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    return directory
