"""Two teams, each with its own collection, images and a match: every page, action and file of one team
is a 404 for the other team's members, a login redirect for visitors, and a 403 for a role too low."""

from dataclasses import dataclass

import pytest
from django.urls import URLPattern, get_resolver, reverse
from django.utils import timezone

from copydetect.hashlists import HashEntry, SignalType
from search.banks import imports as banks_imports
from search.banks import services as banks_services
from search.banks.models import Bank, BankImport
from search.collection import services as collection_services
from search.collection.models import Collection, ReferenceImage
from search.core.models import AuditEvent
from search.core.uploads import Payload
from search.exchanges import services as exchanges_services
from search.exchanges.models import BankExchange, ExchangeRun
from search.ingest import services as ingest_services
from search.ingest.models import IngestJob
from search.lookback.models import LookbackJob
from search.queries import services as queries_services
from search.queries.models import Match, QueryImage
from search.review.models import AllowlistEntry
from search.teams.models import Role
from search.webhooks import services as webhooks_services
from search.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import MembershipFactory, UserFactory, collection_for
from tests.images import encode, scene

pytestmark = pytest.mark.django_db


@dataclass
class TeamWorld:
    admin: object
    collection: Collection
    reference: ReferenceImage
    query: QueryImage
    match: Match
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery
    ingest_job: IngestJob
    allowlist_entry: AllowlistEntry
    bank: Bank
    bank_entry: ReferenceImage
    bank_import: BankImport
    exchange: BankExchange
    lookback_job: LookbackJob

    def member(self, role: Role):
        return MembershipFactory(team=self.collection.team, role=role).user


def _world(seed: int) -> TeamWorld:
    admin = UserFactory()
    collection = collection_for(admin, Role.ADMIN)
    reference = collection_services.reference_images_add(
        actor=admin, collection=collection, items=[Payload("r.jpg", encode(scene(seed)))]
    ).created[0]
    query, _ = queries_services.query_image_add(
        actor=admin, collection=collection, payload=Payload("q.jpg", encode(scene(seed + 1)))
    )
    queries_services.query_results_record(
        query_id=query.id,
        descriptor_version="v",
        search_ms=1,
        results=[queries_services.MatchResult(reference.id, 0.9, True, 9, 0.5, [[0.5, 0.5, 0.5, 0.5]], 0.9)],
    )
    # An IP literal: the URL check needs no DNS, and nothing is sent (on_commit never runs in these tests).
    endpoint, _ = webhooks_services.endpoint_create(
        actor=admin, team=collection.team, url="https://93.184.215.14/hook", events=["match.confirmed"]
    )
    delivery = webhooks_services.endpoint_test_send(actor=admin, endpoint=endpoint)
    ingest_job = ingest_services.ingest_job_create(
        actor=admin, collection=collection, source_kind="zip", source_path="/nowhere/batch.zip", enqueue=False
    )
    allowlist_entry = AllowlistEntry.objects.create(team=collection.team, sha256="0" * 64, reason="stock photo")
    bank = banks_services.bank_create(actor=admin, team=collection.team, name=f"list {seed}")
    # Adding the entry also queues the team's look-back job for it (the task is never sent here).
    [entry_id] = banks_services.bank_entries_add(
        bank=bank, entries=[HashEntry(SignalType.PDQ, f"{seed:064x}", external_id=f"case-{seed}")]
    ).created_ids
    bank_import = banks_imports.bank_import_create(
        actor=admin, bank=bank, source_path="/nowhere/list.txt", format="te_local", enqueue=False
    )
    exchange = exchanges_services.exchange_configure(
        actor=admin,
        bank=bank,
        kind="fb_threatexchange",
        config={"privacy_group": seed},
        credentials={"api_token": f"{seed}|secret-token-of-the-team"},
    )
    # A fetch has run: "fetch now" clears last_run_at, so a refused one provably left it.
    BankExchange.objects.filter(id=exchange.id).update(last_run_at=timezone.now())
    ExchangeRun.objects.create(exchange=exchange, state=ExchangeRun.State.DONE, added=1)
    return TeamWorld(
        admin,
        collection,
        reference,
        query,
        query.matches.get(),
        endpoint,
        delivery,
        ingest_job,
        allowlist_entry,
        bank,
        ReferenceImage.objects.get(id=entry_id),
        bank_import,
        exchange,
        LookbackJob.objects.get(team=collection.team, bank=bank),
    )


