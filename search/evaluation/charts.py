"""The precision-recall curve of an evaluation as an inline PNG."""

from __future__ import annotations

import base64
import io

from copydetect.metrics import pr_curve_plot
from search.evaluation.selectors import Evaluation


def pr_curve_data_uri(*, evaluation: Evaluation) -> str:
    """The precision–recall curves (all queries, then each difficulty) as a PNG data: URI; empty
    when there is no true pair to draw a curve for."""
    if evaluation.metrics.n_ground_truth == 0:
        return ""
    buffer = io.BytesIO()
    pr_curve_plot(evaluation.curves, buffer, title=f"{evaluation.collection.name}: precision–recall")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
