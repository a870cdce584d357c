"""A stored image of either kind (reference or query), for the user asking."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404

from search.collection.models import ReferenceImage
from search.collection.selectors import reference_get
from search.queries.models import QueryImage
from search.queries.selectors import query_get


def stored_image_get(*, user: AbstractBaseUser, kind: str, image_id: int) -> ReferenceImage | QueryImage:
    """A reference ('reference') or query ('query') image of one of the user's teams; 404 otherwise."""
    if kind == "query":
        return query_get(user=user, query_id=image_id)
    if kind == "reference":
        return reference_get(user=user, reference_id=image_id)
    raise Http404("Unknown image kind.")