@pytest.fixture
def teams(media_root, settings, tmp_path):
    settings.ISC = settings.ISC.replace(ingest_dir=str(tmp_path / "ingest"))  # where an uploaded zip is kept
    return _world(100), _world(200)


def _upload(name: str):
    import io

    handle = io.BytesIO(encode(scene(7)))
    handle.name = name
    return handle


def _hash_list(name: str):
    import io

    handle = io.BytesIO(f"pdq {'cd' * 32}\n".encode())
    handle.name = name
    return handle


def _zip_upload(name: str):
    import io
    import zipfile

    handle = io.BytesIO()
    with zipfile.ZipFile(handle, "w") as bundle:
        bundle.writestr("z.jpg", encode(scene(8)))
    handle.seek(0)
    handle.name = name
    return handle


# (url name, args from a TeamWorld, method, POST data or GET query, the least role that may do it)
def _routes(w: TeamWorld):
    slug = w.collection.team.slug
    membership_id = w.collection.team.memberships.get(user=w.admin).id
    return [
        ("collection_detail", [w.collection.id], "get", None, Role.VIEWER),
        ("collection_progress", [w.collection.id], "get", None, Role.VIEWER),
        ("query_detail", [w.query.id], "get", None, Role.VIEWER),
        ("query_results", [w.query.id], "get", None, Role.VIEWER),
        ("image_file", ["reference", w.reference.id, "original"], "get", None, Role.VIEWER),
        ("image_file", ["reference", w.reference.id, "thumb"], "get", None, Role.VIEWER),
        ("image_file", ["reference", w.reference.id, "preview"], "get", None, Role.VIEWER),
        ("image_file", ["query", w.query.id, "original"], "get", None, Role.VIEWER),
        ("image_file", ["query", w.query.id, "thumb"], "get", None, Role.VIEWER),
        ("image_file", ["query", w.query.id, "preview"], "get", None, Role.VIEWER),
        ("team_members", [slug], "get", None, Role.VIEWER),
        ("ingest_jobs_panel", [w.collection.id], "get", None, Role.VIEWER),
        ("ingest_job_detail", [w.ingest_job.id], "get", None, Role.VIEWER),
        (
            "references_upload",
            [w.collection.id],
            "post",
            lambda: {"source": "files", "files": [_upload("n.jpg")]},
            Role.UPLOADER,
        ),
        (
            "references_upload",
            [w.collection.id],
            "post",
            lambda: {"source": "zip", "archive": _zip_upload("batch.zip")},
            Role.UPLOADER,
        ),
        ("query_upload", [w.collection.id], "post", lambda: {"image": _upload("n.jpg")}, Role.UPLOADER),
        ("image_retry", ["query", w.query.id], "post", lambda: {}, Role.UPLOADER),
        ("image_retry", ["reference", w.reference.id], "post", lambda: {}, Role.UPLOADER),
        ("match_review", [w.match.id], "post", lambda: {"decision": "rejected"}, Role.MODERATOR),
        ("references_upload", [w.collection.id], "post", lambda: {"source": "folder", "folder": "/"}, Role.ADMIN),
        (
            "collection_settings",
            [w.collection.id],
            "post",
            lambda: {"name": "x", "description": "", "match_threshold": 0.1},
            Role.ADMIN,
        ),
        ("collection_delete", [w.collection.id], "post", lambda: {}, Role.ADMIN),
        (
            "team_members",
            [slug],
            "post",
            lambda: {"username": "newbie", "password": "a-long-Passphrase-42", "role": "viewer"},
            Role.ADMIN,
        ),
        ("member_role", [slug, membership_id], "post", lambda: {"role": "viewer"}, Role.ADMIN),
        ("member_remove", [slug, membership_id], "post", lambda: {}, Role.ADMIN),
        ("invite_create", [slug], "post", lambda: {"role": "viewer"}, Role.ADMIN),
        ("audit_log", [slug], "get", None, Role.ADMIN),
        ("audit_csv", [slug], "get", None, Role.ADMIN),
        ("webhook_list", [slug], "get", None, Role.ADMIN),
        (
            "webhook_list",
            [slug],
            "post",
            lambda: {"url": "https://93.184.215.14/new", "events": ["query.flagged"]},
            Role.ADMIN,
        ),
        ("webhook_detail", [slug, w.endpoint.id], "get", None, Role.ADMIN),
        (
            "webhook_detail",
            [slug, w.endpoint.id],
            "post",
            lambda: {"url": "https://93.184.215.14/changed", "description": "", "events": ["match.rejected"]},
            Role.ADMIN,
        ),
        ("webhook_active", [slug, w.endpoint.id], "post", lambda: {"active": "0"}, Role.ADMIN),
        ("webhook_active", [slug, w.endpoint.id], "post", lambda: {"active": "1"}, Role.ADMIN),
        ("webhook_rotate", [slug, w.endpoint.id], "post", lambda: {}, Role.ADMIN),
        ("webhook_test", [slug, w.endpoint.id], "post", lambda: {}, Role.ADMIN),
        ("webhook_delivery", [slug, w.endpoint.id, w.delivery.id], "get", None, Role.ADMIN),
        ("webhook_redeliver", [slug, w.endpoint.id, w.delivery.id], "post", lambda: {}, Role.ADMIN),
        ("webhook_delete", [slug, w.endpoint.id], "post", lambda: {}, Role.ADMIN),
        ("review_item", [w.match.id], "get", None, Role.VIEWER),
        ("review_verdict", [w.match.id], "post", lambda: {"decision": "rejected"}, Role.MODERATOR),
        ("review_skip", [w.match.id], "post", lambda: {}, Role.MODERATOR),
        ("review_allowlist", [w.match.id], "post", lambda: {"reason": "stock photo"}, Role.MODERATOR),
        ("reference_delete", [w.reference.id], "post", lambda: {}, Role.MODERATOR),
        ("reference_restore", [w.reference.id], "post", lambda: {}, Role.MODERATOR),
        ("reference_disable", [w.reference.id], "post", lambda: {"days": "1"}, Role.ADMIN),
        ("reference_release", [w.reference.id], "post", lambda: {}, Role.ADMIN),
        ("team_dashboard", [slug], "get", None, Role.VIEWER),
        ("team_allowlist", [slug], "get", None, Role.VIEWER),
        ("allowlist_remove", [slug, w.allowlist_entry.id], "post", lambda: {}, Role.MODERATOR),
        (
            "dashboard_threshold",
            [slug],
            "post",
            lambda: {"collection": w.collection.id, "threshold": "0.6"},
            Role.ADMIN,
        ),
        ("bank_list", [slug], "get", None, Role.VIEWER),
        ("bank_list", [slug], "post", lambda: {"name": "new list", "pdq_threshold": "31"}, Role.ADMIN),
        ("bank_detail", [w.bank.id], "get", None, Role.VIEWER),
        ("bank_imports_panel", [w.bank.id], "get", None, Role.VIEWER),
        ("bank_import_detail", [w.bank_import.id], "get", None, Role.VIEWER),
        ("bank_export", [w.bank.id], "get", lambda: {"format": "csv", "signals": ["pdq", "md5"]}, Role.VIEWER),
        (
            "collection_hashes_export",
            [w.collection.id],
            "get",
            lambda: {"format": "csv", "signals": ["pdq", "md5"]},
            Role.VIEWER,
        ),
        (
            "bank_settings",
            [w.bank.id],
            "post",
            lambda: {"name": w.bank.name, "description": "changed", "pdq_threshold": "12"},
            Role.ADMIN,
        ),
        (
            "bank_import",
            [w.bank.id],
            "post",
            lambda: {"file": _hash_list("more.txt"), "format": "te_local"},
            Role.ADMIN,
        ),
        ("bank_entry_toggle", [w.bank.id, w.bank_entry.id], "post", lambda: {"disable": "1"}, Role.ADMIN),
        ("bank_entry_toggle", [w.bank.id, w.bank_entry.id], "post", lambda: {"disable": "0"}, Role.ADMIN),
        (
            "bank_exchange_configure",
            [w.bank.id],
            "post",
            lambda: {"kind": "fb_threatexchange", "enabled": "on", "interval_minutes": "30", "privacy_group": "77"},
            Role.ADMIN,
        ),
        ("bank_exchange_fetch", [w.bank.id], "post", lambda: {}, Role.ADMIN),
        ("lookback_jobs", [slug], "get", None, Role.VIEWER),
        ("bank_delete", [w.bank.id], "post", lambda: {}, Role.ADMIN),
    ]


