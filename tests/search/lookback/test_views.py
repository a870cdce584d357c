"""A team's look-back jobs page, and the queue's mark on what a look-back found."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from search.lookback.models import LookbackJob
from tests.factories import CollectionFactory, UserFactory, team_with

pytestmark = pytest.mark.django_db


def test_the_page_lists_the_teams_jobs_with_progress_and_hides_other_teams():
    admin = UserFactory()
    team = team_with(admin)
    collection = CollectionFactory(team=team, created_by=admin)
    LookbackJob.objects.create(
        team=team,
        trigger=LookbackJob.Trigger.REFERENCES,
        collection=collection,
        item_ids=[1, 2, 3, 4],
        total=4,
        done=1,
        found=2,
        queries_checked=9,
        state=LookbackJob.State.RUNNING,
        since=timezone.now() - timedelta(days=90),
    )
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("search:lookback_jobs", args=[team.slug])).content.decode()
    assert "1 / 4" in page and 'value="25"' in page and collection.name in page and "Running" in page
    outsider = UserFactory()
    team_with(outsider)
    client.force_login(outsider)
    assert client.get(reverse("search:lookback_jobs", args=[team.slug])).status_code == 404
