"""A small team world for review tests: a collection, its admin and a moderator, a reference, and queries
whose results are recorded as a worker would, with chosen descriptors (unit vectors at chosen cosines)."""

import numpy as np

from search.collection import services as collection_services
from search.collection.models import ReferenceImage
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import QueryImage
from search.teams.models import Role
from tests.factories import CollectionFactory, MembershipFactory
from tests.images import encode, scene

DIM = 64


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=DIM)
    return vector / np.linalg.norm(vector)


def nudged(vector: np.ndarray, cosine: float, seed: int = 99) -> np.ndarray:
    """A unit vector at exactly `cosine` from `vector`."""
    other = np.random.default_rng(seed).normal(size=DIM)
    other -= other.dot(vector) * vector
    other /= np.linalg.norm(other)
    return cosine * vector + np.sqrt(1 - cosine**2) * other


class World:
    def __init__(self, collection=None):
        self.collection = collection or CollectionFactory()
        self.admin = self.collection.created_by
        self.moderator = MembershipFactory(team=self.collection.team, role=Role.MODERATOR).user
        self.reference = self.reference_add(1)

    def reference_add(self, seed: int) -> ReferenceImage:
        return collection_services.reference_images_add(
            actor=self.admin, collection=self.collection, items=[Payload(f"r{seed}.jpg", encode(scene(seed)))]
        ).created[0]

    def query(self, seed: int, *, descriptor, score: float = 0.9, reference=None, name=None) -> QueryImage:
        query, _ = queries_services.query_image_add(
            actor=self.admin, collection=self.collection, payload=Payload(name or f"q{seed}.jpg", encode(scene(seed)))
        )
        self.search(query, descriptor=descriptor, score=score, reference=reference)
        return query

    def search(self, query, *, descriptor, score=0.9, reference=None, version="v"):
        reference = reference or self.reference
        queries_services.query_results_record(
            query_id=query.id,
            descriptor_version=version,
            search_ms=1,
            results=[queries_services.MatchResult(reference.id, score, True, 20, 0.5, [[0.2, 0.2, 0.3, 0.3]], score)],
            query_descriptor=descriptor,
        )
        return query.matches.get(reference=reference)