# Pages that hold no team object (lists scoped by the user, tested below) or are not team data.
# review_bulk and review_undo act only on the user's own teams' items / own verdicts (tests/search/review/test_review.py).
UNSCOPED = {
    "collection_list",
    "signup",
    "review_dashboard",
    "reindex",
    "reindex_progress",
    "evaluation",
    "team_list",
    # Site staff only, creates a new team (tests/search/teams/test_views.py).
    "team_create",
    "invite_accept",
    "review_bulk",
    "review_undo",
    "dashboard_home",
    # The user's own API tokens, not team data; another user's token is a 404 (tests/search/api/test_auth.py).
    "api_tokens",
    "api_token_revoke",
}


def _call(client, method, name, args, data):
    url = reverse(f"search:{name}", args=args)
    # A GET row's data is its query string.
    return client.get(url, data() if data else None) if method == "get" else client.post(url, data() if data else {})


def _snapshot(world: TeamWorld):
    world.match.refresh_from_db()
    collection = Collection.objects.filter(id=world.collection.id).first()
    return (
        collection and (collection.name, collection.match_threshold),
        world.match.review,
        world.match.suppressed_reason,
        sorted(
            ReferenceImage.objects.filter(collection_id=world.collection.id).values_list(
                "id", "deleted_at", "disabled_until", "quarantined_at"
            )
        ),
        QueryImage.objects.filter(collection_id=world.collection.id).count(),
        sorted(world.collection.team.memberships.values_list("user_id", "role")),
        sorted(
            WebhookEndpoint.objects.filter(team=world.collection.team).values_list(
                "id", "url", "events", "active", "secret_hint"
            )
        ),
        WebhookDelivery.objects.filter(endpoint__team=world.collection.team).count(),
        IngestJob.objects.filter(collection_id=world.collection.id).count(),
        sorted(AllowlistEntry.objects.filter(team=world.collection.team).values_list("id", "reason")),
        sorted(
            Bank.objects.filter(team=world.collection.team).values_list(
                "id", "name", "description", "enabled", "pdq_threshold"
            )
        ),
        sorted(
            ReferenceImage.objects.filter(bank__team=world.collection.team).values_list(
                "id", "bank_id", "sha256", "disabled_until", "deleted_at"
            )
        ),
        sorted(BankImport.objects.filter(bank__team=world.collection.team).values_list("id", "state", "source_path")),
        sorted(
            BankExchange.objects.filter(bank__team=world.collection.team).values_list(
                "id",
                "kind",
                "config",
                "credentials_encrypted",
                "enabled",
                "interval_minutes",
                "checkpoint",
                "last_run_at",
            )
        ),
        ExchangeRun.objects.filter(exchange__bank__team=world.collection.team).count(),
        sorted(LookbackJob.objects.filter(team=world.collection.team).values_list("id", "state", "item_ids")),
        AuditEvent.objects.filter(team=world.collection.team).count(),
    )


