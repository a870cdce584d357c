"""The team dashboard: queue depth and age, per-day and per-moderator figures, precision from the verdicts,
and the one-click (audited) threshold change."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from search.core.models import AuditAction, AuditEvent
from search.dashboard import selectors as dashboard_selectors
from search.queries.models import Match
from search.review import services as review_services
from search.review.models import PairVerdict, ReviewDecision
from tests.review_world import World, unit

pytestmark = pytest.mark.django_db


def test_queue_depth_oldest_item_and_per_day_counts(media_root):
    world = World()
    first = world.query(50, descriptor=unit(1)).matches.get()
    world.query(51, descriptor=unit(2))
    Match.objects.filter(id=first.id).update(created_at=timezone.now() - timedelta(days=2, hours=5))
    board = dashboard_selectors.team_dashboard(team=world.collection.team)
    assert board.queue_depth == 2
    assert timedelta(days=2, hours=4, minutes=59) < board.oldest_unreviewed < timedelta(days=2, hours=5, minutes=1)
    assert board.matches_per_day[-1] == 1 and sum(board.matches_per_day) == 2, "one today, one two days ago"
    review_services.match_claim(actor=world.moderator, match=first)
    review_services.verdict_set(actor=world.moderator, match=first, decision=ReviewDecision.CONFIRMED)
    board = dashboard_selectors.team_dashboard(team=world.collection.team)
    assert board.queue_depth == 1 and board.verdicts_per_day[-1] == 1
    [row] = board.moderators
    assert row.username == world.moderator.username and row.verdicts == 1 and row.median_decision_seconds >= 0


def test_precision_curve_and_the_threshold_for_90_percent(media_root):
    world = World()
    # Verdicts at scores 0.95..0.50: confirmed above 0.7, two rejected at 0.65 and 0.55, one confirmed at 0.5.
    plan = [(0.95, "confirmed"), (0.9, "confirmed"), (0.85, "confirmed"), (0.8, "confirmed"), (0.75, "confirmed")]
    plan += [(0.65, "rejected"), (0.55, "rejected"), (0.5, "confirmed")]
    for seed, (score, decision) in enumerate(plan):
        match = world.query(50 + seed, descriptor=unit(seed), score=score).matches.get()
        review_services.verdict_set(actor=world.moderator, match=match, decision=decision)
    result = dashboard_selectors.precision_of(world.collection)
    assert result.verdicts == 8
    assert result.precision_now == pytest.approx(6 / 8)  # threshold 0.5: everything counts
    by_threshold = {point["threshold"]: point for point in result.curve}
    assert by_threshold[0.75] == {
        "threshold": 0.75,
        "threshold_text": "0.750",
        "precision": 1.0,
        "recall": pytest.approx(5 / 6, abs=1e-4),
    }
    assert by_threshold[0.65]["precision"] == pytest.approx(5 / 6, abs=1e-4)
    assert result.target_threshold == 0.75, "lowest threshold whose precision is still ≥ 90 %"
    assert result.suggested_threshold == 0.5 and result.confirmed_kept, "0.75 would hide the copy confirmed at 0.5"
    assert result.precision_at_suggestion == pytest.approx(6 / 8)


def test_one_click_sets_the_suggested_threshold_and_is_audited(client, media_root):
    world = World()
    for seed, score in enumerate((0.9, 0.8, 0.7, 0.6, 0.55)):
        match = world.query(50 + seed, descriptor=unit(seed), score=score).matches.get()
        review_services.verdict_set(
            actor=world.moderator, match=match, decision="rejected" if score < 0.65 else "confirmed"
        )
    client.force_login(world.admin)
    page = client.get(reverse("search:team_dashboard", args=[world.collection.team.slug]))
    assert "Set threshold to 0.700" in page.content.decode()
    assert "vendor/chartjs-4.6.1/chart.umd.min.js" in page.content.decode()
    response = client.post(
        reverse("search:dashboard_threshold", args=[world.collection.team.slug]),
        {"collection": world.collection.id, "threshold": "0.7"},
    )
    assert response.status_code == 302
    world.collection.refresh_from_db()
    assert world.collection.match_threshold == 0.7
    event = AuditEvent.objects.get(action=AuditAction.THRESHOLD_CHANGE)
    assert event.before == {"match_threshold": 0.5} and event.after == {"match_threshold": 0.7}
    assert event.actor == world.admin
    client.force_login(world.moderator)
    denied = client.post(
        reverse("search:dashboard_threshold", args=[world.collection.team.slug]),
        {"collection": world.collection.id, "threshold": "0.1"},
    )
    assert denied.status_code == 403 and PairVerdict.objects.count() == 5


def test_ninety_percent_exactly_counts(media_root):
    world = World()
    plan = [(0.97, "rejected")] + [(0.96 - 0.04 * step, "confirmed") for step in range(9)]
    for seed, (score, decision) in enumerate(plan):
        match = world.query(50 + seed, descriptor=unit(seed), score=score).matches.get()
        review_services.verdict_set(actor=world.moderator, match=match, decision=decision)
    result = dashboard_selectors.precision_of(world.collection)
    assert result.verdicts == 10
    assert result.suggested_threshold == pytest.approx(0.64), "9 of 10 confirmed is 90 %: the lowest score qualifies"
    assert not result.confirmed_kept


def test_suggestion_keeps_exact_scores_and_says_what_it_hides(client, media_root):
    """Scores near 1: the suggestion is the confirmed pair's own score (not rounded up past it), shown with
    enough digits to differ from 1, and the page says how many queue items it would drop before the click."""
    world = World()
    plan = [(0.6, "rejected"), (0.7, "rejected"), (0.99966, "confirmed"), (0.99967, "confirmed")]
    plan += [(0.9998, "confirmed"), (0.9999, "confirmed")]
    for seed, (score, decision) in enumerate(plan):
        match = world.query(50 + seed, descriptor=unit(seed), score=score).matches.get()
        review_services.verdict_set(actor=world.moderator, match=match, decision=decision)
    for seed, score in enumerate((0.55, 0.99965, 0.99999), start=80):
        world.query(seed, descriptor=unit(seed), score=score)
    result = dashboard_selectors.precision_of(world.collection)
    assert result.suggested_threshold == 0.99966
    assert [point["threshold_text"] for point in result.curve][:2] == ["0.9999", "0.9998"], "the chart's labels"
    assert result.hides_unreviewed == 2, "the unreviewed items at 0.55 and 0.99965; 0.99999 stays"
    client.force_login(world.admin)
    page = client.get(reverse("search:team_dashboard", args=[world.collection.team.slug])).content.decode()
    assert "Set threshold to 0.9997" in page and "1.000" not in page
    assert 'name="threshold" value="0.99966"' in page
    assert "This takes <b>2</b> unreviewed items out of the queue." in page
    client.post(
        reverse("search:dashboard_threshold", args=[world.collection.team.slug]),
        {"collection": world.collection.id, "threshold": "0.99966"},
    )
    confirmed = Match.objects.filter(review=ReviewDecision.CONFIRMED, final_score__gte=0.99966)
    assert confirmed.count() == 4, "every confirmed copy is still at or above the new threshold"
    assert dashboard_selectors.queue_depth(team=world.collection.team) == 1


def test_the_suggestion_keeps_a_confirmed_match_flagged_at_its_score_now(media_root):
    world = World()
    plan = [(0.95, "confirmed"), (0.9, "confirmed"), (0.85, "confirmed"), (0.8, "confirmed"), (0.6, "rejected")]
    matches = []
    for seed, (score, decision) in enumerate(plan):
        match = world.query(50 + seed, descriptor=unit(seed), score=score).matches.get()
        review_services.verdict_set(actor=world.moderator, match=match, decision=decision)
        matches.append(match)
    assert dashboard_selectors.precision_of(world.collection).suggested_threshold == 0.8
    Match.objects.filter(id=matches[0].id).update(final_score=0.7)  # rescored by a reindex since the verdict
    result = dashboard_selectors.precision_of(world.collection)
    assert result.suggested_threshold == 0.7 and result.confirmed_kept
