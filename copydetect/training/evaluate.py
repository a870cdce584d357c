"""Scoring a descriptor on a benchmark folder: exact k-NN of each query, DISC21 µAP and recall@P90."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from copydetect.formats import ground_truth_read_csv
from copydetect.training.data import image_paths
from copydetect.training.model import model_load

log = logging.getLogger(__name__)


def _pil_batch(paths: Sequence[Path], size: int, mean, std) -> torch.Tensor:
    from PIL import Image

    arrays = []
    for p in paths:
        with Image.open(p) as im:
            im = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            arrays.append(np.asarray(im, dtype=np.float32) / 255.0)
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


@torch.no_grad()
def embed_paths(
    fn: Callable[[torch.Tensor], torch.Tensor],
    paths: Sequence[Path],
    *,
    size: int,
    mean,
    std,
    device: torch.device,
    batch: int = 64,
) -> np.ndarray:
    out = []
    for i in range(0, len(paths), batch):
        x = _pil_batch(paths[i : i + batch], size, mean, std).to(device)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(F.normalize(fn(x).float(), dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1), np.float32)


def metrics_compute(preds: list[tuple[str, str, float]], gt_pairs: list[tuple[str, str]]) -> dict:
    """µAP and recall@P90 (DISC21 definitions) from copydetect.metrics, which imports only numpy."""
    from copydetect.metrics import Prediction, matching_evaluate

    result = matching_evaluate(
        predictions=[Prediction(query_id=q, reference_id=r, score=s) for q, r, s in preds], ground_truth=gt_pairs
    )
    return {
        "micro_ap": float(result.micro_ap),
        "recall_at_p90": float(result.recall_at_p90),
        "metrics": "copydetect.metrics.matching_evaluate",
    }


def benchmark_evaluate(
    bench: Path,
    fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    size: int,
    mean,
    std,
    device: torch.device,
    top_k: int = 10,
) -> dict:
    """Exact k-NN of every query among the references (cosine = −L2 order on unit vectors), then µAP."""
    return _evaluate_with(
        bench, lambda paths: embed_paths(fn, paths, size=size, mean=mean, std=std, device=device), top_k
    )


def benchmark_evaluate_saved(bench: Path, out: Path, *, size: int, mean, std, device: torch.device) -> dict:
    """Scores what was saved, not what is in memory: through the production `vit` descriptor when it
    imports (Django-free), else through model_load with the same preprocessing."""
    try:
        from PIL import Image

        from copydetect.descriptors import descriptor_build

        descriptor = descriptor_build(name="vit", vit_model=str(out), device=device.type)

        def fn_paths(paths: Sequence[Path]) -> np.ndarray:
            vectors = []
            for i in range(0, len(paths), 64):
                images = []
                for p in paths[i : i + 64]:
                    with Image.open(p) as im:
                        images.append(im.convert("RGB"))
                vectors.append(descriptor.embed(images, batch_size=64))
            return np.concatenate(vectors).astype(np.float32)

        embedder = "copydetect.descriptors vit"
    except ImportError as exc:
        log.info("vit descriptor not importable (%s); evaluating with model_load", exc)
        evaluated, _ = model_load(out, device)

        def fn_paths(paths: Sequence[Path]) -> np.ndarray:
            return embed_paths(evaluated, paths, size=size, mean=mean, std=std, device=device)

        embedder = "copydetect.training.train.model_load"
    result = _evaluate_with(bench, fn_paths)
    result["embedder"] = embedder
    return result


def _evaluate_with(bench: Path, fn_paths: Callable[[Sequence[Path]], np.ndarray], top_k: int = 10) -> dict:
    refs = image_paths([bench / "references"])
    queries = image_paths([bench / "queries"])
    gt = [(q, r) for q, r in ground_truth_read_csv(bench / "ground_truth.csv") if r]
    r, q = fn_paths(refs), fn_paths(queries)
    sims = q @ r.T
    k = min(top_k, len(refs))
    top = np.argsort(-sims, axis=1)[:, :k]
    preds = [(queries[i].stem, refs[j].stem, float(sims[i, j])) for i in range(len(queries)) for j in top[i]]
    result = metrics_compute(preds, gt)
    result.update(references=len(refs), queries=len(queries), positives=len(set(gt)))
    return result


# --- model card ------------------------------------------------------------------------------------------