def test_every_team_route_is_in_the_table(teams):
    names = {pattern.name for pattern in get_resolver("search.urls").url_patterns if isinstance(pattern, URLPattern)}
    table = {row[0] for row in _routes(teams[0])}
    assert names - UNSCOPED == table, "a new view needs a row in _routes (or a reason in UNSCOPED)"


def test_another_teams_objects_are_404_on_every_route_and_nothing_changes(client, teams):
    mine, theirs = teams
    client.force_login(mine.admin)
    for name, args, method, data, _ in _routes(theirs):
        before = _snapshot(theirs)
        response = _call(client, method, name, args, data)
        assert response.status_code == 404, (name, args, method, response.status_code)
        assert _snapshot(theirs) == before, (name, "changed another team's data")


def test_visitors_are_sent_to_the_login_on_every_route(client, teams):
    mine, _ = teams
    for name, args, method, data, _ in _routes(mine):
        before = _snapshot(mine)
        response = _call(client, method, name, args, data)
        assert response.status_code == 302 and "/accounts/login/" in response.url, (name, response.status_code)
        assert _snapshot(mine) == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.UPLOADER, Role.MODERATOR])
def test_a_role_too_low_is_403_and_changes_nothing(client, teams, role):
    mine, _ = teams
    user = mine.member(role)
    client.force_login(user)
    for name, args, method, data, minimum in _routes(mine):
        if role.at_least(minimum):
            continue
        before = _snapshot(mine)
        response = _call(client, method, name, args, data)
        assert response.status_code == 403, (role, name, args, response.status_code)
        assert _snapshot(mine) == before, (role, name)


