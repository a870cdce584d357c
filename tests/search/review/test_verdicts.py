"""The near-identical leader lookup: with the re-post index's candidates, and the full scan without them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from search.queries.models import QueryImage
from search.review import verdicts
from tests.review_world import World, nudged, unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(media_root):
    return World()


def test_only_the_proposed_candidates_are_compared_and_each_is_checked_on_its_own_descriptor(world):
    first = world.query(50, descriptor=unit(1))
    other = world.query(51, descriptor=unit(2))
    repost = QueryImage.objects.get(id=world.query(52, descriptor=nudged(unit(1), 0.95)).id)
    assert repost.near_duplicate_of_id == first.id
    repost.near_duplicate_of = None  # asked again below, with candidates this time
    assert verdicts.near_duplicate_leader(query=repost) == first, "the full scan finds it"
    assert verdicts.near_duplicate_leader(query=repost, candidate_ids=[first.id, other.id]) == first
    assert verdicts.near_duplicate_leader(query=repost, candidate_ids=[other.id]) is None, "unrelated: below 0.90"
    assert verdicts.near_duplicate_leader(query=repost, candidate_ids=[]) is None


def test_candidates_that_are_later_followers_or_outside_the_window_are_dropped(world, settings):
    first = world.query(50, descriptor=unit(1))
    follower = world.query(51, descriptor=nudged(unit(1), 0.99, seed=5))
    assert QueryImage.objects.get(id=follower.id).near_duplicate_of_id == first.id
    later = world.query(52, descriptor=nudged(unit(1), 0.97, seed=6))
    probe = QueryImage.objects.get(id=world.query(53, descriptor=nudged(unit(1), 0.96, seed=7)).id)
    probe.near_duplicate_of = None
    QueryImage.objects.filter(id=later.id).update(near_duplicate_of=None)  # a leader of its own
    assert verdicts.near_duplicate_leader(query=probe, candidate_ids=[later.id]) == later
    probe.id = later.id - 1  # as if it had been uploaded before `later` but searched after it
    assert verdicts.near_duplicate_leader(query=probe, candidate_ids=[later.id]) is None, "a later query"
    assert verdicts.near_duplicate_leader(query=probe, candidate_ids=[follower.id]) is None, "not a leader"
    settings.ISC = settings.ISC.replace(near_duplicate_window_days=30)
    QueryImage.objects.filter(id=first.id).update(created_at=timezone.now() - timedelta(days=31))
    assert verdicts.near_duplicate_leader(query=probe, candidate_ids=[first.id]) is None
    QueryImage.objects.filter(id=first.id).update(created_at=timezone.now() - timedelta(days=29))
    assert verdicts.near_duplicate_leader(query=probe, candidate_ids=[first.id]) == first
