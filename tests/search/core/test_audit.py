"""The audit log: what the services record, that nothing can change or delete an entry, the filter page
and the CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from search.collection import services as collection_services
from search.core.audit import audit_record
from search.core.models import AuditAction, AuditEvent, AuditImmutable
from search.core.uploads import Payload
from search.queries import services as queries_services
from search.reindex import services as reindex_services
from search.review import services as review_services
from search.review.models import ReviewDecision
from search.teams import services as teams_services
from search.teams.models import Role
from tests.factories import MembershipFactory, UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


def _actions(team):
    return list(AuditEvent.objects.filter(team=team).order_by("id").values_list("action", flat=True))


def test_each_change_is_recorded_with_who_what_and_the_values_before_and_after(media_root):
    admin_user = UserFactory()
    collection = collection_for(admin_user, Role.ADMIN)
    team = collection.team
    reference = collection_services.reference_images_add(
        actor=admin_user, collection=collection, items=[Payload("r.jpg", encode(scene(1)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=admin_user, collection=collection, payload=Payload("q.jpg", encode(scene(2)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(reference.id, 0.9, False, 0, 0.0, [], 0.9)],
    )
    match = query.matches.get()
    review_services.match_review(match=match, reviewer=admin_user, decision=ReviewDecision.REJECTED)
    review_services.match_review(match=match, reviewer=admin_user, decision=ReviewDecision.UNREVIEWED)
    collection_services.collection_update(
        actor=admin_user, collection=collection, name="Renamed", description="", match_threshold=0.7
    )
    membership = MembershipFactory(team=team, role=Role.VIEWER)
    teams_services.member_role_change(actor=admin_user, membership=membership, role=Role.MODERATOR)
    teams_services.member_remove(actor=admin_user, membership=membership)
    reindex_services.reindex_job_start(actor=admin_user, enqueue=False)
    collection_id = collection.id
    collection_services.collection_delete(actor=admin_user, collection=collection)

    # In the order they happened, after the team's own creation (the reindex is site-wide: no team).
    assert _actions(team)[-9:] == [
        AuditAction.REFERENCES_UPLOAD,
        AuditAction.QUERY_UPLOAD,
        AuditAction.MATCH_VERDICT,
        AuditAction.MATCH_UNDO,
        AuditAction.THRESHOLD_CHANGE,
        AuditAction.COLLECTION_UPDATE,
        AuditAction.MEMBER_ROLE,
        AuditAction.MEMBER_REMOVE,
        AuditAction.COLLECTION_DELETE,
    ]
    events = {e.action: e for e in AuditEvent.objects.filter(team=team)}
    verdict = events[AuditAction.MATCH_VERDICT]
    assert (verdict.actor, verdict.actor_username, verdict.target_type, verdict.target_id) == (
        admin_user,
        admin_user.username,
        "search.match",
        match.id,
    )
    assert verdict.before["review"] == "unreviewed" and verdict.after["review"] == "rejected"
    assert events[AuditAction.MATCH_UNDO].after["review"] == "unreviewed"
    threshold = events[AuditAction.THRESHOLD_CHANGE]
    assert (threshold.before, threshold.after) == ({"match_threshold": 0.5}, {"match_threshold": 0.7})
    assert events[AuditAction.COLLECTION_UPDATE].after == {"name": "Renamed"}
    assert events[AuditAction.MEMBER_ROLE].before["role"] == "viewer"
    assert events[AuditAction.MEMBER_ROLE].after["role"] == "moderator"
    upload = events[AuditAction.REFERENCES_UPLOAD]
    assert upload.after["reference_ids"] == [reference.id] and upload.collection_id == collection_id
    deleted = events[AuditAction.COLLECTION_DELETE]
    assert deleted.before["name"] == "Renamed" and deleted.before["references"] == 1
    assert AuditEvent.objects.filter(collection_id=collection_id).count() == 7, "outlives the collection"
    started = AuditEvent.objects.get(action=AuditAction.REINDEX_START)
    assert started.team is None and started.actor == admin_user


def test_a_refused_change_records_nothing(media_root):
    collection = collection_for(UserFactory(), Role.ADMIN)
    viewer = MembershipFactory(team=collection.team, role=Role.VIEWER).user
    before = AuditEvent.objects.count()
    with pytest.raises(Exception, match="uploader role"):
        queries_services.query_image_add(
            actor=viewer, collection=collection, payload=Payload("q.jpg", encode(scene(3)))
        )
    assert AuditEvent.objects.count() == before


def test_entries_cannot_be_changed_or_deleted():
    event = audit_record(actor=None, team=None, action=AuditAction.REINDEX_START, target=None, after={"total": 1})
    event.action = AuditAction.MATCH_UNDO
    with pytest.raises(AuditImmutable):
        event.save()
    with pytest.raises(AuditImmutable):
        event.delete()
    with pytest.raises(AuditImmutable):
        AuditEvent.objects.filter(id=event.id).update(action=AuditAction.MATCH_UNDO)
    with pytest.raises(AuditImmutable):
        AuditEvent.objects.all().delete()
    event.refresh_from_db()
    assert event.action == AuditAction.REINDEX_START and event.actor_username == ""


def test_deleting_a_user_keeps_their_events_by_name():
    user = UserFactory(username="leaver")
    event = audit_record(actor=user, team=None, action=AuditAction.REINDEX_START, target=None)
    user.delete()
    event.refresh_from_db()
    assert (event.actor, event.actor_username) == (None, "leaver")


def test_the_admin_site_is_read_only_for_audit_events():
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_staff=True, is_superuser=True)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.fixture
def logged_team(client, media_root):
    admin_user = UserFactory(username="boss")
    collection = collection_for(admin_user, Role.ADMIN, name="Memes")
    other = collection_for(admin_user, Role.ADMIN, team=collection.team, name="Other")
    helper = MembershipFactory(team=collection.team, role=Role.UPLOADER).user
    queries_services.query_image_add(actor=helper, collection=collection, payload=Payload("=cmd.jpg", encode(scene(4))))
    collection_services.collection_update(
        actor=admin_user, collection=other, name="Other", description="", match_threshold=0.9
    )
    old = audit_record(actor=admin_user, team=collection.team, action=AuditAction.MEMBER_ADD, target=None)
    # Backdated through raw SQL: the ORM refuses any change to an event.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET created_at = %s WHERE id = %s",
            [timezone.now() - timedelta(days=30), old.id],
        )
    client.force_login(admin_user)
    return collection, other, helper, old


def test_the_log_page_filters_by_action_user_collection_and_date(client, logged_team):
    collection, other, helper, old = logged_team
    url = reverse("search:audit_log", args=[collection.team.slug])
    page = client.get(url, {"action": AuditAction.QUERY_UPLOAD})
    assert [e.action for e in page.context["events"]] == [AuditAction.QUERY_UPLOAD]
    assert [e.actor_username for e in client.get(url, {"actor": helper.id}).context["events"]] == [helper.username]
    by_collection = client.get(url, {"collection": other.id}).context["events"]
    assert [e.action for e in by_collection] == [AuditAction.THRESHOLD_CHANGE], "factories record no creation"
    today = timezone.now().date()
    recent = client.get(url, {"since": (today - timedelta(days=1)).isoformat()}).context["events"]
    assert sorted(e.action for e in recent) == [AuditAction.THRESHOLD_CHANGE, AuditAction.QUERY_UPLOAD]
    older = client.get(url, {"until": (today - timedelta(days=20)).isoformat()}).context["events"]
    assert [e.id for e in older] == [old.id]


def test_the_csv_export_has_the_filtered_rows_and_defuses_formulas(client, logged_team):
    collection, _, helper, _ = logged_team
    response = client.get(reverse("search:audit_csv", args=[collection.team.slug]), {"actor": helper.id})
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["actor"], r["action"]) for r in rows] == [(helper.username, "query.upload")]
    assert rows[0]["target"] == "'=cmd.jpg", "a cell starting with = is not a formula"
    assert '"name": "=cmd.jpg"' in rows[0]["after"]


def test_the_log_page_shows_objects_and_values_in_words(client, media_root):
    from tests.review_world import World, unit

    world = World()
    match = world.query(50, descriptor=unit(1), name="holiday.jpg").matches.get()
    review_services.match_claim(actor=world.moderator, match=match)
    review_services.verdict_set(actor=world.moderator, match=match, decision=ReviewDecision.CONFIRMED)
    collection_services.collection_update(
        actor=world.admin, collection=world.collection, name="Renamed", description="", match_threshold=0.6
    )
    # A row written before matches described themselves.
    audit_record(actor=None, team=world.collection.team, action=AuditAction.MATCH_VERDICT, target=None)
    legacy = AuditEvent.objects.create(
        team=world.collection.team,
        action=AuditAction.MATCH_VERDICT,
        target_type="search.match",
        target_id=81,
        target_repr="Match object (81)",
        after={"review": "rejected", "reviewed_at": "2026-12-01T10:11:12.345Z", "tags": ["a", "b"]},
    )
    client.force_login(world.admin)
    page = client.get(reverse("search:audit_log", args=[world.collection.team.slug])).content.decode()
    assert f"match #{match.id} holiday.jpg → {world.reference.original_name} (rank 1)" in page
    assert f"match #{legacy.target_id}</td>" in page and "object (" not in page
    assert f"query image #{match.query_id} holiday.jpg" in page
    assert '<span class="muted">review:</span> confirmed' in page
    assert (
        '<span class="muted">match threshold:</span> 0.5' in page and '<span class="muted">name:</span> Renamed' in page
    )
    assert '<span class="muted">reviewed at:</span> 2026-12-01 10:11:12 UTC' in page
    assert '<span class="muted">tags:</span> a, b' in page
    assert "{&#x27;" not in page and "{'" not in page, "no Python dict reprs"
