"""Fits the final-score calibration of one descriptor from `isc_match --candidates` output."""

import csv
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from copydetect.formats import ground_truth_read_csv
from copydetect.scoring import calibration_fit, calibration_path, candidate_rows_features


class Command(BaseCommand):
    help = "Fit the logistic score calibration on a labelled benchmark's candidates (never on the evaluation seed)."

    def add_arguments(self, parser):
        parser.add_argument("--candidates", type=Path, required=True, help="CSV written by isc_match --candidates")
        parser.add_argument("--ground-truth", type=Path, required=True)
        parser.add_argument("--descriptor", required=True)
        parser.add_argument("--out-dir", type=Path, default=None, help="default: settings ISC CALIBRATION_DIR")

    def handle(self, *args, **options):
        for key in ("candidates", "ground_truth"):
            if not options[key].exists():
                raise CommandError(f"{options[key]} does not exist.")
        truth = {(q, r) for q, r in ground_truth_read_csv(options["ground_truth"]) if r}
        with open(options["candidates"], newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise CommandError("The candidates file is empty.")
        features = candidate_rows_features(rows)
        labels = np.array([(row["query_id"], row["reference_id"]) in truth for row in rows], dtype=float)
        calibration = calibration_fit(
            features=features,
            labels=labels,
            descriptor=options["descriptor"],
            fitted_on=str(options["candidates"].name),
        )
        directory = options["out_dir"] or Path(settings.ISC.calibration_dir)
        path = calibration_path(directory, options["descriptor"])
        calibration.save(path)
        self.stdout.write(
            f"fitted on {len(rows)} candidates ({int(labels.sum())} copies): weights {calibration.weights}, "
            f"bias {calibration.bias:.3f} → {path}"
        )
