import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from search.collection import services as collection_services
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.teams.models import Role
from tests.factories import CollectionFactory, MembershipFactory, UserFactory, team_with, token_client
from tests.images import encode, scene


@pytest.fixture(autouse=True)
def throttle_counters_cleared():
    # Throttle counters live in the cache; one test's requests must not count in the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def team(user):
    """`user`'s team, where they are admin (every action allowed; role limits are in test_roles.py)."""
    return team_with(user, Role.ADMIN, name="Newsroom", slug="newsroom")


@pytest.fixture
def api(user) -> APIClient:
    """A client authenticated as `user` with a real token."""
    return token_client(user)


@pytest.fixture
def stranger(db):
    """A user of another team, admin there: whatever they cannot reach of `team` is scoping, not roles."""
    stranger = UserFactory()
    team_with(stranger, Role.ADMIN, name="Elsewhere", slug="elsewhere")
    return stranger


@pytest.fixture
def stranger_api(stranger) -> APIClient:
    return token_client(stranger)


@pytest.fixture
def collection(user, team):
    return CollectionFactory(team=team, created_by=user, name="Known", match_threshold=0.5)


def member_api(team, role: Role) -> APIClient:
    """A client for a new member of `team` with `role`."""
    return token_client(MembershipFactory(team=team, role=role).user)


@pytest.fixture
def searched_query(collection, media_root):
    """A query of `collection` with two recorded matches, as a worker would leave it."""
    actor = collection.created_by
    added = collection_services.reference_images_add(
        actor=actor,
        collection=collection,
        items=[Payload("r1.jpg", encode(scene(1))), Payload("r2.jpg", encode(scene(2)))],
    ).created
    query, _ = queries_services.query_image_add(
        actor=actor, collection=collection, payload=Payload("q.jpg", encode(scene(3)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="sscd_test",
        search_ms=42,
        results=[
            queries_services.MatchResult(
                added[0].id, 0.81, True, 37, 0.7, [[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.6]], 0.93
            ),
            queries_services.MatchResult(added[1].id, 0.35, False, 2, 0.0, [], 0.2),
        ],
    )
    query.refresh_from_db()
    return query
