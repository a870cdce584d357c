"""Local verification of candidate pairs: keypoints, one-to-one matching, a geometric check.

Django-free on purpose: everything arrives as arguments, so the module is used alike by Celery
workers, benchmarks and the DISC21 management commands.

Pipeline for one pair:
  SIFT (RootSIFT) or ORB features → ratio test + mutual nearest neighbours → MAGSAC++ homography,
  affine and similarity candidates → reject degenerate models → score from inliers and spread.

Score (see `verification_score`):
  coverage = min over both images of sqrt(12·λ_min(cov(inlier positions))): width of the inlier band
  evidence = (inliers − CHANCE_INLIERS) · min(1, coverage / FULL_COVERAGE)
  score    = 1 − exp(−evidence / EVIDENCE_SCALE), and 0 when no model is accepted.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps

FEATURES_FORMAT_VERSION = 1
PAIRS_KEPT_FOR_DRAWING = 60
RNG_SEED = 1234

# Geometry is estimated in a canonical frame where each image's longer side is this many pixels,
# so thresholds mean the same thing whatever the original resolution.
CANONICAL_SIDE = 640.0
# A very elongated image (a 20000 × 100 banner) would be a strip a few pixels high at these sizes: no
# keypoints, and every point rounded onto one line. Past this aspect ratio the short side sets the scale.
MAX_CANONICAL_ASPECT = 4.0
MIN_EXTRACTION_SHORT_SIDE = 128  # SIFT needs a few octaves of image across the short side
ELONGATED_PIXEL_BUDGET = 4  # such an image may use this many times the pixels of a max_side square
INLIER_TOLERANCE_PX = 4.0
MAX_SCALE_CHANGE = 8.0  # copies shrink into screenshots or are cropped to ~1/8; beyond that it is noise
MAX_ANISOTROPY = 4.0  # aspect-ratio edits stay well inside this; collapsed models do not
MAX_PERSPECTIVE_RATIO = 3.0  # ratio of projective depths across the query image
MIN_COVERAGE = 0.04  # inliers in a band thinner than 4% of the image are one line-like structure
FULL_COVERAGE = 0.2  # beyond a 20%-wide band the spread adds no further confidence
COVERAGE_TRIM_FRACTION = 0.2  # outlying inliers ignored when measuring spread

# Unrelated pairs that survive ratio test + mutual check + geometry reach a handful of inliers by
# chance (a homography fits any 4); counts beyond that are evidence, saturating exponentially.
CHANCE_INLIERS = 6.0
EVIDENCE_SCALE = 12.0

SIFT_DESCRIPTOR_SIZE = 128
SIFT_OCTAVE_LAYERS, SIFT_CONTRAST_THRESHOLD, SIFT_EDGE_THRESHOLD, SIFT_SIGMA = 3, 0.04, 10.0, 1.6  # Lowe's values
ORB_DESCRIPTOR_BYTES = 32


@dataclass(frozen=True)
class LocalFeatures:
    keypoints: np.ndarray  # (N, 2) float32 in [0, 1], normalised by image width / height
    descriptors: np.ndarray  # (N, D): SIFT uint8 (raw, RootSIFT is applied when matching) or ORB uint8
    kind: str  # "sift" or "orb"
    width: int  # of the original image
    height: int
    mirrored: bool = False  # extracted from the horizontal mirror of the image

    def __len__(self) -> int:
        return len(self.keypoints)


@dataclass(frozen=True)
class Verification:
    inliers: int
    score: float  # in [0, 1]; 0 when no consistent geometry
    pairs: list[tuple[float, float, float, float]]  # (qx, qy, rx, ry), normalised, at most 60
    method: str


# ---------------------------------------------------------------- extraction


def local_features_extract(
    image: Image.Image, *, max_side: int = 640, max_keypoints: int = 1000, kind: str = "sift"
) -> LocalFeatures:
    """Keypoints of `image` downscaled to `max_side`, keeping the `max_keypoints` strongest."""
    kind = feature_kind_available(kind)
    gray = grayscale_array(image, max_side=max_side)
    detector = feature_detector_create(kind, max_keypoints)
    keypoints, descriptors = detector.detectAndCompute(gray, None)
    if descriptors is None or not keypoints:
        return features_empty(kind, image.width, image.height)
    strongest = strongest_first(keypoints)[:max_keypoints]
    points = np.array([keypoints[i].pt for i in strongest], dtype=np.float32)
    height, width = gray.shape
    # +0.5 maps pixel centres into (0, 1) so that mirroring is exactly x → 1 − x.
    normalised = (points + 0.5) / np.array([width, height], dtype=np.float32)
    return LocalFeatures(
        keypoints=normalised.astype(np.float32),
        descriptors=np.ascontiguousarray(descriptors[strongest]).astype(np.uint8),
        kind=kind,
        width=image.width,
        height=image.height,
    )


def query_features_extract(
    image: Image.Image, *, max_side: int = 640, max_keypoints: int = 1000, kind: str = "sift"
) -> list[LocalFeatures]:
    """The image and its horizontal mirror: copies may be flipped and SIFT is not flip-invariant."""
    options = {"max_side": max_side, "max_keypoints": max_keypoints, "kind": kind}
    upright = local_features_extract(image, **options)
    mirrored = local_features_extract(ImageOps.mirror(image), **options)
    return [upright, dataclasses.replace(mirrored, mirrored=True)]


def strongest_first(keypoints: Sequence[cv2.KeyPoint]) -> np.ndarray:
    """Order by response, ties broken by geometry.

    OpenCV's parallel detectors return keypoints in a thread-dependent order; matching and the
    robust estimators are order-sensitive, so a canonical order is what makes results repeatable.
    """
    table = np.array([(kp.response, kp.pt[0], kp.pt[1], kp.size, kp.angle) for kp in keypoints], dtype=np.float64)
    return np.lexsort((table[:, 4], table[:, 3], table[:, 2], table[:, 1], -table[:, 0]))


def feature_kind_available(kind: str) -> str:
    if kind not in ("sift", "orb"):
        raise ValueError(f"Unknown local feature kind {kind!r}; expected 'sift' or 'orb'.")
    if kind == "sift" and not hasattr(cv2, "SIFT_create"):
        return "orb"
    return kind


def feature_detector_create(kind: str, max_keypoints: int) -> cv2.Feature2D:
    if kind == "sift":
        # SIFT descriptors are integers in [0, 255] anyway: CV_8U stores them losslessly in a quarter of the space.
        return cv2.SIFT_create(
            max_keypoints, SIFT_OCTAVE_LAYERS, SIFT_CONTRAST_THRESHOLD, SIFT_EDGE_THRESHOLD, SIFT_SIGMA, cv2.CV_8U
        )
    return cv2.ORB_create(nfeatures=max_keypoints)


def grayscale_array(image: Image.Image, *, max_side: int) -> np.ndarray:
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    height, width = gray.shape
    factor = extraction_scale(width, height, max_side=max_side)
    if factor < 1.0:
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(gray)


def extraction_scale(width: int, height: int, *, max_side: int) -> float:
    """The downscale factor for extraction: the longer side to `max_side`, unless that leaves the shorter
    side under MIN_EXTRACTION_SHORT_SIDE; then the shorter side keeps that many pixels (or all it has),
    within ELONGATED_PIXEL_BUDGET times the usual pixel count."""
    longer, shorter = max(width, height, 1), max(min(width, height), 1)
    factor = min(1.0, max_side / longer)
    if shorter * factor >= MIN_EXTRACTION_SHORT_SIDE or factor >= 1.0:
        return factor
    budget = np.sqrt(ELONGATED_PIXEL_BUDGET * max_side * max_side / (width * height))
    return float(max(factor, min(1.0, MIN_EXTRACTION_SHORT_SIDE / shorter, budget)))


def features_empty(kind: str, width: int, height: int) -> LocalFeatures:
    descriptor_size = SIFT_DESCRIPTOR_SIZE if kind == "sift" else ORB_DESCRIPTOR_BYTES
    return LocalFeatures(
        keypoints=np.zeros((0, 2), dtype=np.float32),
        descriptors=np.zeros((0, descriptor_size), dtype=np.uint8),
        kind=kind,
        width=width,
        height=height,
    )


# ---------------------------------------------------------------- storage


def local_features_save(features: LocalFeatures, path: Path) -> None:
    """Compressed .npz; keypoints as float16 (≤ 0.3 px error at 640 px), descriptors as stored."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptors = features.descriptors
    if descriptors.dtype != np.uint8:
        descriptors = descriptors.astype(np.float16)
    arrays = {
        "version": np.int32(FEATURES_FORMAT_VERSION),
        "keypoints": features.keypoints.astype(np.float16),
        "descriptors": descriptors,
        "kind": np.array(features.kind),
        "size": np.array([features.width, features.height], dtype=np.int32),
        "mirrored": np.bool_(features.mirrored),
    }
    # Write-then-rename so a concurrent reader never sees half a file.
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def local_features_load(path: Path) -> LocalFeatures:
    with np.load(Path(path), allow_pickle=False) as stored:
        version = int(stored["version"])
        if version != FEATURES_FORMAT_VERSION:
            raise ValueError(f"{path}: local features format {version}, expected {FEATURES_FORMAT_VERSION}.")
        descriptors = stored["descriptors"]
        if descriptors.dtype != np.uint8:
            descriptors = descriptors.astype(np.float32)
        width, height = (int(value) for value in stored["size"])
        return LocalFeatures(
            keypoints=stored["keypoints"].astype(np.float32),
            descriptors=descriptors,
            kind=str(stored["kind"]),
            width=width,
            height=height,
            mirrored=bool(stored["mirrored"]),
        )


