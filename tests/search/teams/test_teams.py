"""Members and roles, invite links, the first admin, folder import from the team's own root, the login
throttle, and the migration that turned collection owners into teams_services."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from search.core.models import AuditAction, AuditEvent
from search.teams import services as teams_services
from search.teams.models import Invite, Membership, Role, Team
from tests.factories import MembershipFactory, UserFactory, collection_for, team_with
from tests.images import encode, scene

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-Passphrase-42"


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="chief")
    team = team_with(user, Role.ADMIN, name="Safety", slug="safety")
    client.force_login(user)
    return client, user, team


def test_an_admin_creates_an_account_that_can_log_in(admin_client):
    client, _, team = admin_client
    response = client.post(
        reverse("search:team_members", args=[team.slug]), {"username": "mo", "password": PASSWORD, "role": "moderator"}
    )
    assert response.status_code == 302
    assert Membership.objects.get(team=team, user__username="mo").role == Role.MODERATOR
    client.logout()
    assert client.login(username="mo", password=PASSWORD), "client.login works with the throttle off in tests"
    assert client.post(reverse("login"), {"username": "mo", "password": PASSWORD}).status_code == 302
    assert AuditEvent.objects.filter(team=team, action=AuditAction.MEMBER_ADD, after__user="mo").exists()


def test_a_weak_password_or_taken_name_is_a_form_error(admin_client):
    client, _, team = admin_client
    url = reverse("search:team_members", args=[team.slug])
    weak = client.post(url, {"username": "mo", "password": "123", "role": "viewer"})
    assert weak.status_code == 200 and weak.context["form"].errors["password"]
    taken = client.post(url, {"username": "chief", "password": PASSWORD, "role": "viewer"})
    assert "invite link" in str(taken.context["form"].errors["username"])
    assert Membership.objects.filter(team=team).count() == 1


def test_roles_change_and_members_go_but_the_last_admin_stays(admin_client):
    client, user, team = admin_client
    other = MembershipFactory(team=team, role=Role.VIEWER)
    client.post(reverse("search:member_role", args=[team.slug, other.id]), {"role": "uploader"})
    other.refresh_from_db()
    assert other.role == Role.UPLOADER
    mine = Membership.objects.get(team=team, user=user)
    response = client.post(reverse("search:member_role", args=[team.slug, mine.id]), {"role": "viewer"}, follow=True)
    assert "at least one admin" in response.content.decode()
    client.post(reverse("search:member_remove", args=[team.slug, mine.id]))
    mine.refresh_from_db()
    assert mine.role == Role.ADMIN
    client.post(reverse("search:member_remove", args=[team.slug, other.id]))
    assert not Membership.objects.filter(id=other.id).exists()


def _invite_link(client, team, role="uploader") -> str:
    response = client.post(reverse("search:invite_create", args=[team.slug]), {"role": role}, follow=True)
    message = [str(m) for m in response.context["messages"]][0]
    return message.split("shown only now): ")[1].replace("http://testserver", "")


def test_an_invite_link_creates_an_account_once_and_only_its_hash_is_stored(admin_client):
    client, _, team = admin_client
    link = _invite_link(client, team)
    token = link.rstrip("/").split("/")[-1]
    assert not Invite.objects.filter(token_sha256=token).exists() and Invite.objects.get().token_sha256
    client.logout()
    page = client.get(link).content.decode()
    assert "Join Safety" in page and "as <b>uploader</b>" in page
    response = client.post(link, {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    assert Membership.objects.get(user__username="newcomer", team=team).role == Role.UPLOADER
    assert client.get(reverse("search:collection_list")).context["user"].username == "newcomer"
    client.logout()
    again = client.post(link, {"username": "second", "password1": PASSWORD, "password2": PASSWORD})
    assert again.status_code == 404 and not get_user_model().objects.filter(username="second").exists()


def test_a_logged_in_user_joins_by_invite_and_an_expired_one_is_refused(admin_client):
    client, _, team = admin_client
    link = _invite_link(client, team, role="moderator")
    expired = _invite_link(client, team, role="admin")
    Invite.objects.filter(role="admin").update(expires_at=timezone.now() - timedelta(minutes=1))
    joiner = UserFactory()
    client.force_login(joiner)
    assert client.get(expired).status_code == 404
    client.post(link)
    assert Membership.objects.get(team=team, user=joiner).role == Role.MODERATOR


def test_ensure_admin_creates_the_first_admin_once(capsys, client):
    call_command("ensure_admin", "--url", "http://127.0.0.1:8300/")
    out = capsys.readouterr().out
    password = out.split("password: ")[1].split()[0]
    assert "http://127.0.0.1:8300/accounts/login/" in out and "username: admin" in out
    admin_user = get_user_model().objects.get(username="admin")
    assert admin_user.is_staff and Membership.objects.get(user=admin_user).role == Role.ADMIN
    assert client.post(reverse("login"), {"username": "admin", "password": password}).status_code == 302
    call_command("ensure_admin")
    assert "no admin created" in capsys.readouterr().out
    assert get_user_model().objects.count() == 1 and Team.objects.count() == 1


def test_ensure_admin_prints_the_login_url_where_make_run_serves_the_site(capsys, settings, monkeypatch):
    from isc_site.isc import isc_settings_read

    monkeypatch.setenv("ISC_WEB_ADDRESS", "0.0.0.0:8631")
    settings.ISC = isc_settings_read(base_dir=settings.BASE_DIR, data_dir=settings.DATA_DIR, worker_concurrency=1)
    assert settings.ISC.web_address == "0.0.0.0:8631"
    call_command("ensure_admin")
    assert "Log in at http://127.0.0.1:8631/accounts/login/" in capsys.readouterr().out
    settings.ISC = settings.ISC.replace(web_address="example.org:8632")
    call_command("ensure_admin")
    assert "Log in at http://example.org:8632/accounts/login/" in capsys.readouterr().out, (
        "users exist: URL still shown"
    )


def test_folder_import_reads_only_the_teams_own_root(admin_client, media_root, settings, tmp_path):
    client, user, team = admin_client
    settings.ISC = settings.ISC.replace(import_roots=[str(tmp_path / "imports")])
    collection = collection_for(user, Role.ADMIN, team=team)
    (tmp_path / "imports" / "safety" / "batch").mkdir(parents=True)
    (tmp_path / "imports" / "safety" / "batch" / "a.jpg").write_bytes(encode(scene(1)))
    (tmp_path / "imports" / "elsewhere").mkdir()
    (tmp_path / "imports" / "elsewhere" / "b.jpg").write_bytes(encode(scene(2)))
    url = reverse("search:references_upload", args=[collection.id])
    foreign = client.post(url, {"source": "folder", "folder": str(tmp_path / "imports" / "elsewhere")}, follow=True)
    assert any("can only be imported from under" in str(m) for m in foreign.context["messages"])
    assert not collection.ingest_jobs.exists()
    client.post(url, {"source": "folder", "folder": str(tmp_path / "imports" / "safety" / "batch")})
    # A folder is a bulk-ingest job (tests/search/ingest/test_ingest.py runs them); only the team's own root starts one.
    job = collection.ingest_jobs.get()
    assert job.source_path == str((tmp_path / "imports" / "safety" / "batch").resolve())
    # The refused folder recorded nothing: the one start event is the accepted folder's.
    started = AuditEvent.objects.filter(action=AuditAction.INGEST_START, collection_id=collection.id)
    assert [event.after["ingest_job_id"] for event in started] == [job.id]
    # A path relative to the team's import folder, as the page shows it.
    client.post(url, {"source": "folder", "folder": "batch"})
    relative = collection.ingest_jobs.exclude(id=job.id).get()
    assert relative.source_path == job.source_path
    escape = client.post(url, {"source": "folder", "folder": "../elsewhere"}, follow=True)
    assert any("can only be imported from under" in str(m) for m in escape.context["messages"])
    assert collection.ingest_jobs.count() == 2


def test_failed_logins_are_throttled(client, settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    UserFactory(username="target")
    for _ in range(2):
        assert client.post(reverse("login"), {"username": "target", "password": "wrong"}).status_code == 200
    assert client.post(reverse("login"), {"username": "target", "password": "wrong"}).status_code == 429
    locked = client.post(reverse("login"), {"username": "target", "password": "correct horse battery"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    other = client.post(reverse("login"), {"username": "someone-else", "password": "wrong"})
    assert other.status_code == 200, "the lock is per username and address"


def test_the_migration_turns_each_owner_into_a_team_admin(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate([("search", "0003_reindex_versions")])
    old = executor.loader.project_state([("search", "0003_reindex_versions")]).apps
    User = old.get_model("auth", "User")
    ana, bo = User.objects.create(username="ana"), User.objects.create(username="bo")
    OldCollection = old.get_model("search", "Collection")
    for owner, name in ((ana, "A1"), (ana, "A2"), (bo, "B1")):
        OldCollection.objects.create(owner=owner, name=name, match_threshold=0.5)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("search"))
    new = executor.loader.project_state(executor.loader.graph.leaf_nodes("search")).apps
    Collection = new.get_model("search", "Collection")
    rows = sorted(Collection.objects.values_list("name", "team__name", "created_by__username"))
    assert rows == [("A1", "ana", "ana"), ("A2", "ana", "ana"), ("B1", "bo", "bo")]
    NewMembership = new.get_model("search", "Membership")
    assert sorted(NewMembership.objects.values_list("user__username", "role")) == [("ana", "admin"), ("bo", "admin")]
    # And back: the owner column returns, filled from created_by.
    executor = MigrationExecutor(connection)
    executor.migrate([("search", "0003_reindex_versions")])
    back = executor.loader.project_state([("search", "0003_reindex_versions")]).apps
    assert sorted(back.get_model("search", "Collection").objects.values_list("name", "owner__username")) == [
        ("A1", "ana"),
        ("A2", "ana"),
        ("B1", "bo"),
    ]
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("search"))


def test_team_create_makes_the_creator_admin_and_a_unique_slug():
    user = UserFactory()
    first = teams_services.team_create(name="Safety Ops", creator=user)
    second = teams_services.team_create(name="Safety-Ops!", creator=None)
    assert (first.slug, second.slug) == ("safety-ops", "safety-ops-2")
    assert Membership.objects.get(team=first).user == user
