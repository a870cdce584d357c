"""Verification policies (SIFT, learned XFeat + LighterGlue, SIFT with a learned fallback) and region
candidates, measured on a make_benchmark folder with the pipeline's own engines, for docs/accuracy.md.

    nice -n 10 .venv/bin/python scripts/bench_learned.py bench/seed1 --fit var/bench/calibration-learned.json
    nice -n 10 .venv/bin/python scripts/bench_learned.py bench/seed2 --calibration var/bench/calibration-learned.json

Everything expensive is cached under var/bench/<benchmark name>/ (SSCD vectors of the 6 query views
and of the references, SIFT and XFeat features, every pair's verification outcome), so comparing
policies re-runs only the scoring. Candidates are the exact top 20 by SSCD inner product (max over
the views), as Milvus FLAT returns them; the first 10 are verified, as in the shipped pipeline.
Per-operation times are measured here and summed per query into the cost column. A query may have
several true references (bench_duplicates.py variants); `--cache-from bench/seedN` reuses that seed's
caches for such a variant, so only the added references are embedded and extracted.
"""

from __future__ import annotations

import os

# One thread per library: on shared cores, OpenBLAS / OpenCV / onnxruntime threads fighting each other
# made every step several times slower here (see bench_verification.py).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from copydetect.candidates_regions import RegionSettings, region_boxes, region_crops  # noqa: E402
from copydetect.descriptors.sscd import SscdDescriptor  # noqa: E402
from copydetect.formats import ground_truth_read_csv  # noqa: E402
from copydetect.metrics import Prediction, matching_evaluate  # noqa: E402
from copydetect.query_views import query_views_make  # noqa: E402
from copydetect.scoring import ScoreCalibration, calibration_fit, candidate_rows_features  # noqa: E402
from copydetect.verification import (  # noqa: E402
    local_features_extract,
    local_features_load,
    local_features_save,
    pair_verify_best,
    query_features_extract,
)
from copydetect.verification_learned import LearnedSettings, LearnedVerifier  # noqa: E402

TOP_K = 20
VERIFY_TOP_K = 10  # --verify-top overrides
LEARNED_MIN_INLIERS = 8  # --learned-min-inliers overrides (pipeline: LearnedSettings.min_inliers)


class Timer:
    def __init__(self, path: Path):
        self.path = path
        self.samples: dict[str, list[float]] = defaultdict(list)
        if path.exists():
            self.samples.update(json.loads(path.read_text()))

    def time(self, name: str, function, *args):
        started = time.perf_counter()
        result = function(*args)
        self.samples[name].append((time.perf_counter() - started) * 1000)
        return result

    def mean(self, name: str) -> float:
        values = self.samples.get(name) or [float("nan")]
        return float(np.mean(values[-2000:]))

    def save(self) -> None:
        self.path.write_text(json.dumps({k: v[-2000:] for k, v in self.samples.items()}))