# ---------------------------------------------------------------- matching


def descriptor_squared_distances(query: LocalFeatures, reference: LocalFeatures) -> np.ndarray:
    """(Nq, Nr) squared distances: Hellinger (RootSIFT L2) for SIFT, Hamming for ORB.

    Squared, because the ratio test only compares distances and a square root of the whole matrix
    costs as much as the matrix product itself.
    """
    if query.kind == "sift":
        q, r = root_sift(query.descriptors), root_sift(reference.descriptors)
        return np.maximum(2.0 - 2.0 * (q @ r.T), 0.0)
    q = np.unpackbits(query.descriptors, axis=1).astype(np.float32)
    r = np.unpackbits(reference.descriptors, axis=1).astype(np.float32)
    hamming = q.sum(axis=1, keepdims=True) + r.sum(axis=1) - 2.0 * (q @ r.T)
    return np.square(hamming)


def root_sift(descriptors: np.ndarray) -> np.ndarray:
    """L1-normalise then square-root: L2 distance between results is the Hellinger kernel distance."""
    values = descriptors.astype(np.float32)
    values /= np.maximum(values.sum(axis=1, keepdims=True), 1e-7)
    return np.sqrt(values)


def mutual_ratio_matches(squared_distances: np.ndarray, ratio: float) -> np.ndarray:
    """(M, 2) index pairs passing Lowe's ratio test that are also each other's nearest neighbour.

    Best matches come first (the drawn pairs start from them); ties keep index order.
    """
    query_count, reference_count = squared_distances.shape
    if query_count == 0 or reference_count == 0:
        return np.zeros((0, 2), dtype=np.int64)
    rows = np.arange(query_count)
    nearest = np.argmin(squared_distances, axis=1)
    is_mutual = np.argmin(squared_distances, axis=0)[nearest] == rows
    best = squared_distances[rows, nearest]
    second = second_smallest(squared_distances, nearest)
    keep = is_mutual & (best < ratio**2 * second)
    order = np.argsort(best[keep], kind="stable")
    return np.stack([rows[keep][order], nearest[keep][order]], axis=1)


