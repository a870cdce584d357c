"""Sign-up and login."""

import pytest
from django.urls import reverse

from search.teams.models import Membership, Role

pytestmark = pytest.mark.django_db


def test_pages_need_a_login(client):
    response = client.get(reverse("search:collection_list"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_sign_up_is_closed_by_default(client):
    assert client.get(reverse("search:signup")).status_code == 404
    assert "Sign up" not in client.get(reverse("login")).content.decode()


def test_open_sign_up_logs_the_user_in_with_a_team_of_their_own(client, settings):
    settings.ISC = settings.ISC.replace(open_signup=True)
    response = client.post(
        reverse("search:signup"),
        {"username": "ana", "password1": "a-long-Passphrase-42", "password2": "a-long-Passphrase-42"},
        follow=True,
    )
    assert response.context["user"].username == "ana"
    membership = Membership.objects.get(user__username="ana")
    assert (membership.team.name, membership.role) == ("ana", Role.ADMIN)


def test_site_staff_create_a_second_team_from_the_teams_page_and_it_is_audited(client):
    from search.core.models import AuditAction, AuditEvent
    from search.teams.models import Team
    from tests.factories import UserFactory, team_with

    staff = UserFactory(is_staff=True)
    first = team_with(staff)
    lead = UserFactory(username="lead")
    client.force_login(staff)
    page = client.get(reverse("search:team_list")).content.decode()
    assert 'id="team-create"' in page and reverse("search:team_create") in page

    response = client.post(reverse("search:team_create"), {"name": "Brand safety", "admin": "lead"})
    team = Team.objects.get(name="Brand safety")
    assert response.status_code == 302 and response.url == reverse("search:team_members", args=[team.slug])
    assert Membership.objects.get(team=team).user == lead and Membership.objects.get(team=team).role == Role.ADMIN
    assert team.slug != first.slug and not Membership.objects.filter(team=team, user=staff).exists()
    events = AuditEvent.objects.filter(team=team).order_by("id")
    assert [(e.action, e.actor) for e in events] == [(AuditAction.TEAM_CREATE, staff), (AuditAction.MEMBER_ADD, staff)]
    assert events[0].after == {"name": "Brand safety"} and events[1].after == {"user": "lead", "role": "admin"}

    again = client.post(reverse("search:team_create"), {"name": "brand SAFETY"})
    assert again.status_code == 200 and "exists already" in again.content.decode()
    unknown = client.post(reverse("search:team_create"), {"name": "Legal", "admin": "nobody"})
    assert "No active account has this username." in unknown.content.decode()
    mine = client.post(reverse("search:team_create"), {"name": "Legal"})
    assert mine.status_code == 302 and Membership.objects.get(team__name="Legal").user == staff
    assert Team.objects.count() == 3


def test_a_team_admin_who_is_not_staff_cannot_create_teams(client):
    from search.teams.models import Team
    from tests.factories import UserFactory, team_with

    admin_user = UserFactory()
    team_with(admin_user)
    client.force_login(admin_user)
    assert 'id="team-create"' not in client.get(reverse("search:team_list")).content.decode()
    assert client.get(reverse("search:team_create")).status_code == 403
    assert client.post(reverse("search:team_create"), {"name": "Mine now"}).status_code == 403
    assert not Team.objects.filter(name="Mine now").exists()
