"""Verdicts that stick to pictures, near-identical re-posts, claims, undo, allowlist, quarantine, soft delete."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from search.collection import services as collection_services
from search.collection.models import ReferenceImage
from search.core.models import AuditAction, AuditEvent
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.queries.models import Match, QueryImage
from search.review import selectors as review_selectors
from search.review import services as review_services
from search.review.models import PairVerdict, ReviewDecision
from search.teams.models import Role
from tests.factories import CollectionFactory, MembershipFactory, UserFactory, collection_for
from tests.images import encode, scene
from tests.review_world import World, nudged, unit

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(media_root):
    return World()


def test_a_rejected_pair_never_returns_after_a_rerun_a_reindex_or_a_re_upload(world):
    query = world.query(50, descriptor=unit(1))
    review_services.verdict_set(actor=world.moderator, match=query.matches.get(), decision=ReviewDecision.REJECTED)
    rerun = world.search(query, descriptor=unit(1))
    assert rerun.review == ReviewDecision.REJECTED and rerun.reviewed_by == world.moderator
    Match.objects.filter(query=query).delete()  # as if the rows were lost; a reindex to another version re-runs
    after_reindex = world.search(query, descriptor=unit(1), version="v2")
    assert after_reindex.review == ReviewDecision.REJECTED
    # The same picture uploaded again (the first row deleted), and into another collection of the team.
    query.delete()
    again = world.query(50, descriptor=unit(1))
    assert again.matches.get().review == ReviewDecision.REJECTED
    other = World(CollectionFactory(team=world.collection.team, created_by=world.admin))
    elsewhere = other.query(50, descriptor=None, reference=other.reference)
    assert elsewhere.matches.get().review == ReviewDecision.REJECTED, "same pictures, same team: same verdict"
    assert review_selectors.review_items(user=world.moderator) == []
    assert PairVerdict.objects.count() == 1


def test_a_near_identical_copy_of_a_rejected_query_stays_rejected_and_an_edit_does_not(world):
    first = world.query(50, descriptor=unit(1))
    review_services.verdict_set(actor=world.moderator, match=first.matches.get(), decision=ReviewDecision.REJECTED)
    repost = world.query(51, descriptor=nudged(unit(1), 0.93))  # other bytes, cosine 0.93 ≥ 0.90
    edit = world.query(52, descriptor=nudged(unit(1), 0.86))  # an edited copy: cosine 0.86 < 0.90
    assert repost.matches.get().review == ReviewDecision.REJECTED
    assert edit.matches.get().review == ReviewDecision.UNREVIEWED
    inherited = AuditEvent.objects.get(action=AuditAction.VERDICT_INHERIT)
    assert inherited.target_id == repost.matches.get().id and inherited.after["from_query_sha256"] == first.sha256


def test_the_rule_follows_the_setting(world, settings):
    settings.ISC = settings.ISC.replace(near_duplicate_similarity=0.8)
    first = world.query(50, descriptor=unit(1))
    review_services.verdict_set(actor=world.moderator, match=first.matches.get(), decision=ReviewDecision.REJECTED)
    assert world.query(52, descriptor=nudged(unit(1), 0.86)).matches.get().review == ReviewDecision.REJECTED


def test_re_posts_are_one_item_and_one_verdict_covers_them(world):
    first = world.query(50, descriptor=unit(1), score=0.8)
    repost = world.query(51, descriptor=nudged(unit(1), 0.97), score=0.95)
    unrelated = world.query(52, descriptor=unit(2), score=0.7)
    assert repost.near_duplicate_of_id is None
    repost.refresh_from_db()
    assert repost.near_duplicate_of_id == first.id and QueryImage.objects.get(id=unrelated.id).near_duplicate_of is None
    items = review_selectors.review_items(user=world.moderator)
    assert [item.match.query_id for item in items] == [repost.id, unrelated.id], "strongest row leads the item"
    assert {m.query_id for m in items[0].members} == {first.id, repost.id}
    assert review_selectors.review_item_counts(user=world.moderator)["unreviewed"] == 2
    review_services.verdict_set(actor=world.moderator, match=items[0].match, decision=ReviewDecision.CONFIRMED)
    assert set(Match.objects.filter(review="confirmed").values_list("query_id", flat=True)) == {first.id, repost.id}
    oldest_first = review_selectors.review_items(
        user=world.moderator, filters=review_selectors.QueueFilter(order="oldest")
    )
    assert [item.match.query_id for item in oldest_first] == [unrelated.id]


def test_two_moderators_never_hold_the_same_item(world):
    match = world.query(50, descriptor=unit(1)).matches.get()
    other = MembershipFactory(team=world.collection.team, role=Role.MODERATOR).user
    assert review_services.match_claim(actor=world.moderator, match=match)
    claimed_at = Match.objects.get(id=match.id).claimed_at
    assert not review_services.match_claim(actor=other, match=match)
    with pytest.raises(review_services.ClaimedByOther):
        review_services.verdict_set(actor=other, match=match, decision=ReviewDecision.REJECTED)
    assert review_services.match_claim(actor=world.moderator, match=match)
    assert Match.objects.get(id=match.id).claimed_at == claimed_at, "re-opening keeps the first claim time"
    # The other moderator's queue skips the held item; after the claim lapses they can take it.
    item = review_selectors.review_items(user=other)[0]
    assert item.claimed_by_other(other) and review_selectors.neighbours(
        user=other, filters=review_selectors.QueueFilter(), match=match
    ) == (None, None)
    Match.objects.filter(id=match.id).update(claimed_at=timezone.now() - timedelta(minutes=11))
    assert review_services.match_claim(actor=other, match=match)
    review_services.verdict_set(actor=other, match=match, decision=ReviewDecision.REJECTED)
    verdict = PairVerdict.objects.get()
    assert verdict.decided_by == other and verdict.claimed_at is not None and verdict.decided_at >= verdict.claimed_at


def test_undo_of_the_last_verdicts_puts_items_back(world):
    first = world.query(50, descriptor=unit(1)).matches.get()
    second = world.query(51, descriptor=unit(2)).matches.get()
    review_services.verdict_set(actor=world.moderator, match=first, decision=ReviewDecision.CONFIRMED)
    review_services.verdict_set(actor=world.moderator, match=second, decision=ReviewDecision.REJECTED)
    assert review_selectors.review_items(user=world.moderator) == []
    assert [m.id for m in review_services.verdict_undo_last(actor=world.moderator)] == [second.id]
    assert [m.id for m in review_services.verdict_undo_last(actor=world.moderator)] == [first.id]
    assert {item.match.id for item in review_selectors.review_items(user=world.moderator)} == {first.id, second.id}
    assert PairVerdict.objects.count() == 0
    assert AuditEvent.objects.filter(action=AuditAction.MATCH_UNDO).count() == 2


def test_a_copy_confirmed_from_below_the_threshold_shows_with_the_confirmed(world):
    low = world.query(50, descriptor=unit(1), score=0.2).matches.get()
    assert review_selectors.review_items(user=world.moderator) == []
    review_services.match_review(match=low, reviewer=world.moderator, decision=ReviewDecision.CONFIRMED)
    confirmed = review_selectors.review_items(
        user=world.moderator, filters=review_selectors.QueueFilter(state="confirmed")
    )
    assert [item.match.id for item in confirmed] == [low.id]


def test_filters_by_collection_score_band_and_date(world):
    world.query(50, descriptor=unit(1), score=0.6)
    high = world.query(51, descriptor=unit(2), score=0.95).matches.get()
    band = review_selectors.queue_filter_parse({"score_min": "0.9", "score_max": "1"})
    assert [item.match.id for item in review_selectors.review_items(user=world.moderator, filters=band)] == [high.id]
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    later = review_selectors.queue_filter_parse({"since": tomorrow})
    assert review_selectors.review_items(user=world.moderator, filters=later) == []
    elsewhere = review_selectors.queue_filter_parse({"collection": str(world.collection.id + 1000)})
    assert review_selectors.review_items(user=world.moderator, filters=elsewhere) == []


def test_an_allowlisted_picture_suppresses_its_copies_with_the_reason(world):
    stock = world.query(50, descriptor=unit(1)).matches.get()
    review_services.allowlist_add(actor=world.moderator, match=stock, reason="stock photo used by every meme")
    assert Match.objects.get(id=stock.id).suppressed_reason == "Allowlisted: stock photo used by every meme"
    meme = world.query(51, descriptor=nudged(unit(1), 0.95)).matches.get()
    assert meme.suppressed_reason.startswith("Allowlisted: stock photo")
    assert review_selectors.review_items(user=world.moderator) == []
    suppressed = review_selectors.review_items(
        user=world.moderator, filters=review_selectors.QueueFilter(state="suppressed")
    )
    assert {m.id for item in suppressed for m in item.members} == {stock.id, meme.id}
    assert AuditEvent.objects.filter(action=AuditAction.ALLOWLIST_ADD).count() == 1


def test_the_allowlist_page_shows_the_entries_and_removing_one_makes_its_matches_count_again(world, client):
    stock = world.query(50, descriptor=unit(1)).matches.get()
    meme = world.query(51, descriptor=nudged(unit(1), 0.95)).matches.get()
    review_services.allowlist_add(actor=world.moderator, match=stock, reason="stock photo used by every meme")
    client.force_login(world.moderator)
    page_url = reverse("search:team_allowlist", args=[world.collection.team.slug])

    page = client.get(page_url).content.decode()
    [entry] = world.collection.team.allowlist.all()
    assert "stock photo used by every meme" in page and world.reference.original_name in page
    assert reverse("search:image_file", args=["query", stock.query_id, "thumb"]) in page
    assert "<td>2</td>" in page, "both copies are suppressed"

    response = client.post(reverse("search:allowlist_remove", args=[world.collection.team.slug, entry.id]))

    assert response.status_code == 302 and response.url == page_url
    assert not world.collection.team.allowlist.exists()
    assert set(Match.objects.filter(id__in=[stock.id, meme.id]).values_list("suppressed_reason", flat=True)) == {""}
    assert {m.id for item in review_selectors.review_items(user=world.moderator) for m in item.members} == {
        stock.id,
        meme.id,
    }
    assert AuditEvent.objects.filter(action=AuditAction.ALLOWLIST_REMOVE, actor=world.moderator).count() == 1
    assert "Nothing is allowlisted" in client.get(page_url).content.decode()


def test_a_viewer_sees_the_allowlist_without_a_remove_button(world, client):
    stock = world.query(50, descriptor=unit(1)).matches.get()
    review_services.allowlist_add(actor=world.moderator, match=stock, reason="stock photo")
    viewer = MembershipFactory(team=world.collection.team, role=Role.VIEWER).user
    client.force_login(viewer)
    page = client.get(reverse("search:team_allowlist", args=[world.collection.team.slug])).content.decode()
    assert "stock photo" in page and "Remove</button>" not in page


def test_a_reference_matched_by_too_many_queries_in_a_day_is_quarantined_until_an_admin_decides(world, settings):
    settings.ISC = settings.ISC.replace(quarantine_queries_per_day=2)
    for seed in (50, 51, 52):
        world.query(seed, descriptor=unit(seed))
    world.reference.refresh_from_db()
    assert world.reference.quarantined_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.REFERENCE_QUARANTINE, target_id=world.reference.id).exists()
    paused = world.query(53, descriptor=unit(53)).matches.get()
    assert paused.suppressed_reason.startswith("Reference quarantined")
    collection_services.reference_release(actor=world.admin, reference=world.reference)
    world.reference.refresh_from_db()
    assert world.reference.quarantined_at is None
    assert world.query(54, descriptor=unit(54)).matches.get().suppressed_reason == "", "released for the day"


def test_a_disabled_reference_gets_no_matches_until_its_expiry(world):
    collection_services.reference_disable(
        actor=world.admin, reference=world.reference, until=timezone.now() + timedelta(days=1)
    )
    query, _ = queries_services.query_image_add(
        actor=world.admin, collection=world.collection, payload=Payload("q.jpg", encode(scene(50)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(world.reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    assert not query.matches.exists()
    ReferenceImage.objects.filter(id=world.reference.id).update(disabled_until=timezone.now() - timedelta(seconds=1))
    world.search(query, descriptor=unit(1))
    assert query.matches.count() == 1


def test_a_deleted_reference_leaves_results_and_queue_and_can_be_restored_within_the_grace(world):
    match = world.query(50, descriptor=unit(1)).matches.get()
    collection_services.reference_delete(actor=world.moderator, reference=world.reference)
    assert review_selectors.review_items(user=world.moderator) == []
    queries_services.query_results_record(
        query_id=match.query_id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(world.reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    assert not Match.objects.filter(query_id=match.query_id).exists(), "excluded from search"
    assert collection_services.reference_restore(actor=world.moderator, reference=world.reference)
    world.search(match.query, descriptor=unit(1))
    assert len(review_selectors.review_items(user=world.moderator)) == 1
    collection_services.reference_delete(actor=world.moderator, reference=world.reference)
    ReferenceImage.objects.filter(id=world.reference.id).update(deleted_at=timezone.now() - timedelta(days=8))
    world.reference.refresh_from_db()
    assert not collection_services.reference_restore(actor=world.moderator, reference=world.reference), "grace is over"
    actions = list(AuditEvent.objects.filter(target_id=world.reference.id).values_list("action", flat=True))
    assert actions.count(AuditAction.REFERENCE_DELETE) == 2 and AuditAction.REFERENCE_RESTORE in actions


def test_verdicts_and_flagged_queries_become_webhook_deliveries_sent_after_commit(
    world, settings, django_capture_on_commit_callbacks
):
    from search.webhooks import services as webhooks_services
    from search.webhooks.models import WebhookDelivery

    settings.ISC = settings.ISC.replace(webhook_allow_loopback=True)
    webhooks_services.endpoint_create(
        actor=world.admin,
        team=world.collection.team,
        url="http://127.0.0.1:8999/hook",
        events=["query.flagged", "match.confirmed", "match.rejected"],
    )
    with django_capture_on_commit_callbacks() as sent:
        match = world.query(50, descriptor=unit(1)).matches.get()
        review_services.verdict_set(actor=world.moderator, match=match, decision=ReviewDecision.CONFIRMED)
        review_services.verdict_undo(actor=world.moderator, match=match)
        review_services.verdict_set(actor=world.moderator, match=match, decision=ReviewDecision.REJECTED)
    types = list(WebhookDelivery.objects.order_by("id").values_list("event_type", flat=True))
    assert types == ["query.flagged", "match.confirmed", "match.rejected"], "an undo sends nothing"
    assert len(sent) >= 3, "each delivery is handed to a worker only once the transaction commits"


def test_the_queue_pages_keyboard_hints_bulk_and_undo(client, world):
    first = world.query(50, descriptor=unit(1), score=0.95).matches.get()
    second = world.query(51, descriptor=unit(2), score=0.8).matches.get()
    theirs = World(collection_for(UserFactory(), Role.ADMIN))
    foreign = theirs.query(60, descriptor=unit(3)).matches.get()
    client.force_login(world.moderator)
    page = client.get(reverse("search:review_dashboard"))
    assert [m.id for m in page.context["matches"]] == [first.id, second.id]
    assert "<kbd>c / r</kbd> confirm / reject the selected rows" in page.content.decode()
    item = client.get(reverse("search:review_item", args=[first.id]))
    assert "<kbd>c</kbd> confirm copy" in item.content.decode()
    assert item.status_code == 200 and item.context["claimed"]
    assert item.context["next_url"].startswith(reverse("search:review_item", args=[second.id]))
    assert 'data-shortcut="c"' in item.content.decode() and "/files/query/" in item.content.decode()
    response = client.post(
        reverse("search:review_bulk"), {"decision": "rejected", "match_ids": [first.id, second.id, foreign.id]}
    )
    assert response.status_code == 302
    assert set(Match.objects.filter(review="rejected").values_list("id", flat=True)) == {first.id, second.id}
    assert Match.objects.get(id=foreign.id).review == ReviewDecision.UNREVIEWED, "another team's item is ignored"
    undo = client.post(reverse("search:review_undo"), {"state": "unreviewed"})
    assert undo.status_code == 302 and reverse("search:review_item", args=[second.id]) in undo.url
    client.force_login(theirs.moderator)
    assert client.get(reverse("search:review_item", args=[first.id])).status_code == 404
    assert client.post(reverse("search:review_undo")).status_code == 302
    assert Match.objects.get(id=second.id).review == ReviewDecision.UNREVIEWED


def test_every_verdict_can_be_undone_where_it_shows(client, world):
    low = world.query(50, descriptor=unit(1), score=0.2).matches.get()
    client.force_login(world.moderator)
    client.post(reverse("search:match_review", args=[low.id]), {"decision": "confirmed"})
    page = client.get(reverse("search:query_detail", args=[low.query_id])).content.decode()
    assert "Undo verdict" in page and "Confirmed copy" in page
    confirmed = client.get(reverse("search:review_dashboard") + "?state=confirmed").content.decode()
    assert f'form="verdict-{low.id}" name="decision" value="unreviewed"' in confirmed
    client.post(reverse("search:review_verdict", args=[low.id]), {"decision": "unreviewed"})
    assert Match.objects.get(id=low.id).review == ReviewDecision.UNREVIEWED
    history = client.get(reverse("search:review_item", args=[low.id])).context["history"]
    assert [event.action for event in history] == [AuditAction.MATCH_UNDO, AuditAction.MATCH_VERDICT]


def test_the_dashboard_flags_a_quarantined_reference_for_the_admin(client, world, settings):
    settings.ISC = settings.ISC.replace(quarantine_queries_per_day=1)
    world.query(50, descriptor=unit(1))
    world.query(51, descriptor=unit(2))
    client.force_login(world.admin)
    page = client.get(reverse("search:team_dashboard", args=[world.collection.team.slug]))
    assert [r.id for r in page.context["board"].quarantined] == [world.reference.id]
    assert "Release" in page.content.decode()
    client.post(reverse("search:reference_disable", args=[world.reference.id]), {"days": "3"})
    world.reference.refresh_from_db()
    assert world.reference.quarantined_at is None and world.reference.disabled_until > timezone.now()


def test_the_migration_turns_existing_verdicts_into_pair_verdicts(transactional_db):
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("search", "0010_review_queue_and_pair_verdicts")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    user = old.get_model("auth", "User").objects.create(username="rev")
    team = old.get_model("search", "Team").objects.create(name="T", slug="t")
    collection = old.get_model("search", "Collection").objects.create(team=team, name="C", match_threshold=0.5)
    common = {"collection": collection, "width": 1, "height": 1, "original_name": "x"}
    reference = old.get_model("search", "ReferenceImage").objects.create(sha256="r" * 64, file="r.jpg", **common)
    query = old.get_model("search", "QueryImage").objects.create(sha256="q" * 64, file="q.jpg", **common)
    old.get_model("search", "Match").objects.create(
        query=query,
        reference=reference,
        rank=1,
        descriptor_similarity=0.9,
        final_score=0.8,
        descriptor_version="v",
        review="rejected",
        reviewed_by=user,
        reviewed_at=timezone.now(),
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("search"))
    new = executor.loader.project_state(executor.loader.graph.leaf_nodes("search")).apps
    rows = list(
        new.get_model("search", "PairVerdict").objects.values_list(
            "query_sha256", "reference_sha256", "decision", "decided_by__username", "final_score"
        )
    )
    assert rows == [("q" * 64, "r" * 64, "rejected", "rev", 0.8)]


def test_the_collection_page_deletes_restores_and_disables_a_reference(client, world):
    client.force_login(world.admin)
    page = client.get(reverse("search:collection_detail", args=[world.collection.id])).content.decode()
    assert "Delete it</button>" in page and "Disable it</button>" in page
    client.post(reverse("search:reference_delete", args=[world.reference.id]))
    page = client.get(reverse("search:collection_detail", args=[world.collection.id])).content.decode()
    assert "Restore</button>" in page
    client.post(reverse("search:reference_restore", args=[world.reference.id]))
    client.post(reverse("search:reference_disable", args=[world.reference.id]), {"days": "7"})
    world.reference.refresh_from_db()
    assert world.reference.deleted_at is None and world.reference.disabled_until > timezone.now()
    assert (
        "Enable</button>"
        in client.get(reverse("search:collection_detail", args=[world.collection.id])).content.decode()
    )


def _hinted_keys(html: str) -> set[str]:
    return set(re.findall(r"<kbd>([^<]+)</kbd>", html))


def test_key_hints_name_only_keys_that_work_for_the_user(client, world):
    match = world.query(50, descriptor=unit(1)).matches.get()
    viewer = MembershipFactory(team=world.collection.team, role=Role.VIEWER).user
    client.force_login(viewer)
    queue = client.get(reverse("search:review_dashboard")).content.decode()
    item = client.get(reverse("search:review_item", args=[match.id])).content.decode()
    assert _hinted_keys(queue) == {"j / k", "Enter"}, "a viewer can move and open, nothing else"
    assert _hinted_keys(item) == {"j / →", "Esc"}
    assert 'data-shortcut="c"' not in item

    client.force_login(world.moderator)
    item = client.get(reverse("search:review_item", args=[match.id])).content.decode()
    assert _hinted_keys(item) == {"j / →", "c", "r", "s", "u", "Esc"}
    for key in ("c", "r", "s", "u", "j", "Escape"):
        assert f'data-shortcut="{key}"' in item, f"the hinted key {key} has something to click"
    other = MembershipFactory(team=world.collection.team, role=Role.MODERATOR).user
    client.force_login(other)
    held = client.get(reverse("search:review_item", args=[match.id])).content.decode()
    assert _hinted_keys(held) == {"j / →", "Esc"}, "the item is claimed by the first moderator"