def second_smallest(values: np.ndarray, smallest_columns: np.ndarray) -> np.ndarray:
    """Per-row second smallest value; much cheaper than np.partition on a full matrix."""
    if values.shape[1] < 2:
        return np.full(values.shape[0], np.inf, dtype=values.dtype)
    rows = np.arange(values.shape[0])
    saved = values[rows, smallest_columns].copy()
    values[rows, smallest_columns] = np.inf
    second = values.min(axis=1)
    values[rows, smallest_columns] = saved
    return second


def unique_locations(query_points: np.ndarray, reference_points: np.ndarray) -> np.ndarray:
    """Sorted indices of matches keeping one per query location and one per reference location.

    SIFT emits one keypoint per dominant orientation at the same spot; without this, a single
    correspondence would count as several inliers.
    """
    _, first_query = np.unique(np.round(query_points).astype(np.int64), axis=0, return_index=True)
    keep = np.zeros(len(query_points), dtype=bool)
    keep[first_query] = True
    _, first_reference = np.unique(np.round(reference_points).astype(np.int64), axis=0, return_index=True)
    keep_reference = np.zeros(len(query_points), dtype=bool)
    keep_reference[first_reference] = True
    return np.flatnonzero(keep & keep_reference)


# ---------------------------------------------------------------- geometry


