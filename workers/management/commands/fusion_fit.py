"""`python manage.py fusion_fit --background DIR`: weights and per-part projections for the 'fused' descriptor.

Embeds the background images (never benchmark images) with SSCD and the ViT, fits one projection per
part (centring, or PCA-whitening with --whitening 0.5) and writes them with the weights to the fusion
directory (default ISC_FUSION_DIR). The fused version string records all of it: changing it is a reindex.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from copydetect.descriptors import descriptor_build
from copydetect.descriptors.fused import DEFAULT_WEIGHTS, fusion_projections_fit, fusion_save
from copydetect.imaging import IMAGE_SUFFIXES, image_load

PARTS = ("sscd", "vit")


class Command(BaseCommand):
    help = "Fit the 'fused' descriptor's per-part projections on background images and save its weights."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--background", type=Path, required=True, help="folder of background images (searched recursively)"
        )
        parser.add_argument("--out", type=Path, default=None, help="fusion directory (default: ISC_FUSION_DIR)")
        parser.add_argument(
            "--limit", type=int, default=1000, help="at most this many background images (random, seeded)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--whitening", type=float, default=0.0, help="0 = centring only, 0.5 = full PCA-whitening")
        parser.add_argument("--no-projection", action="store_true", help="weights only; the parts stay raw")
        for part in PARTS:
            parser.add_argument(f"--{part}-weight", type=float, default=DEFAULT_WEIGHTS[part])
        parser.add_argument("--vit-model", default=None, help="default: ISC_VIT_MODEL, resolved as the workers do")
        parser.add_argument("--batch-size", type=int, default=16)

    def handle(self, *args, **options) -> None:
        from workers.runtime import vit_model_get

        out: Path = options["out"] or Path(settings.ISC.fusion_dir)
        weights = {part: options[f"{part}_weight"] for part in PARTS}
        projections = {}
        fitted_on = ""
        if not options["no_projection"]:
            files = sorted(
                p for p in options["background"].rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if len(files) < 2:
                raise CommandError(f"Need at least two background images under {options['background']}.")
            if len(files) > options["limit"]:
                files = sorted(random.Random(options["seed"]).sample(files, options["limit"]))
            try:
                parts = {
                    "sscd": descriptor_build(name="sscd"),
                    "vit": descriptor_build(
                        name="vit", vit_model=vit_model_get(options["vit_model"]), device=settings.ISC.device
                    ),
                }
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            vectors = {name: [] for name in parts}
            batch_size = options["batch_size"]
            for start in tqdm(range(0, len(files), batch_size), desc="embed background", unit="batch"):
                images = [image_load(path, max_pixels=100_000_000) for path in files[start : start + batch_size]]
                for name, descriptor in parts.items():
                    vectors[name].append(descriptor.embed(images, batch_size=batch_size))
            projections = fusion_projections_fit(
                {name: np.concatenate(chunks) for name, chunks in vectors.items()}, whitening_power=options["whitening"]
            )
            fitted_on = f"{len(files)} images under {options['background']} (seed {options['seed']}), whitening {options['whitening']:g}"
        fusion_save(out, weights=weights, projections=projections, fitted_on=fitted_on)
        self.stdout.write(f"Wrote {out.resolve()} (weights {weights}{'; ' + fitted_on if fitted_on else ''})")
