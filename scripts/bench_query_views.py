"""Query views without verification, for docs/accuracy.md: SSCD similarity, max over the chosen views,
top 20 references per query; also with the similarity margin (score + margin, the pipeline's feature)
and how many true pairs reach the candidates. Embeddings are cached in --cache, so comparing view sets
costs one descriptor pass.

    python scripts/bench_query_views.py bench/seed1 --sets full full,centre,top_left,top_right,bottom_left,bottom_right
"""

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from copydetect.descriptors.sscd import SscdDescriptor  # noqa: E402
from copydetect.formats import ground_truth_read_csv  # noqa: E402
from copydetect.metrics import Prediction, matching_evaluate  # noqa: E402
from copydetect.query_views import SINGLE_VIEWS, VIEW_NAMES, query_views_make  # noqa: E402
from copydetect.scoring import similarity_margins  # noqa: E402


def embeddings(benchmark: Path, cache: Path) -> dict[str, np.ndarray]:
    if cache.exists():
        with np.load(cache) as data:
            return dict(data)
    descriptor = SscdDescriptor()
    references = sorted((benchmark / "references").glob("*.jpg"))
    queries = sorted((benchmark / "queries").glob("*.jpg"))
    arrays = {
        "reference_ids": np.array([path.stem for path in references]),
        "query_ids": np.array([path.stem for path in queries]),
        "references": descriptor.embed([Image.open(path).convert("RGB") for path in references]),
    }
    per_view: dict[str, list[np.ndarray]] = {name: [] for name in VIEW_NAMES}
    for path in queries:
        image = Image.open(path).convert("RGB")
        # One batch per query; each view name stands for one or more crops, in VIEW_NAMES order.
        crops = [query_views_make(image, [name]) for name in VIEW_NAMES]
        vectors = descriptor.embed([crop for group in crops for crop in group])
        bounds = np.cumsum([0] + [len(group) for group in crops])
        for name, start, end in zip(VIEW_NAMES, bounds[:-1], bounds[1:]):
            per_view[name].append(vectors[start:end])
    arrays.update({f"view_{name}": np.stack(vectors) for name, vectors in per_view.items()})
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **arrays)
    return arrays


def evaluate(data: dict[str, np.ndarray], views: list[str], truth: list[tuple[str, str]], top_k: int, margin: bool):
    similarities = np.max([(data[f"view_{name}"] @ data["references"].T).max(axis=1) for name in views], axis=0)
    predictions = []
    for row, query_id in enumerate(data["query_ids"]):
        top = np.argsort(-similarities[row])[:top_k]
        scores = similarities[row, top]
        if margin:
            scores = scores + np.array(similarity_margins(list(scores)))
        predictions += [Prediction(str(query_id), str(data["reference_ids"][r]), float(s)) for r, s in zip(top, scores)]
    metrics = matching_evaluate(predictions=predictions, ground_truth=truth)
    return metrics.micro_ap, metrics.recall_at_p90, metrics.n_true_positives


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--sets", nargs="+", default=["full", ",".join(SINGLE_VIEWS), ",".join(VIEW_NAMES)])
    parser.add_argument("--cache", type=Path, default=None, help="default: var/bench/<benchmark name>-views.npz")
    parser.add_argument("--top-k", type=int, default=20)
    args = parser.parse_args()
    cache = args.cache or Path("var/bench") / f"{args.benchmark.name}-views.npz"
    data = embeddings(args.benchmark, cache)
    truth = [(q, r) for q, r in ground_truth_read_csv(args.benchmark / "ground_truth.csv") if r]
    for view_set in args.sets:
        views = view_set.split(",")
        for margin in (False, True):
            micro_ap, recall, found = evaluate(data, views, truth, args.top_k, margin)
            label = "similarity + margin" if margin else "similarity"
            print(
                f"{view_set:70s} {label:20s} µAP {micro_ap:.3f}  recall@P90 {recall:.3f}  true pairs in top {args.top_k}: {found}/{len(truth)}"
            )


if __name__ == "__main__":
    main()
