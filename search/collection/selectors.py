"""Reads of collections and their references, always for the user asking."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, QuerySet
from django.shortcuts import get_object_or_404

from search.collection.models import Collection, ImageStatus, ReferenceImage
from search.teams.selectors import team_ids_of


def collection_list(*, user: AbstractBaseUser) -> QuerySet[Collection]:
    return (
        Collection.objects.filter(team__in=team_ids_of(user))
        .select_related("team")
        .annotate(
            reference_count=Count("references", distinct=True),
            query_count=Count("queries", distinct=True),
        )
    )


def collection_get(*, user: AbstractBaseUser, collection_id: int) -> Collection:
    return get_object_or_404(Collection.objects.select_related("team"), id=collection_id, team__in=team_ids_of(user))


@dataclass(frozen=True)
class Progress:
    total: int
    indexed: int
    pending: int
    processing: int
    failed: int
    # Why waiting rows wait, when a dependency is down ("Search backend unavailable, retrying ...").
    notice: str = ""

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.processing == 0

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else round(100 * (self.indexed + self.failed) / self.total)


def reference_progress(*, collection: Collection) -> Progress:
    counts = dict(collection.references.values_list("status").annotate(n=Count("id")))
    return Progress(
        total=sum(counts.values()),
        indexed=counts.get(ImageStatus.INDEXED, 0),
        pending=counts.get(ImageStatus.PENDING, 0),
        processing=counts.get(ImageStatus.PROCESSING, 0),
        failed=counts.get(ImageStatus.FAILED, 0),
        notice=collection.references.filter(status=ImageStatus.PENDING)
        .exclude(notice="")
        .values_list("notice", flat=True)
        .first()
        or "",
    )


def reference_list(*, collection: Collection, status: str | None = None) -> QuerySet[ReferenceImage]:
    references = collection.references.all()
    return references.filter(status=status) if status else references


def reference_find(*, collection: Collection, sha256: str) -> ReferenceImage | None:
    """The collection's reference holding exactly these bytes, if any."""
    return collection.references.filter(sha256=sha256).first()


def collection_choices(*, user: AbstractBaseUser) -> QuerySet[Collection]:
    """The collections a user may pick from in a form (the evaluation page), by name."""
    return Collection.objects.filter(team__in=team_ids_of(user)).order_by("name")


def reference_get(*, user: AbstractBaseUser, reference_id: int) -> ReferenceImage:
    return get_object_or_404(
        ReferenceImage.objects.select_related("collection__team"),
        id=reference_id,
        collection__team__in=team_ids_of(user),
    )
