"""Region candidates: a second source of candidates that does not rely on the whole query's descriptor.

A copy pasted small onto another photo or shown inside a screenshot fills a fraction of the query, so
the global descriptor (and the fixed crops of `query_views`) mostly describe the surroundings. The
query's own local features show where the texture is: keypoints are clustered by position (k-means
for k = 2 and 3), each cluster's core (5th to 95th percentile) becomes a box, and each box is cropped
and embedded with the global descriptor. Its nearest references join the global candidates before
verification (`pipeline.query_search`), with their region similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from copydetect.verification import LocalFeatures

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 as fractions of width and height


@dataclass(frozen=True)
class RegionSettings:
    cluster_counts: tuple[int, ...] = (2, 3)
    min_keypoints: int = 25  # per cluster: fewer do not describe a region
    margin: float = 0.1  # boxes grow by this fraction of their size on each side
    min_area: float = 0.03  # tiny boxes embed badly at 288 px
    max_area: float = 0.6  # larger ones repeat the full view and the fixed crops
    max_overlap: float = 0.6  # IoU above which two boxes count as one
    max_regions: int = 4
    top_k: int = 5  # nearest references kept per region

    @property
    def cache_tag(self) -> str:
        return (
            f"k{'-'.join(map(str, self.cluster_counts))}-n{self.min_keypoints}-m{self.margin}-a{self.min_area}"
            f"-{self.max_area}-o{self.max_overlap}-r{self.max_regions}"
        )


def region_boxes(features: LocalFeatures, settings: RegionSettings = RegionSettings()) -> list[Box]:
    """Up to `max_regions` boxes around clusters of the (unmirrored) query keypoints, largest clusters first."""
    points = np.asarray(features.keypoints, dtype=np.float64)
    if len(points) < 2 * settings.min_keypoints:
        return []
    # Cluster in a frame with the image's aspect ratio, so distances mean the same along both axes.
    aspect = np.array([features.width, features.height], dtype=np.float64) / max(features.width, features.height, 1)
    scaled = points * aspect
    proposals: list[tuple[int, Box]] = []
    for count in settings.cluster_counts:
        labels = kmeans_labels(scaled, count)
        for label in range(count):
            members = points[labels == label]
            if len(members) < settings.min_keypoints:
                continue
            low, high = np.percentile(members, 5, axis=0), np.percentile(members, 95, axis=0)
            grow = (high - low) * settings.margin
            x1, y1 = np.clip(low - grow, 0.0, 1.0)
            x2, y2 = np.clip(high + grow, 0.0, 1.0)
            area = (x2 - x1) * (y2 - y1)
            if settings.min_area <= area <= settings.max_area:
                proposals.append((len(members), (float(x1), float(y1), float(x2), float(y2))))
    kept: list[Box] = []
    for _, box in sorted(proposals, key=lambda item: -item[0]):
        if all(box_iou(box, other) <= settings.max_overlap for other in kept):
            kept.append(box)
        if len(kept) == settings.max_regions:
            break
    return kept


def kmeans_labels(points: np.ndarray, count: int, iterations: int = 20) -> np.ndarray:
    """Deterministic k-means (farthest-point start from the centroid), enough for a few hundred points."""
    centres = [points.mean(axis=0)]
    for _ in range(count - 1):
        distance = np.min([np.linalg.norm(points - c, axis=1) for c in centres], axis=0)
        centres.append(points[int(np.argmax(distance))])
    # The centroid only seeded the search: replace it by the point farthest from the other seeds.
    if count > 1:
        distance = np.min([np.linalg.norm(points - c, axis=1) for c in centres[1:]], axis=0)
        centres[0] = points[int(np.argmax(distance))]
    centres = np.array(centres)
    labels = np.zeros(len(points), dtype=np.int64)
    for _ in range(iterations):
        labels = np.argmin(np.linalg.norm(points[:, None, :] - centres[None], axis=2), axis=1)
        moved = np.array(
            [points[labels == k].mean(axis=0) if np.any(labels == k) else centres[k] for k in range(count)]
        )
        if np.allclose(moved, centres):
            break
        centres = moved
    return labels


def box_iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def region_crops(image: Image.Image, boxes: Sequence[Box]) -> list[Image.Image]:
    crops = []
    for x1, y1, x2, y2 in boxes:
        box = (round(x1 * image.width), round(y1 * image.height), round(x2 * image.width), round(y2 * image.height))
        if box[2] - box[0] >= 16 and box[3] - box[1] >= 16:
            crops.append(image.crop(box))
    return crops
