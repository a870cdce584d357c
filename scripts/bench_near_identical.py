"""Measures the whole-image descriptor similarity of re-encodes of one picture against edits, crops and
unrelated pictures, to place ISC_NEAR_DUPLICATE_SIMILARITY (search/review/verdicts.py quotes the output).

    .venv/bin/python scripts/bench_near_identical.py [--seeds 20]
"""

from __future__ import annotations

import argparse
import io
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isc_site.settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from copydetect.benchmark.scenes import edited_copy, encode, scene  # noqa: E402
from workers import runtime  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    descriptor = runtime.descriptor_get()

    def embedded(image: Image.Image) -> np.ndarray:
        vector = np.asarray(descriptor.embed([image])[0], dtype=np.float32)
        return vector / np.linalg.norm(vector)

    def round_trip(image: Image.Image, fmt: str, **options) -> Image.Image:
        return Image.open(io.BytesIO(encode(image, fmt, **options))).convert("RGB")

    rows: dict[str, list[float]] = {}
    for seed in range(args.seeds):
        base = scene(seed)
        width, height = base.size
        reference = embedded(base)
        variants = {
            "re-encode jpeg q60": round_trip(base, "JPEG", quality=60),
            "re-encode png": round_trip(base, "PNG"),
            "re-encode webp q70": round_trip(base, "WEBP", quality=70),
            "resize 0.7x": base.resize((int(width * 0.7), int(height * 0.7))),
            "resize 2x jpeg q85": round_trip(base.resize((width * 2, height * 2)), "JPEG", quality=85),
            "edit (crop+colour+caption)": edited_copy(base),
            "centre crop 70%": base.crop(
                (int(width * 0.15), int(height * 0.15), int(width * 0.85), int(height * 0.85))
            ),
            "unrelated picture": scene(seed + 100),
        }
        for name, image in variants.items():
            rows.setdefault(name, []).append(float(reference @ embedded(image)))
    print(f"descriptor {descriptor.version}, {args.seeds} scenes")
    thresholds = (0.88, 0.90, 0.92, 0.95)
    print(f"{'variant':28s} {'min':>6s} {'median':>6s} {'max':>6s} " + " ".join(f"≥{t:.2f}" for t in thresholds))
    for name, values in rows.items():
        shares = " ".join(f"{sum(v >= t for v in values):>2d}/{len(values):<2d}" for t in thresholds)
        print(f"{name:28s} {min(values):6.3f} {np.median(values):6.3f} {max(values):6.3f} {shares}")


if __name__ == "__main__":
    main()
