"""The DISC21 tracks run through the site's own path: services store the images, tasks index and
search them, Match rows become predictions. Used by the isc_* management commands."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction

from copydetect.imaging import IMAGE_SUFFIXES
from copydetect.metrics import Prediction
from search.collection import services as collection_services
from search.collection.models import Collection, ImageStatus
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import Match
from search.teams import services as teams_services
from search.teams.models import Membership, Role, Team

logger = logging.getLogger(__name__)
TRACK_USER = "isc-track-runner"
TRACK_TEAM = "DISC21 tracks"


@dataclass(frozen=True)
class TrackOptions:
    descriptor: str
    verification: bool = True
    milvus_uri: str | None = None  # None: an embedded Milvus Lite in a temporary folder
    top_k: int = 20
    vit_model: str | None = None  # None: settings.ISC.vit_model (resolved by workers.runtime)
    fusion_dir: str | None = None  # None: settings.ISC.fusion_dir


@dataclass
class TrackTimings:
    references: int = 0
    queries: int = 0
    index_seconds: float = 0.0
    search_seconds: float = 0.0

    @property
    def ms_per_reference(self) -> float:
        return 1000 * self.index_seconds / max(self.references, 1)

    @property
    def ms_per_query(self) -> float:
        return 1000 * self.search_seconds / max(self.queries, 1)


def image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"No images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}.")
    return files


@contextlib.contextmanager
def track_environment(options: TrackOptions) -> Iterator[None]:
    """Temporary media, features and (unless given) Milvus; tasks run in this process."""
    from copydetect.milvus_lite import MilvusLiteServer
    from isc_site.celery import app
    from workers import runtime

    with tempfile.TemporaryDirectory(prefix="isc-track-") as scratch, contextlib.ExitStack() as stack:
        scratch_path = Path(scratch)
        uri = options.milvus_uri or stack.enter_context(MilvusLiteServer(scratch_path / "milvus")).uri
        saved = (settings.MEDIA_ROOT, settings.ISC, app.conf.task_always_eager)
        settings.MEDIA_ROOT = scratch_path / "media"
        settings.ISC = settings.ISC.replace(
            milvus_uri=uri,
            descriptor=options.descriptor,
            features_dir=str(scratch_path / "features"),
            verify_top_k=settings.ISC.verify_top_k if options.verification else 0,
            search_top_k=options.top_k,
            vit_model=options.vit_model or settings.ISC.vit_model,
            fusion_dir=options.fusion_dir or settings.ISC.fusion_dir,
            follow_live_version=False,
        )
        app.conf.task_always_eager = True
        runtime.engines_reset()
        try:
            yield
        finally:
            settings.MEDIA_ROOT, settings.ISC, app.conf.task_always_eager = saved
            runtime.engines_reset()


def track_collection_create() -> Collection:
    call_command("migrate", verbosity=0, interactive=False)
    user, _ = get_user_model().objects.get_or_create(username=TRACK_USER, defaults={"is_active": False})
    team = Team.objects.filter(name=TRACK_TEAM).first() or teams_services.team_create(name=TRACK_TEAM, creator=user)
    Membership.objects.update_or_create(team=team, user=user, defaults={"role": Role.ADMIN})
    return collection_services.collection_create(
        actor=user, team=team, name=f"DISC21 track {time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns()}"
    )


def _runner(collection: Collection):
    return collection.created_by


def references_load(
    *, collection: Collection, files: list[Path], progress: Callable[[int], None]
) -> dict[int, list[str]]:
    """Indexes every file; returns reference row id → the file stems stored as that row."""
    stems_by_row: dict[int, list[str]] = {}
    for path in files:
        report = collection_services.reference_images_add(
            actor=_runner(collection), collection=collection, items=[Payload(path.name, path.read_bytes())]
        )
        progress(1)
        for rejection in report.rejected:
            logger.warning("reference %s rejected: %s", rejection.name, rejection.reason)
        if report.rejected:
            continue
        # Same bytes as an earlier file: the earlier row stands for both.
        row = report.created[0] if report.created else _row_by_bytes(collection, path)
        stems_by_row.setdefault(row.id, []).append(path.stem)
    failed = collection.references.filter(status=ImageStatus.FAILED).count()
    if failed:
        logger.warning("%d references failed to index", failed)
    return stems_by_row


def _row_by_bytes(collection: Collection, path: Path):
    from copydetect.imaging import sha256_of

    return collection.references.get(sha256=sha256_of(path.read_bytes()))


def queries_search(
    *, collection: Collection, files: list[Path], progress: Callable[[int], None]
) -> dict[int, list[str]]:
    """Searches every query file; returns query row id → file stems."""
    stems_by_row: dict[int, list[str]] = {}
    for path in files:
        try:
            query, _ = queries_services.query_image_add(
                actor=_runner(collection), collection=collection, payload=Payload(path.name, path.read_bytes())
            )
        except ValueError as exc:
            logger.warning("query %s rejected: %s", path.name, exc)
            progress(1)
            continue
        stems_by_row.setdefault(query.id, []).append(path.stem)
        progress(1)
    return stems_by_row


def predictions_collect(
    *, collection: Collection, reference_stems: dict[int, list[str]], query_stems: dict[int, list[str]]
) -> list[Prediction]:
    predictions = []
    rows = Match.objects.filter(query__collection=collection).values_list("query_id", "reference_id", "final_score")
    for query_id, reference_id, score in rows:
        for query_stem in query_stems.get(query_id, []):
            for reference_stem in reference_stems.get(reference_id, []):
                predictions.append(Prediction(query_stem, reference_stem, float(score)))
    return predictions


def candidate_rows(*, collection: Collection, reference_stems, query_stems) -> list[dict]:
    """Every candidate with the evidence behind its score, for calibration and error analysis."""
    rows = []
    for match in Match.objects.filter(query__collection=collection).order_by("query_id", "rank"):
        for query_stem in query_stems.get(match.query_id, []):
            for reference_stem in reference_stems.get(match.reference_id, []):
                rows.append(
                    {
                        "query_id": query_stem,
                        "reference_id": reference_stem,
                        "rank": match.rank,
                        "descriptor_similarity": match.descriptor_similarity,
                        "verified": int(match.verified),
                        "inliers": match.inliers,
                        "verification_score": match.verification_score,
                        "final_score": match.final_score,
                    }
                )
    return rows


def track_collection_delete(collection: Collection) -> None:
    with transaction.atomic():
        collection_services.collection_delete(actor=_runner(collection), collection=collection)
