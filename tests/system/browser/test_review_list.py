"""The queue list by keyboard (focus, select, bulk verdict) and a claimed item seen by a second moderator."""

import pytest

from search.queries.models import Match
from search.review import services as review_services
from search.review.models import ReviewDecision
from search.teams.models import Role
from tests.factories import MembershipFactory
from tests.review_world import World, unit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(browser, base_url: str, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def test_select_two_rows_with_the_keyboard_and_reject_them_in_bulk(live_server, browser, media_root):
    world = World()
    ids = [world.query(50 + seed, descriptor=unit(seed), score=0.9 - seed / 10).matches.get().id for seed in range(3)]
    page = _login(browser, live_server.url, world.moderator.username)
    page.goto(f"{live_server.url}/review/")
    for key in ("j", "x", "j", "x"):
        page.keyboard.press(key)
    with page.expect_navigation():
        page.keyboard.press("r")
    reviews = dict(Match.objects.filter(id__in=ids).values_list("id", "review"))
    assert [reviews[i] for i in ids] == [ReviewDecision.REJECTED, ReviewDecision.REJECTED, ReviewDecision.UNREVIEWED]
    assert page.locator("[data-state=unreviewed] .count").inner_text() == "1"
    page.context.close()


def test_a_second_moderator_sees_the_claim_and_no_verdict_buttons(live_server, browser, media_root):
    world = World()
    match = world.query(50, descriptor=unit(1)).matches.get()
    second = MembershipFactory(team=world.collection.team, role=Role.MODERATOR).user
    first_page = _login(browser, live_server.url, world.moderator.username)
    first_page.goto(f"{live_server.url}/review/items/{match.id}/")
    assert first_page.locator("[data-shortcut=c]").count() == 1
    other = _login(browser, live_server.url, second.username)
    other.goto(f"{live_server.url}/review/items/{match.id}/")
    assert f"{world.moderator.username} is reviewing this item" in other.content()
    assert other.locator("[data-shortcut=c]").count() == 0
    other.goto(f"{live_server.url}/review/")
    assert "claimed by" in other.locator(f"#item-{match.id}").inner_text()
    assert other.locator("#start-review").count() == 0, "nothing free to start on"
    first_page.context.close()
    other.context.close()


def _thumbnail_sizes(page) -> list[tuple[float, float]]:
    return [(box["width"], box["height"]) for box in (img.bounding_box() for img in page.locator("img.mini").all())]


def test_queue_and_allowlist_thumbnails_render_small_beside_their_rows(live_server, browser, media_root):
    world = World()
    match = world.query(50, descriptor=unit(1)).matches.get()
    world.query(51, descriptor=unit(2))
    page = _login(browser, live_server.url, world.moderator.username)
    page.goto(f"{live_server.url}/review/")
    assert _thumbnail_sizes(page) == [(60, 44)] * 4, "a query and a reference thumbnail per row"
    review_services.allowlist_add(actor=world.moderator, match=match, reason="stock photo")
    page.goto(f"{live_server.url}/teams/{world.collection.team.slug}/allowlist/")
    assert "stock photo" in page.content()
    assert _thumbnail_sizes(page) == [(60, 44)]
    page.context.close()
