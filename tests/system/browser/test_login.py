"""The first thing a moderator does, in a real browser: log in and land on their collections."""

import pytest

from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_user_logs_in_and_sees_the_collections_page(live_server, page):
    user = UserFactory(username="ada")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/accounts/login/" not in page.url
    assert page.locator("header.top").inner_text().count("ada") == 1
    assert page.console_errors == []


def test_a_wrong_password_keeps_the_user_on_the_login_page(live_server, page):
    UserFactory(username="grace")
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "grace")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    assert "/accounts/login/" in page.url
    assert "correct username and password" in page.locator(".errorlist").inner_text()
