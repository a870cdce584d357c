"""The collection page in a real browser: quiet thumbnail actions that ask before they act, and captions
that show the copies badge and the file name whole."""

import pytest

from search.collection.models import ReferenceImage
from search.queries import services as queries_services
from tests.review_world import World, unit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

RED = "rgb(192, 57, 43)"
TRANSPARENT = "rgba(0, 0, 0, 0)"


def _login(page, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _style(locator, prop: str) -> str:
    return locator.evaluate(f"element => getComputedStyle(element)['{prop}']")


def test_delete_and_disable_are_quiet_links_that_ask_first(live_server, page, media_root):
    world = World()
    _login(page, live_server.url, world.admin.username)
    page.goto(f"{live_server.url}/collections/{world.collection.id}/")
    thumb = page.locator(".thumb", has_text=world.reference.original_name)
    delete, disable = thumb.locator("summary", has_text="Delete"), thumb.locator("summary", has_text="Disable 7 days")
    assert _style(delete, "backgroundColor") == TRANSPARENT and _style(delete, "color") == RED
    assert _style(disable, "backgroundColor") == TRANSPARENT
    confirm = thumb.get_by_role("button", name="Delete it")
    assert not confirm.is_visible(), "nothing to submit before the first click"
    delete.click()
    assert confirm.is_visible() and world.reference.original_name in thumb.locator("details[open]").inner_text()
    world.reference.refresh_from_db()
    assert world.reference.deleted_at is None, "the first click only asks"
    with page.expect_navigation():
        confirm.click()
    assert ReferenceImage.objects.get(id=world.reference.id).deleted_at is not None
    assert "deleted; it can be restored" in page.locator(".messages").inner_text()
    assert page.console_errors == []


def test_copies_badge_and_names_are_not_cut_off(live_server, page, media_root):
    world = World()
    second = world.reference_add(2)
    query = world.query(50, descriptor=unit(1), name="R000123_beach.jpg")
    results = [queries_services.MatchResult(ref.id, 0.9, True, 20, 0.5, [], 0.9) for ref in (world.reference, second)]
    queries_services.query_results_record(
        query_id=query.id, descriptor_version="v", search_ms=1, results=results, query_descriptor=unit(1)
    )
    _login(page, live_server.url, world.admin.username)
    page.goto(f"{live_server.url}/collections/{world.collection.id}/")
    thumb = page.locator(".thumb", has=page.locator(".badge.copy"))
    badge, name = thumb.locator(".badge.copy"), thumb.locator(".cap.name")
    assert badge.inner_text() == "2 copies"
    box, badge_box = thumb.bounding_box(), badge.bounding_box()
    assert badge_box["x"] + badge_box["width"] <= box["x"] + box["width"], "the badge fits inside its card"
    whole = "element => element.scrollWidth <= element.clientWidth && element.scrollHeight <= element.clientHeight"
    assert name.evaluate(whole), "the name shows whole (on two lines at most)"
    assert name.get_attribute("title") == "R000123_beach.jpg"
