"""The `data` of each event's JSON body."""

from __future__ import annotations

from django.urls import reverse

from search.collection.models import Collection, ReferenceImage
from search.queries.models import Match, QueryImage


def _image(kind: str, image: QueryImage | ReferenceImage) -> dict:
    return {
        "id": image.id,
        "original_name": image.original_name,
        "sha256": image.sha256,
        "image_url": reverse("search:image_file", args=[kind, image.id, "original"]),
        "preview_url": reverse("search:image_file", args=[kind, image.id, "preview"]),
    }


def _collection(collection: Collection) -> dict:
    return {
        "id": collection.id,
        "name": collection.name,
        "match_threshold": collection.match_threshold,
        "url": reverse("search:collection_detail", args=[collection.id]),
    }


def _match(match: Match) -> dict:
    return {
        "id": match.id,
        "rank": match.rank,
        "final_score": match.final_score,
        "descriptor_similarity": match.descriptor_similarity,
        "verified": match.verified,
        "inliers": match.inliers,
        "review": match.review,
        "reference": _image("reference", match.reference),
    }


def match_verdict_payload(*, match: Match) -> dict:
    """For match.confirmed / match.rejected."""
    query = match.query
    return {
        "match": {
            **_match(match),
            "reviewed_by": match.reviewed_by.get_username() if match.reviewed_by_id else None,
            "reviewed_at": match.reviewed_at.isoformat() if match.reviewed_at else None,
        },
        "query": {**_image("query", query), "url": reverse("search:query_detail", args=[query.id])},
        "collection": _collection(query.collection),
    }


def query_flagged_payload(*, query: QueryImage) -> dict:
    """For query.flagged: the query and its matches at or above the collection's threshold, best first."""
    collection = query.collection
    flagged = (
        query.matches.filter(final_score__gte=collection.match_threshold)
        .select_related("reference")
        .order_by("-final_score", "rank")
    )
    return {
        "query": {**_image("query", query), "url": reverse("search:query_detail", args=[query.id])},
        "collection": _collection(collection),
        "matches": [_match(match) for match in flagged],
    }
