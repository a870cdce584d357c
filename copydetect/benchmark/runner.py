"""Offline runs of the pipeline's engines over a make_benchmark folder, with everything expensive cached under
var/bench/<benchmark name>/ (SSCD vectors of the query views and references, SIFT and XFeat features, every
pair's verification outcome), so comparing verification policies or calibrations re-runs only the scoring.
Used by the accuracy benchmarks in scripts/ (bench_learned.py and the analyses built on its caches).

Candidates are the exact top TOP_K by SSCD inner product (max over the views), as Milvus FLAT returns them;
the first VERIFY_TOP_K are verified, as in the shipped pipeline. The three module values are the runs'
settings: a benchmark command sets them from its arguments before it runs.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from copydetect.candidates_regions import RegionSettings, region_boxes, region_crops
from copydetect.descriptors.sscd import SscdDescriptor
from copydetect.formats import ground_truth_read_csv
from copydetect.metrics import Prediction, matching_evaluate
from copydetect.query_views import query_views_make
from copydetect.scoring import ScoreCalibration, candidate_rows_features
from copydetect.verification import (
    local_features_extract,
    local_features_load,
    local_features_save,
    pair_verify_best,
    query_features_extract,
)
from copydetect.verification_learned import LearnedVerifier

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
        added = dict(zip(missing, self.descriptor().embed([image_open(self.reference_paths[s]) for s in missing])))
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
            views.append(
                self.timer.time("sscd_query_views", descriptor.embed, query_views_make(image_open(query_path)))
            )
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
                image = image_open(query_path)
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
            image = image_open(self.reference_paths[stem])
            local_features_save(self.timer.time("sift_reference", local_features_extract, image), path)
        return local_features_load(path)

    def sift_query(self, stem: str):
        paths = [self.cache / "sift_q" / f"{stem}-{i}.npz" for i in range(2)]
        if not all(p.exists() for p in paths):
            views = self.timer.time("sift_query", query_features_extract, image_open(self.query_paths[stem]))
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
            image = image_open(self.reference_paths[stem])
            local_features_save(
                self.timer.time(f"{verifier.cache_tag}_reference", verifier.features_extract, image), path
            )
        return local_features_load(path)

    def learned_query(self, verifier: LearnedVerifier, stem: str):
        paths = [self.cache / verifier.cache_tag / "q" / f"{stem}-{i}.npz" for i in range(2)]
        if not all(p.exists() for p in paths):
            views = self.timer.time(
                f"{verifier.cache_tag}_query", verifier.query_features_extract, image_open(self.query_paths[stem])
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


def image_open(path: Path) -> Image.Image:
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
