"""The `data` of each event's JSON body."""

from __future__ import annotations

from django.urls import reverse

from search.collection.models import Collection, ReferenceImage
from search.queries.models import Match, QueryImage


def _image(kind: str, image: QueryImage | ReferenceImage) -> dict:
    if kind == "reference" and image.bank_id is not None:
        return _bank_entry(image)
    return {
        "id": image.id,
        "original_name": image.original_name,
        "sha256": image.sha256,
        "image_url": reverse("search:image_file", args=[kind, image.id, "original"]),
        "preview_url": reverse("search:image_file", args=[kind, image.id, "preview"]),
    }


def _bank_entry(entry: ReferenceImage) -> dict:
    """A bank entry has no picture: its signal and metadata stand in for it."""
    return {
        "id": entry.id,
        "original_name": entry.original_name,
        "sha256": entry.sha256,
        "bank_entry": {
            "bank": {"id": entry.bank_id, "name": entry.bank.name},
            "signal_type": entry.signal_type,
            "signal": entry.signal if entry.signal_type != "sscd" else None,
            "external_id": entry.external_id,
            "tags": entry.tags,
            "source": entry.source,
            "added_at": entry.created_at.isoformat() if entry.created_at else None,
        },
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
        "matched_by": match.matched_by or "descriptor",
        "hash_distance": match.hash_distance,
        "hash_threshold": match.hash_threshold,
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