class Bench:
    def __init__(self, benchmark: Path, cache: Path, queries: int = 0):
        self.benchmark, self.cache = benchmark, cache
        cache.mkdir(parents=True, exist_ok=True)
        self.timer = Timer(cache / "timings.json")
        self.reference_paths = {p.stem: p for p in sorted((benchmark / "references").glob("*.jpg"))}
        query_paths = sorted((benchmark / "queries").glob("*.jpg"))
        # Query ids are random: the first N sorted ids are a random subset, copies and non-copies mixed.
        self.query_paths = {p.stem: p for p in (query_paths[:queries] if queries else query_paths)}
        self.truth = [
            (q, r) for q, r in ground_truth_read_csv(benchmark / "ground_truth.csv") if r and q in self.query_paths
        ]
        self.truth_of = dict(self.truth)
        # A query may copy several references (bench_duplicates.py: a reference and its resized twin).
        self.truths_of: dict[str, set[str]] = defaultdict(set)
        for query, reference in self.truth:
            self.truths_of[query].add(reference)
        self._descriptor = None
        self.outcomes_path = cache / "outcomes.json"
        self.outcomes = json.loads(self.outcomes_path.read_text()) if self.outcomes_path.exists() else {}

    def cache_seed(self, base: Path) -> None:
        """Reuses another benchmark's caches for a variant with the same queries and images under the same
        ids plus new references (bench_duplicates.py): only the new references are embedded and extracted."""
        for folder in ("sift", "sift_q"):
            (self.cache / folder).mkdir(parents=True, exist_ok=True)
            for source in (base / folder).glob("*.npz"):
                if not (self.cache / folder / source.name).exists():
                    shutil.copy2(source, self.cache / folder / source.name)
        if (base / "outcomes.json").exists():
            for key, value in json.loads((base / "outcomes.json").read_text()).items():
                self.outcomes.setdefault(key, value)
        path = self.cache / "sscd.npz"
        if path.exists() or not (base / "sscd.npz").exists():
            return
        with np.load(base / "sscd.npz") as stored:
            data = dict(stored)
        known = {str(stem): row for row, stem in enumerate(data["reference_ids"])}
        refs = list(self.reference_paths)
        missing = [stem for stem in refs if stem not in known]
        added = dict(zip(missing, self.descriptor().embed([_open(self.reference_paths[s]) for s in missing])))
        data["references"] = np.stack(
            [data["references"][known[stem]] if stem in known else added[stem] for stem in refs]
        )
        data["reference_ids"] = np.array(refs)
        np.savez(path, **data)

    def descriptor(self) -> SscdDescriptor:
        if self._descriptor is None:
            self._descriptor = SscdDescriptor(threads=1)
        return self._descriptor

    # -------------------------------------------------------- global candidates

    def vectors(self) -> dict[str, np.ndarray]:
        path = self.cache / "sscd.npz"
        if path.exists():
            with np.load(path) as stored:
                data = dict(stored)
            keep = np.isin(data["query_ids"], list(self.query_paths))
            return {**data, "query_ids": data["query_ids"][keep], "views": data["views"][keep]}
        descriptor = self.descriptor()
        refs = list(self.reference_paths)
        reference_vectors = np.concatenate(
            [
                descriptor.embed([Image.open(self.reference_paths[s]).convert("RGB") for s in refs[i : i + 64]])
                for i in range(0, len(refs), 64)
            ]
        )
        views = []
        for query_path in self.query_paths.values():
            views.append(self.timer.time("sscd_query_views", descriptor.embed, query_views_make(_open(query_path))))
        data = {
            "reference_ids": np.array(refs),
            "query_ids": np.array(list(self.query_paths)),
            "references": reference_vectors,
            "views": np.stack(views),
        }
        np.savez(path, **data)
        self.timer.save()
        return data

    def candidates(self, extra: dict[str, dict[str, float]] | None = None) -> dict[str, list[tuple[str, float]]]:
        data = self.vectors()
        similarity = np.einsum("qvd,rd->qvr", data["views"], data["references"]).max(axis=1)
        result = {}
        for row, query_id in enumerate(data["query_ids"]):
            best = {
                str(data["reference_ids"][i]): float(similarity[row, i]) for i in np.argsort(-similarity[row])[:TOP_K]
            }
            for reference_id, score in (extra or {}).get(str(query_id), {}).items():
                best[reference_id] = max(best.get(reference_id, -1.0), score)
            result[str(query_id)] = sorted(best.items(), key=lambda item: item[1], reverse=True)[:TOP_K]
        return result

    # -------------------------------------------------------- region candidates

    def region_hits(self, settings: RegionSettings) -> dict[str, dict[str, float]]:
        path = self.cache / f"regions-{settings.cache_tag}-q{len(self.query_paths)}.npz"
        data = self.vectors()
        if not path.exists():
            descriptor = self.descriptor()
            rows = []
            for stem, query_path in self.query_paths.items():
                image = _open(query_path)
                features = self.sift_query(stem)[0]
                boxes = self.timer.time("region_boxes", region_boxes, features, settings)
                crops = region_crops(image, boxes)
                vectors = self.timer.time("sscd_regions", descriptor.embed, crops) if crops else np.zeros((0, 512))
                rows += [(stem, v) for v in vectors]
            np.savez(path, stems=np.array([s for s, _ in rows]), vectors=np.array([v for _, v in rows]))
            self.timer.save()
        with np.load(path) as stored:
            stems, vectors = stored["stems"], stored["vectors"]
        hits: dict[str, dict[str, float]] = defaultdict(dict)
        if len(vectors):
            similarity = vectors @ data["references"].T
            for row, stem in enumerate(stems):
                for i in np.argsort(-similarity[row])[: settings.top_k]:
                    ref = str(data["reference_ids"][i])
                    hits[str(stem)][ref] = max(hits[str(stem)].get(ref, -1.0), float(similarity[row, i]))
        self.region_counts = {str(s): int((stems == s).sum()) for s in set(stems.tolist())}
        return hits

    # -------------------------------------------------------- SIFT

    def sift_reference(self, stem: str):
        path = self.cache / "sift" / f"{stem}.npz"
        if not path.exists():
            image = _open(self.reference_paths[stem])
            local_features_save(self.timer.time("sift_reference", local_features_extract, image), path)
        return local_features_load(path)

    def sift_query(self, stem: str):
        paths = [self.cache / "sift_q" / f"{stem}-{i}.npz" for i in range(2)]
        if not all(p.exists() for p in paths):
            views = self.timer.time("sift_query", query_features_extract, _open(self.query_paths[stem]))
            for view, p in zip(views, paths):
                local_features_save(view, p)
        return [local_features_load(p) for p in paths]

    def sift_outcome(self, query: str, reference: str) -> tuple[int, float]:
        key = f"sift|{query}|{reference}"
        if key not in self.outcomes:
            outcome = self.timer.time(
                "sift_match", pair_verify_best, self.sift_query(query), self.sift_reference(reference)
            )
            self.outcomes[key] = [outcome.inliers, outcome.score]
        return tuple(self.outcomes[key])

    # -------------------------------------------------------- learned

    def learned_reference(self, verifier: LearnedVerifier, stem: str):
        path = self.cache / verifier.cache_tag / f"{stem}.npz"
        if not path.exists():
            image = _open(self.reference_paths[stem])
            local_features_save(
                self.timer.time(f"{verifier.cache_tag}_reference", verifier.features_extract, image), path
            )
        return local_features_load(path)

    def learned_query(self, verifier: LearnedVerifier, stem: str):
        paths = [self.cache / verifier.cache_tag / "q" / f"{stem}-{i}.npz" for i in range(2)]
        if not all(p.exists() for p in paths):
            views = self.timer.time(
                f"{verifier.cache_tag}_query", verifier.query_features_extract, _open(self.query_paths[stem])
            )
            for view, p in zip(views, paths):
                local_features_save(view, p)
        return [local_features_load(p) for p in paths]

    def learned_outcome(self, verifier: LearnedVerifier, query: str, reference: str) -> tuple[int, float]:
        s = verifier.settings
        tag = f"{verifier.cache_tag}|{s.matcher}|{s.min_conf if s.matcher == 'lighterglue' else s.min_cossim}"
        key = f"{tag}|{query}|{reference}"
        if key not in self.outcomes:
            query_views = self.learned_query(verifier, query)
            reference_features = self.learned_reference(verifier, reference)
            outcome = self.timer.time(f"{tag}_match", verifier.pair_verify_best, query_views, reference_features)
            self.outcomes[key] = [outcome.inliers, outcome.score]
        return tuple(self.outcomes[key])

    def save(self) -> None:
        self.outcomes_path.write_text(json.dumps(self.outcomes))
        self.timer.save()


