"""A moderator's day in a real browser: an uploader adds references and queries (searched eagerly with the real
descriptor and Milvus Lite), a moderator clears the queue with the keyboard, the dashboard counts the verdicts,
an undo puts one back; another team's moderator sees none of it, pages nor image files.

ISC_SCREENSHOT_DIR=docs/img writes review.png (the review item) and dashboard.png there.
"""

import os
import time
from pathlib import Path

import pytest

from search.queries.models import Match
from search.review.models import ReviewDecision
from search.teams.models import Role
from tests.factories import MembershipFactory, UserFactory, collection_for
from tests.images import edited_copy, encode, scene
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"


def _login(browser, base_url: str, username: str):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.console_errors = []
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def _file(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "image/jpeg", "buffer": data}


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("ISC_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=True)


def _depth(page, base_url: str, slug: str) -> int:
    page.goto(f"{base_url}/teams/{slug}/dashboard/")
    page.wait_for_load_state("networkidle")
    return int(page.locator("#queue-depth").inner_text())


def test_a_moderator_clears_the_queue_by_keyboard_and_another_team_sees_nothing(
    live_server, browser, isc_settings, eager_tasks
):
    uploader = UserFactory(username="uma")
    collection = collection_for(uploader, Role.UPLOADER, name="Known memes")
    team = collection.team
    moderator = MembershipFactory(team=team, role=Role.MODERATOR, user=UserFactory(username="mo")).user
    outsider = UserFactory(username="otto")
    collection_for(outsider, Role.MODERATOR, name="Other team's collection")
    base = live_server.url

    page = _login(browser, base, uploader.username)
    page.goto(f"{base}/collections/{collection.id}/")
    page.set_input_files(
        "form:has(input[value=files]) input[type=file]",
        [_file(f"reference-{seed}.jpg", encode(scene(seed))) for seed in (300, 301, 302, 303)],
    )
    page.click("form:has(input[value=files]) button[type=submit]")
    page.wait_for_load_state("networkidle")
    for seed in (301, 302):
        page.goto(f"{base}/collections/{collection.id}/")
        page.set_input_files("input[name=image]", _file(f"repost-{seed}.jpg", encode(edited_copy(scene(seed)))))
        page.click("form[action$='/queries/'] button[type=submit]")
        page.wait_for_load_state("networkidle")
        assert page.locator("article.match.copy").count() >= 1, page.content()[:2000]
    page.context.close()

    mod = _login(browser, base, moderator.username)
    before = _depth(mod, base, team.slug)
    assert before == 2

    started = time.perf_counter()
    mod.goto(f"{base}/review/")
    with mod.expect_navigation():
        mod.keyboard.press("Enter")  # "Start reviewing": opens the first free item and claims it
    first_id = int(mod.locator("#review-item").get_attribute("data-match"))
    _screenshot(mod, "review.png")
    with mod.expect_navigation():
        mod.keyboard.press("c")
    wait_until(
        lambda: Match.objects.get(id=first_id).review == ReviewDecision.CONFIRMED,
        timeout=30,
        what="the verdict to be stored",
        every=0.01,
    )
    seconds = time.perf_counter() - started
    print(f"\nkeyboard review: queue opened -> verdict stored in {seconds:.2f} s")

    second_id = int(mod.locator("#review-item").get_attribute("data-match"))
    assert second_id != first_id, "after a verdict the next item opens"
    with mod.expect_navigation():
        mod.keyboard.press("r")
    assert Match.objects.get(id=second_id).review == ReviewDecision.REJECTED
    assert _depth(mod, base, team.slug) == 0
    assert mod.locator("#verdict-total").inner_text() == "2"
    assert mod.evaluate("typeof Chart") == "function", "the vendored Chart.js loaded"
    assert mod.locator("canvas#per-day").bounding_box()["height"] > 100
    _screenshot(mod, "dashboard.png")

    mod.goto(f"{base}/review/")
    with mod.expect_navigation():
        mod.keyboard.press("u")  # undo my last verdict: the rejected item comes back, reopened
    assert int(mod.locator("#review-item").get_attribute("data-match")) == second_id
    assert Match.objects.get(id=second_id).review == ReviewDecision.UNREVIEWED
    assert _depth(mod, base, team.slug) == 1
    assert mod.console_errors == []
    image_urls = [
        f"/files/query/{Match.objects.get(id=first_id).query_id}/preview/",
        f"/files/reference/{Match.objects.get(id=first_id).reference_id}/thumb/",
    ]
    for url in image_urls:
        assert mod.request.get(base + url).status == 200
    mod.context.close()

    other = _login(browser, base, outsider.username)
    other.goto(f"{base}/review/")
    assert "Known memes" not in other.content() and other.locator("table.queue tbody tr[data-row]").count() == 0
    for url in [f"/review/items/{first_id}/", f"/teams/{team.slug}/dashboard/", f"/collections/{collection.id}/"]:
        assert other.goto(base + url).status == 404, url
    for url in image_urls:
        assert other.request.get(base + url).status == 404, url
    other.context.close()
