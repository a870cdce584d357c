"""Centring and PCA projection of global descriptors (the descriptor track allows at most 256 dims)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Projection:
    mean: np.ndarray  # (D,)
    matrix: np.ndarray  # (D, d)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        projected = (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.matrix
        norms = np.linalg.norm(projected, axis=1, keepdims=True)
        return (projected / np.maximum(norms, 1e-12)).astype(np.float32)

    def digest(self, length: int = 10) -> str:
        """Short hash of the numbers themselves (not of a file), for version strings."""
        hasher = hashlib.sha256()
        for array in (self.mean, self.matrix):
            array = np.ascontiguousarray(array, dtype=np.float64)
            hasher.update(str(array.shape).encode())
            hasher.update(array.tobytes())
        return hasher.hexdigest()[:length]

    def save(self, path: Path) -> None:
        np.savez(path, mean=self.mean, matrix=self.matrix)

    @classmethod
    def load(cls, path: Path) -> Projection:
        with np.load(path) as data:
            return cls(mean=data["mean"], matrix=data["matrix"])


def projection_fit(vectors: np.ndarray, *, dim: int, whitening_power: float = 0.0, eps: float = 1e-6) -> Projection:
    """PCA to `dim` components; whitening_power 0 keeps the variances, 0.5 is full whitening.

    With fewer samples than dimensions the trailing eigenvalues are ~0 and whitening would blow
    them up: such components are dropped rather than scaled.
    """
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or len(data) < 2:
        raise ValueError("Fitting a projection needs at least two vectors.")
    if not 0 < dim <= data.shape[1]:
        raise ValueError(f"dim must be between 1 and {data.shape[1]}, got {dim}.")
    mean = data.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(data - mean, rowvar=False))
    order = np.argsort(eigenvalues)[::-1][:dim]
    values = np.maximum(eigenvalues[order], 0.0)
    scale = np.where(values > eps, (values + eps) ** -whitening_power, 0.0)
    return Projection(mean=mean, matrix=eigenvectors[:, order] * scale[None, :])
