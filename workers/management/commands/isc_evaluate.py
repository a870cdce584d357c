"""Score a DISC21 matching-track CSV or descriptor-track HDF5 against ground truth.

    python manage.py isc_evaluate --ground-truth gt.csv --predictions preds.csv
    python manage.py isc_evaluate --ground-truth gt.csv --descriptors sub.hdf5 --groups fam.csv

Needs no database, broker or vector store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

from copydetect import formats
from copydetect.metrics import (
    DEFAULT_K_FACTOR,
    MatchingMetrics,
    Prediction,
    descriptor_predictions,
    matching_evaluate,
    per_group_evaluate,
    pr_curve_plot,
)

T = TypeVar("T")


class Command(BaseCommand):
    help = "µAP and recall@P90 (DISC21 definitions) of predictions or descriptors, with a PR curve."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--ground-truth", required=True, type=Path, help="CSV query_id,reference_id (empty reference: no match)"
        )
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--predictions", type=Path, help="CSV query_id,reference_id,score")
        source.add_argument("--descriptors", type=Path, help="HDF5 with query, reference, query_ids, reference_ids")
        parser.add_argument(
            "--k-factor",
            type=int,
            default=DEFAULT_K_FACTOR,
            help="descriptors: keep the k-factor × n_queries closest pairs",
        )
        parser.add_argument("--curve", type=Path, help="PR curve PNG (default: <input stem>_pr.png next to the input)")
        parser.add_argument("--groups", type=Path, help="CSV query_id,group for a per-group table")
        parser.add_argument("--title", default="", help="title of the PR curve")

    def handle(self, *args, **options) -> None:
        source: Path = options["predictions"] or options["descriptors"]
        ground_truth = read_or_fail(formats.ground_truth_read_csv, options["ground_truth"])
        if options["predictions"]:
            predictions = read_or_fail(formats.predictions_read_csv, source)
        else:
            predictions = self.descriptors_matched(source, options["k_factor"])
        try:
            overall = matching_evaluate(predictions=predictions, ground_truth=ground_truth)
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(metrics_lines("all queries", overall))

        curves = {"all queries": overall}
        if options["groups"]:
            groups = read_or_fail(formats.groups_read_csv, options["groups"])
            by_group = per_group_evaluate(predictions=predictions, ground_truth=ground_truth, groups=groups)
            self.stdout.write(group_table(by_group))
            curves.update(by_group)

        curve_path = options["curve"] or source.with_name(f"{source.stem}_pr.png")
        try:
            curve_path.parent.mkdir(parents=True, exist_ok=True)
            pr_curve_plot(curves, curve_path, title=options["title"] or source.name)
        except OSError as error:
            raise CommandError(f"{curve_path}: cannot write the PR curve ({error})") from None
        self.stdout.write(f"PR curve: {curve_path}")

    def descriptors_matched(self, path: Path, k_factor: int) -> list[Prediction]:
        descriptors = read_or_fail(formats.descriptors_read_h5, path)
        self.stdout.write(
            f"Matching {len(descriptors.query_ids)} queries against "
            f"{len(descriptors.reference_ids)} references "
            f"({descriptors.query.shape[1]}-d), keeping {k_factor} × queries pairs"
        )
        try:
            return descriptor_predictions(
                query_ids=descriptors.query_ids,
                query_vectors=descriptors.query,
                reference_ids=descriptors.reference_ids,
                reference_vectors=descriptors.reference,
                k_factor=k_factor,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None


def read_or_fail(reader: Callable[[Path], T], path: Path) -> T:
    if not path.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        return reader(path)
    except (ValueError, UnicodeDecodeError) as error:
        message = str(error)
        raise CommandError(message if str(path) in message else f"{path}: {message}") from None


def metrics_lines(name: str, metrics: MatchingMetrics) -> str:
    threshold = "not reached" if metrics.threshold_at_p90 is None else f"{metrics.threshold_at_p90:g}"
    return "\n".join(
        [
            f"{name}: {metrics.n_predictions} predictions, {metrics.n_ground_truth} ground-truth "
            f"pairs, {metrics.n_true_positives} found",
            f"  µAP              {metrics.micro_ap:.4f}",
            f"  recall@P90       {metrics.recall_at_p90:.4f}",
            f"  threshold@P90    {threshold}",
        ]
    )


def group_table(by_group: dict[str, MatchingMetrics]) -> str:
    width = max([len("group"), *map(len, by_group)])
    rows = [f"{'group':<{width}}  {'µAP':>7}  {'R@P90':>7}  {'preds':>7}  {'gt':>6}  {'tp':>6}"]
    rows += [
        f"{name:<{width}}  {m.micro_ap:>7.4f}  {m.recall_at_p90:>7.4f}  {m.n_predictions:>7}  "
        f"{m.n_ground_truth:>6}  {m.n_true_positives:>6}"
        for name, m in by_group.items()
    ]
    return "\n".join(rows)