@pytest.mark.parametrize("role", list(Role))
def test_a_role_high_enough_is_let_through(client, teams, role):
    mine, _ = teams
    client.force_login(mine.member(role))
    # Destructive rows last, so they do not remove what the others need.
    for name, args, method, data, minimum in sorted(
        _routes(mine), key=lambda row: row[0] in ("collection_delete", "member_remove", "webhook_delete", "bank_delete")
    ):
        if not role.at_least(minimum):
            continue
        response = _call(client, method, name, args, data)
        assert response.status_code in (200, 302), (role, name, args, response.status_code)


def test_another_teams_bank_entry_is_404_on_the_reference_routes_and_my_bank_cannot_toggle_it(client, teams):
    """A bank entry is a reference row: the reference routes must scope it too (they serve collection
    references only, so it is a 404 there for everyone), and naming it under my own bank reaches nothing."""
    mine, theirs = teams
    client.force_login(mine.admin)
    entry = theirs.bank_entry.id
    for name, args, method in (
        ("image_file", ["reference", entry, "original"], "get"),
        ("image_retry", ["reference", entry], "post"),
        ("reference_delete", [entry], "post"),
        ("reference_restore", [entry], "post"),
        ("reference_disable", [entry], "post"),
        ("reference_release", [entry], "post"),
    ):
        before = _snapshot(theirs)
        response = _call(client, method, name, args, (lambda: {"days": "1"}) if method == "post" else None)
        assert response.status_code == 404, (name, response.status_code)
        assert _snapshot(theirs) == before, name
    before = _snapshot(theirs)
    client.post(reverse("search:bank_entry_toggle", args=[mine.bank.id, entry]), {"disable": "1"})
    assert _snapshot(theirs) == before


def test_lists_show_only_my_teams(client, teams):
    mine, theirs = teams
    client.force_login(mine.admin)
    theirs.collection.name = "Their secret collection"
    theirs.collection.save()
    for name in ("collection_list", "review_dashboard", "team_list", "evaluation"):
        page = client.get(reverse(f"search:{name}")).content.decode()
        assert "Their secret collection" not in page and theirs.collection.team.name not in page, name
        assert str(theirs.query.id) not in [
            m.query_id for m in client.get(reverse("search:review_dashboard")).context["matches"]
        ]
    review = client.get(reverse("search:review_dashboard")).context["matches"]
    assert [m.id for m in review] == [mine.match.id]


def test_the_reindex_page_stays_staff_only(client, teams):
    mine, _ = teams
    client.force_login(mine.admin)
    assert client.get(reverse("search:reindex")).status_code == 403
    assert client.get(reverse("search:reindex_progress")).status_code == 403


def test_404_and_403_pages_are_in_the_sites_layout_without_debug(client, teams, settings):
    settings.DEBUG = False
    mine, theirs = teams
    client.force_login(mine.admin)
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404
    page = missing.content.decode()
    assert '<header class="top">' in page and "<h1>Not found</h1>" in page and "/no-such-page/" in page
    assert mine.admin.username in page, "the header knows who is signed in"
    other_team = client.get(reverse("search:collection_detail", args=[theirs.collection.id]))
    assert other_team.status_code == 404 and "<h1>Not found</h1>" in other_team.content.decode()
    denied = client.get(reverse("search:reindex"))
    assert denied.status_code == 403
    assert '<header class="top">' in denied.content.decode() and "<h1>Not allowed</h1>" in denied.content.decode()


def test_a_403_says_which_role_is_needed_and_viewers_see_no_verdict_buttons(client, teams):
    mine, _ = teams
    client.force_login(mine.member(Role.VIEWER))
    response = client.post(reverse("search:match_review", args=[mine.match.id]), {"decision": "rejected"})
    assert response.status_code == 403 and "moderator role or higher" in response.content.decode()
    assert "Confirm copy" not in client.get(reverse("search:review_dashboard")).content.decode()
    client.force_login(mine.member(Role.MODERATOR))
    assert "Confirm copy" in client.get(reverse("search:review_dashboard")).content.decode()