@dataclass(frozen=True)
class GeometricModel:
    matrix: np.ndarray  # 3×3, maps canonical query pixels to canonical reference pixels
    name: str  # "homography", "affine" or "similarity"
    estimator: str  # "magsac" or "ransac"


def canonical_scale(features: LocalFeatures) -> float:
    longer = max(features.width, features.height, 1)
    shorter = max(min(features.width, features.height), 1)
    return CANONICAL_SIDE / min(longer, MAX_CANONICAL_ASPECT * shorter)


def canonical_points(features: LocalFeatures) -> np.ndarray:
    """Keypoints in pixels of the image resized so that its longer side is CANONICAL_SIDE (for an image
    more elongated than MAX_CANONICAL_ASPECT, so that its shorter side is CANONICAL_SIDE / that ratio)."""
    scale = canonical_scale(features)
    return features.keypoints * np.array([features.width * scale, features.height * scale], dtype=np.float32)


def canonical_size(features: LocalFeatures) -> tuple[float, float]:
    scale = canonical_scale(features)
    return features.width * scale, features.height * scale


def usac_params(threshold: float) -> cv2.UsacParams:
    params = cv2.UsacParams()
    params.threshold = threshold
    params.confidence = 0.999
    params.maxIterations = 2000
    params.score = cv2.SCORE_METHOD_MAGSAC
    params.loMethod = cv2.LOCAL_OPTIM_SIGMA
    params.final_polisher = cv2.MAGSAC
    params.sampler = cv2.SAMPLING_UNIFORM
    params.isParallel = False
    params.randomGeneratorState = RNG_SEED
    return params


def usac_available() -> bool:
    return hasattr(cv2, "UsacParams") and hasattr(cv2, "USAC_MAGSAC")


def candidate_models(source: np.ndarray, target: np.ndarray) -> list[GeometricModel]:
    """Similarity, affine and homography fits, simplest first; the caller keeps the one explaining most."""
    models: list[GeometricModel] = []
    cv2.setRNGSeed(RNG_SEED)  # RANSAC paths draw from OpenCV's global generator
    if usac_available():
        params = usac_params(INLIER_TOLERANCE_PX)
        homography, _ = _robust_fit(cv2.findHomography, source, target, params)
        affine, _ = _robust_fit(cv2.estimateAffine2D, source, target, params)
        estimator = "magsac"
    else:
        homography, _ = _robust_fit(
            cv2.findHomography, source, target, cv2.RANSAC, INLIER_TOLERANCE_PX, None, 2000, 0.999
        )
        affine, _ = _robust_fit(
            cv2.estimateAffine2D, source, target, None, cv2.RANSAC, INLIER_TOLERANCE_PX, 2000, 0.999
        )
        estimator = "ransac"
    similarity, _ = _robust_fit(
        cv2.estimateAffinePartial2D, source, target, None, cv2.RANSAC, INLIER_TOLERANCE_PX, 2000, 0.999
    )
    if similarity is not None:
        models.append(GeometricModel(_as_3x3(similarity), "similarity", "ransac"))
    if affine is not None:
        models.append(GeometricModel(_as_3x3(affine), "affine", estimator))
    if homography is not None:
        models.append(GeometricModel(homography, "homography", estimator))
    return models


def _robust_fit(estimate, source: np.ndarray, target: np.ndarray, *options):
    try:
        matrix, mask = estimate(source, target, *options)
    except cv2.error:
        return None, None
    if matrix is None or matrix.size == 0 or not np.all(np.isfinite(matrix)):
        return None, None
    return matrix.astype(np.float64), mask


