"""python manage.py train_descriptor --images data/train --out models/NAME --minutes 8 [--benchmark DIR] …

Thin adapter: the work is in copydetect.training.train (also runnable as `python -m copydetect.training.train`
where Django is not installed, e.g. the GPU machine).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from copydetect.training.config import add_arguments, config_from_args, summary
from copydetect.training.train import train


class Command(BaseCommand):
    help = "Fine-tune a DINOv2 ViT into a copy-detection descriptor (SSCD recipe) and save it for the vit descriptor."

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        try:
            stats = train(config_from_args(options))
        except (FileNotFoundError, ValueError, RuntimeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary(stats))