def _open(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def candidate_rows(
    bench: Bench, candidates, policy: str, verifier: LearnedVerifier | None, learned_top: int, fallback_below: int
) -> tuple[list[dict], dict[str, int]]:
    """One row per candidate with the evidence the pipeline would have; counts of learned calls."""
    rows, calls = [], {"learned_pairs": 0, "learned_queries": 0}
    for n, (query, ranked) in enumerate(candidates.items()):
        used_learned = False
        sift = [
            bench.sift_outcome(query, reference) if policy in ("sift", "sift+learned") else (0, 0.0)
            for reference, _ in ranked[:VERIFY_TOP_K]
        ]
        # The pipeline's rule (pipeline.learned_wanted): no learned call once SIFT confirmed any candidate.
        settled = any(inliers >= fallback_below for inliers, _ in sift)
        for rank, (reference, similarity) in enumerate(ranked):
            inliers, score, learned = 0, 0.0, False
            if rank < VERIFY_TOP_K:
                inliers, score = sift[rank]
                wants_learned = policy == "learned" or (
                    policy == "sift+learned" and inliers < fallback_below and not settled
                )
                if verifier is not None and wants_learned and rank < learned_top:
                    learned_inliers, learned_score = bench.learned_outcome(verifier, query, reference)
                    if learned_inliers < LEARNED_MIN_INLIERS:  # outcomes are computed and cached at min_inliers 8
                        learned_inliers, learned_score = 0, 0.0
                    calls["learned_pairs"] += 1
                    used_learned = True
                    if (learned_score, learned_inliers) > (score, inliers):
                        inliers, score, learned = learned_inliers, learned_score, True
            rows.append(
                {
                    "query_id": query,
                    "reference_id": reference,
                    "descriptor_similarity": similarity,
                    "inliers": inliers,
                    "verification_score": score,
                    "learned": learned,
                    "label": int(reference in bench.truths_of.get(query, ())),
                }
            )
        calls["learned_queries"] += used_learned
        if n % 50 == 49:
            bench.save()
    bench.save()
    return rows, calls


def evaluate(rows: list[dict], truth, calibration: ScoreCalibration) -> tuple[float, float, float | None]:
    features = candidate_rows_features(rows)
    predictions = [
        Prediction(row["query_id"], row["reference_id"], calibration.probability(f)) for row, f in zip(rows, features)
    ]
    metrics = matching_evaluate(predictions=predictions, ground_truth=truth)
    return metrics.micro_ap, metrics.recall_at_p90, metrics.threshold_at_p90


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", type=Path)
    parser.add_argument("--policies", nargs="*", default=["sift", "sift+learned"])
    parser.add_argument(
        "--learned-top", type=int, default=3, help="candidates (by similarity) the learned verifier may see"
    )
    parser.add_argument("--fallback-below", type=int, default=8, help="learned only where SIFT found fewer inliers")
    parser.add_argument("--matcher", default="mnn")
    parser.add_argument("--min-conf", type=float, default=0.5)
    parser.add_argument("--max-side", type=int, default=640)
    parser.add_argument("--max-keypoints", type=int, default=1024)
    parser.add_argument("--learned-min-inliers", type=int, default=8, help="learned outcomes below count as none")
    parser.add_argument("--regions", action="store_true", help="add region candidates (candidates_regions)")
    parser.add_argument("--fit", type=Path, default=None, help="fit a calibration per policy here (seed 1 only)")
    parser.add_argument("--calibration", type=Path, default=None, help="fitted calibration(s) to apply")
    parser.add_argument("--shipped", type=Path, default=Path("copydetect/calibration/sscd.json"))
    parser.add_argument("--queries", type=int, default=0, help="first N query ids only (a random subset)")
    parser.add_argument("--verify-top", type=int, default=10, help="candidates SIFT verifies (pipeline: 10)")
    parser.add_argument("--top-k", type=int, default=20, help="candidates by SSCD similarity (pipeline: 20)")
    parser.add_argument(
        "--cache-from", type=Path, default=None, help="reuse this benchmark's caches (same queries, more references)"
    )
    parser.add_argument("--dump", type=Path, default=None, help="folder: <policy>.csv rows, as isc_match --candidates")
    args = parser.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    global VERIFY_TOP_K, LEARNED_MIN_INLIERS, TOP_K
    VERIFY_TOP_K, LEARNED_MIN_INLIERS, TOP_K = args.verify_top, args.learned_min_inliers, args.top_k
    bench = Bench(args.benchmark, Path("var/bench") / args.benchmark.name, queries=args.queries)
    if args.cache_from:
        bench.cache_seed(Path("var/bench") / args.cache_from.name)
    verifier = LearnedVerifier(
        LearnedSettings(
            max_side=args.max_side,
            max_keypoints=args.max_keypoints,
            matcher=args.matcher,
            min_conf=args.min_conf,
            min_inliers=8,  # outcomes are cached at 8; --learned-min-inliers applies on top
        )
    )
    extra = None
    if args.regions:
        region_settings = RegionSettings()
        extra = bench.region_hits(region_settings)
    plain = bench.candidates()
    candidates = bench.candidates(extra)
    queries = set(candidates)
    truth = bench.truth
    found_plain = sum(r in bench.truths_of.get(q, ()) for q in queries for r, _ in plain[q])
    found = sum(r in bench.truths_of.get(q, ()) for q in queries for r, _ in candidates[q])
    print(
        f"{args.benchmark}: {len(queries)} queries, {len(truth)} copies; true pairs in the global top {TOP_K}: {found_plain}"
    )
    if args.regions:
        print(
            f"  with region candidates: {found} (+{found - found_plain}); regions per query "
            f"{np.mean([bench.region_counts.get(q, 0) for q in queries]):.2f}, "
            f"region boxes {bench.timer.mean('region_boxes'):.1f} ms + SSCD {bench.timer.mean('sscd_regions'):.1f} ms per query with regions"
        )
    shipped = ScoreCalibration.load(args.shipped)
    fitted = json.loads(args.calibration.read_text()) if args.calibration else {}
    fits = {}
    for policy in args.policies:
        rows, calls = candidate_rows(bench, candidates, policy, verifier, args.learned_top, args.fallback_below)
        line = f"  {policy:14s}"
        micro_ap, recall, threshold = evaluate(rows, truth, shipped)
        line += f" shipped calibration µAP {micro_ap:.3f} R@P90 {recall:.3f}"
        if args.fit:
            features, labels = candidate_rows_features(rows), np.array([r["label"] for r in rows])
            fits[policy] = calibration_fit(
                features=features, labels=labels, descriptor="sscd", fitted_on=str(args.benchmark)
            )
            micro_ap, recall, threshold = evaluate(rows, truth, fits[policy])
            line += f" | refit µAP {micro_ap:.3f} R@P90 {recall:.3f}"
        if policy in fitted:
            calibration = ScoreCalibration(
                descriptor="sscd", weights=tuple(fitted[policy]["weights"]), bias=fitted[policy]["bias"]
            )
            micro_ap, recall, threshold = evaluate(rows, truth, calibration)
            line += f" | seed-1 fit µAP {micro_ap:.3f} R@P90 {recall:.3f}"
        confirmed = sum(r["label"] and r["inliers"] >= 8 for r in rows)
        by_learned = sum(r["label"] and r["learned"] for r in rows)
        false_geometry = sum((not r["label"]) and r["inliers"] >= 15 for r in rows)
        line += (
            f" | copies with ≥8 inliers {confirmed} (learned {by_learned}), non-copies ≥15 inliers {false_geometry}"
            f" | learned pairs/query {calls['learned_pairs'] / len(queries):.2f}"
            f", queries with a learned call {calls['learned_queries']}/{len(queries)}"
        )
        print(line)
        if args.dump:
            import csv

            args.dump.mkdir(parents=True, exist_ok=True)
            with open(args.dump / f"{policy}.csv", "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    if args.fit:
        args.fit.parent.mkdir(parents=True, exist_ok=True)
        args.fit.write_text(json.dumps({p: {"weights": c.weights, "bias": c.bias} for p, c in fits.items()}, indent=2))
    tag = verifier.cache_tag
    s = verifier.settings
    match_tag = f"{tag}|{s.matcher}|{s.min_conf if s.matcher == 'lighterglue' else s.min_cossim}_match"
    print(
        "  ms: SSCD 6 views {:.0f}/query · SIFT query {:.0f} · SIFT pair {:.0f} · XFeat query (2 views) {:.0f} · "
        "XFeat reference {:.0f} · learned pair ({}) {:.0f}".format(
            bench.timer.mean("sscd_query_views"),
            bench.timer.mean("sift_query"),
            bench.timer.mean("sift_match"),
            bench.timer.mean(f"{tag}_query"),
            bench.timer.mean(f"{tag}_reference"),
            s.matcher,
            bench.timer.mean(match_tag),
        )
    )


if __name__ == "__main__":
    main()