def _as_3x3(affine: np.ndarray) -> np.ndarray:
    return np.vstack([affine, [0.0, 0.0, 1.0]])


def model_is_plausible(matrix: np.ndarray, query_size: tuple[float, float]) -> bool:
    """Rejects the transforms real edits never produce: the false positives that cost precision."""
    if abs(matrix[2, 2]) < 1e-12:
        return False
    matrix = matrix / matrix[2, 2]
    width, height = query_size
    corners = np.array([[0, 0, 1], [width, 0, 1], [0, height, 1], [width, height, 1]], dtype=np.float64)
    depths = corners @ matrix[2]
    if depths.min() <= 0 or depths.max() / depths.min() > MAX_PERSPECTIVE_RATIO:
        return False
    linear = model_jacobian(matrix, np.array([width / 2, height / 2]))
    determinant = np.linalg.det(linear)
    if determinant <= 0:  # a reflection: flipped copies are caught by the mirrored query view
        return False
    scale = np.sqrt(determinant)
    if not 1.0 / MAX_SCALE_CHANGE <= scale <= MAX_SCALE_CHANGE:
        return False
    singular = np.linalg.svd(linear, compute_uv=False)
    return bool(singular[0] / max(singular[1], 1e-12) <= MAX_ANISOTROPY)


def model_jacobian(matrix: np.ndarray, point: np.ndarray) -> np.ndarray:
    """Local linear part of the transform at `point` (equal to the 2×2 block for affine models)."""
    depth = matrix[2, :2] @ point + matrix[2, 2]
    projected = (matrix[:2, :2] @ point + matrix[:2, 2]) / depth
    return (matrix[:2, :2] - np.outer(projected, matrix[2, :2])) / depth


def model_inliers(
    matrix: np.ndarray, source: np.ndarray, target: np.ndarray, query_size: tuple[float, float]
) -> np.ndarray:
    """Boolean mask of matches the model maps within tolerance, measured in the coarser image.

    The same rule for every model keeps counts comparable between homography and affine fits.
    """
    homogeneous = np.hstack([source, np.ones((len(source), 1))]) @ matrix.T
    depth = homogeneous[:, 2]
    valid = depth > 1e-9
    projected = homogeneous[:, :2] / np.where(valid, depth, 1.0)[:, None]
    error = np.linalg.norm(projected - target, axis=1)
    centre = np.array(query_size, dtype=np.float64) / 2
    local_scale = np.sqrt(abs(np.linalg.det(model_jacobian(matrix, centre))))
    return valid & (error < INLIER_TOLERANCE_PX * max(1.0, local_scale))


def point_coverage(points: np.ndarray) -> float:
    """Width of the band the points spread over, along its thinnest direction, as a fraction of the image.

    sqrt(12·λ_min) of the covariance is exactly the shorter side of a uniformly filled rectangle.
    The thinnest direction, not the area, because the repeated structures that fool local matching
    are lines: a shared caption or a logo's edge lies along a band, and a homography fitted to
    near-collinear points is ill-conditioned anyway. The points farthest from the median are left
    out first, so one or two accidental inliers away from such a band cannot widen it.
    """
    if len(points) < 3:
        return 0.0
    points = points.astype(np.float64)
    kept_count = max(3, int(np.ceil(len(points) * (1.0 - COVERAGE_TRIM_FRACTION))))
    distance_to_median = np.linalg.norm(points - np.median(points, axis=0), axis=1)
    core = points[np.argsort(distance_to_median, kind="stable")[:kept_count]]
    smallest_variance = np.linalg.eigvalsh(np.cov(core, rowvar=False))[0]
    return float(np.sqrt(12.0 * max(smallest_variance, 0.0)))


# ---------------------------------------------------------------- verification


def verification_score(inliers: int, coverage: float) -> float:
    """Monotonic in inliers and in spread; ~0.5 at 15 well-spread inliers, ~0.9 at 34, ~0.99 at 61."""
    spread_weight = min(1.0, coverage / FULL_COVERAGE)
    evidence = max(0.0, inliers - CHANCE_INLIERS) * spread_weight
    return float(1.0 - np.exp(-evidence / EVIDENCE_SCALE))


