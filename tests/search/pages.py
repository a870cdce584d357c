"""Helpers of the page tests: the messages a page shows, a named upload, a query of a collection."""

from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from tests.images import encode, scene


def page_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def query_uploaded(collection, seed: int = 5) -> QueryImage:
    query, _ = queries_services.query_image_add(
        actor=collection.created_by, collection=collection, payload=Payload("q.jpg", encode(scene(seed)))
    )
    return query
