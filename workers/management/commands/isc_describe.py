"""Descriptor track: one HDF5 with float32 `query` / `reference` (≤ 256 dims) and their ids."""

from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from copydetect.descriptors import DESCRIPTOR_NAMES, VIT_DESCRIPTOR_NAMES, descriptor_build
from copydetect.formats import descriptors_write_h5, descriptors_write_isc2021
from copydetect.imaging import image_load
from copydetect.projection import projection_fit
from workers import tracks

MAX_DIMS = 256


class Command(BaseCommand):
    help = "DISC21 descriptor track: embed --references and --queries with the site's descriptor engine."

    def add_arguments(self, parser):
        parser.add_argument("--references", type=Path, required=True)
        parser.add_argument("--queries", type=Path, required=True)
        parser.add_argument("--output", type=Path, required=True)
        parser.add_argument("--descriptor", default="sscd", choices=DESCRIPTOR_NAMES)
        parser.add_argument(
            "--vit-model",
            default=None,
            help="ViT model directory (default: ISC_VIT_MODEL, resolved "
            "as the workers do: the setup_vit export when the configured model is missing)",
        )
        parser.add_argument(
            "--fusion-dir", default=None, help="'fused' weights and projections (default: ISC_FUSION_DIR)"
        )
        parser.add_argument("--dims", type=int, default=MAX_DIMS)
        parser.add_argument(
            "--pca-on",
            choices=["references", "background"],
            default="references",
            help="vectors the PCA is learned on: the reference set itself (unsupervised), or --background images",
        )
        parser.add_argument("--background", type=Path, default=None)
        parser.add_argument("--whitening", type=float, default=0.0, help="0 = plain PCA, 0.5 = full whitening")
        parser.add_argument("--isc2021", action="store_true", help="also write the two per-set files isc2021 reads")
        parser.add_argument("--batch-size", type=int, default=32)

    def handle(self, *args, **options):
        if options["dims"] > MAX_DIMS:
            raise CommandError(f"The descriptor track allows at most {MAX_DIMS} dimensions.")
        from django.conf import settings

        from workers.runtime import vit_model_get

        try:
            descriptor = descriptor_build(
                name=options["descriptor"],
                vit_model=vit_model_get(options["vit_model"])
                if options["descriptor"] in VIT_DESCRIPTOR_NAMES
                else None,
                fusion_dir=options["fusion_dir"] or settings.ISC.fusion_dir,
                device=settings.ISC.device,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        references, queries = tracks.image_files(options["references"]), tracks.image_files(options["queries"])
        reference_vectors = self._embed(descriptor, references, "references", options["batch_size"])
        query_vectors = self._embed(descriptor, queries, "queries", options["batch_size"])
        if options["pca_on"] == "background":
            if not options["background"]:
                raise CommandError("--pca-on background needs --background DIR.")
            fit_on = self._embed(
                descriptor, tracks.image_files(options["background"]), "background", options["batch_size"]
            )
        else:
            fit_on = reference_vectors
        if descriptor.dim > options["dims"] or options["whitening"]:
            projection = projection_fit(
                fit_on, dim=min(options["dims"], descriptor.dim), whitening_power=options["whitening"]
            )
            reference_vectors, query_vectors = projection.apply(reference_vectors), projection.apply(query_vectors)
        options["output"].parent.mkdir(parents=True, exist_ok=True)
        ids = {"query_ids": [p.stem for p in queries], "reference_ids": [p.stem for p in references]}
        descriptors_write_h5(options["output"], query=query_vectors, reference=reference_vectors, **ids)
        if options["isc2021"]:
            descriptors_write_isc2021(options["output"].parent, query=query_vectors, reference=reference_vectors, **ids)
        self.stdout.write(
            f"wrote {len(queries)} query and {len(references)} reference descriptors of {query_vectors.shape[1]} dims "
            f"({descriptor.version}) to {options['output']}"
        )

    def _embed(self, descriptor, files: list[Path], label: str, batch_size: int) -> np.ndarray:
        vectors = []
        for start in tqdm(range(0, len(files), batch_size), desc=f"embed {label}", unit="batch"):
            images = [image_load(path, max_pixels=100_000_000) for path in files[start : start + batch_size]]
            vectors.append(descriptor.embed(images, batch_size=batch_size))
        return np.concatenate(vectors)