def pair_verify(
    query: LocalFeatures, reference: LocalFeatures, *, ratio: float = 0.8, min_inliers: int = 8
) -> Verification:
    """Counts matches consistent with one plausible geometric transform from query to reference."""
    if query.kind != reference.kind:
        raise ValueError(f"Cannot match {query.kind} features against {reference.kind} features.")
    matches = mutual_ratio_matches(descriptor_squared_distances(query, reference), ratio)
    return matches_verify(query, reference, matches, min_inliers=min_inliers)


def matches_verify(
    query: LocalFeatures, reference: LocalFeatures, matches: np.ndarray, *, min_inliers: int = 8
) -> Verification:
    """The geometric check on (M, 2) index pairs, best first, whichever matcher proposed them."""
    no_geometry = Verification(inliers=0, score=0.0, pairs=[], method=f"{query.kind}+none")
    matches = np.asarray(matches, dtype=np.int64).reshape(-1, 2)
    source = canonical_points(query)[matches[:, 0]].astype(np.float64)
    target = canonical_points(reference)[matches[:, 1]].astype(np.float64)
    unique = unique_locations(source, target)
    matches, source, target = matches[unique], source[unique], target[unique]
    if len(matches) < max(min_inliers, 4):
        return no_geometry

    best_model, best_mask = None, None
    for model in candidate_models(source.astype(np.float32), target.astype(np.float32)):
        if not model_is_plausible(model.matrix, canonical_size(query)):
            continue
        mask = model_inliers(model.matrix, source, target, canonical_size(query))
        # Models come simplest first, so a more complex one must explain strictly more.
        if best_mask is None or mask.sum() > best_mask.sum():
            best_model, best_mask = model, mask
    if best_model is None or best_mask.sum() < min_inliers:
        return no_geometry

    inlier_matches = matches[best_mask]
    query_points = query.keypoints[inlier_matches[:, 0]]
    reference_points = reference.keypoints[inlier_matches[:, 1]]
    coverage = min(point_coverage(query_points), point_coverage(reference_points))
    if coverage < MIN_COVERAGE:
        return no_geometry
    inliers = int(best_mask.sum())
    return Verification(
        inliers=inliers,
        score=verification_score(inliers, coverage),
        pairs=drawing_pairs(query_points, reference_points),
        method=f"{query.kind}+{best_model.estimator}+{best_model.name}",
    )


def drawing_pairs(
    query_points: np.ndarray, reference_points: np.ndarray, limit: int = PAIRS_KEPT_FOR_DRAWING
) -> list[tuple[float, float, float, float]]:
    """Up to `limit` pairs spread over the query (farthest-point order, starting from the best match)."""
    chosen = [0]
    distance_to_chosen = np.linalg.norm(query_points - query_points[0], axis=1)
    while len(chosen) < min(limit, len(query_points)):
        farthest = int(np.argmax(distance_to_chosen))
        chosen.append(farthest)
        distance_to_farthest = np.linalg.norm(query_points - query_points[farthest], axis=1)
        distance_to_chosen = np.minimum(distance_to_chosen, distance_to_farthest)
    return [
        (float(q[0]), float(q[1]), float(r[0]), float(r[1]))
        for q, r in zip(query_points[chosen], reference_points[chosen])
    ]


def pair_verify_best(
    query_views: Sequence[LocalFeatures], reference: LocalFeatures, *, ratio: float = 0.8, min_inliers: int = 8
) -> Verification:
    """Best verification over the query views; pairs are reported in the unmirrored query's coordinates."""
    best = Verification(inliers=0, score=0.0, pairs=[], method=f"{reference.kind}+none")
    for view in query_views:
        outcome = pair_verify(view, reference, ratio=ratio, min_inliers=min_inliers)
        if view.mirrored:
            outcome = _unmirrored(outcome)
        if (outcome.score, outcome.inliers) > (best.score, best.inliers):
            best = outcome
    return best


def _unmirrored(outcome: Verification) -> Verification:
    return Verification(
        inliers=outcome.inliers,
        score=outcome.score,
        pairs=[(1.0 - qx, qy, rx, ry) for qx, qy, rx, ry in outcome.pairs],
        method=f"{outcome.method}+mirror",
    )
