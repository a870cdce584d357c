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
