"""Perceptual-hash baseline for docs/accuracy.md: pHash (64 bits), score = −Hamming distance, top 20 per query."""

import argparse
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from copydetect.formats import ground_truth_read_csv  # noqa: E402
from copydetect.metrics import Prediction, matching_evaluate  # noqa: E402


def hashes(folder: Path) -> tuple[list[str], np.ndarray]:
    files = sorted(folder.glob("*.jpg"))
    bits = [imagehash.phash(Image.open(path).convert("RGB")).hash.flatten() for path in files]
    return [path.stem for path in files], np.array(bits, dtype=np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--top-k", type=int, default=20)
    args = parser.parse_args()
    reference_ids, references = hashes(args.benchmark / "references")
    query_ids, queries = hashes(args.benchmark / "queries")
    distances = (queries[:, None, :] != references[None, :, :]).sum(axis=2)
    predictions = [
        Prediction(query_ids[q], reference_ids[r], -float(distances[q, r]))
        for q in range(len(query_ids))
        for r in np.argsort(distances[q], kind="stable")[: args.top_k]
    ]
    metrics = matching_evaluate(
        predictions=predictions, ground_truth=ground_truth_read_csv(args.benchmark / "ground_truth.csv")
    )
    print(f"pHash {args.benchmark}: µAP {metrics.micro_ap:.4f}  recall@P90 {metrics.recall_at_p90:.4f}")


if __name__ == "__main__":
    main()
