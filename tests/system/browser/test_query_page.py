"""The result page in a real browser: a 20000 × 100 banner is drawn readable, not shrunk to a sliver."""

import pytest

from copydetect.benchmark.synthetic import textured_scene
from search.core.uploads import Payload
from search.queries import services as queries_services
from tests.images import encode
from tests.review_world import World

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_banner_query_is_drawn_at_a_readable_height_beside_its_reference(live_server, page, media_root):
    world = World()
    banner = encode(textured_scene(5, size=(20000, 100)), "PNG")
    query, _ = queries_services.query_image_add(
        actor=world.admin, collection=world.collection, payload=Payload("banner.png", banner)
    )
    world.search(query, descriptor=None, score=0.9)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", world.admin.username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}/queries/{query.id}/")
    pictures = page.locator(".pair svg image")
    query_box, reference_box = pictures.nth(0).bounding_box(), pictures.nth(1).bounding_box()
    assert query_box["height"] >= 60, f"the banner is {query_box['height']:.1f} px high on the page"
    assert query_box["width"] / query_box["height"] == pytest.approx(200, rel=0.01), "in its true proportions"
    assert reference_box["height"] >= 250, "the reference is not shrunk along with it"
    frame = page.locator(".pair.wide")
    assert frame.evaluate("element => element.scrollWidth > element.clientWidth"), "the row scrolls sideways"
    loaded = pictures.nth(0).evaluate(
        "image => new Promise(done => { const probe = new Image(); probe.onload = () => done(probe.naturalHeight);"
        " probe.src = image.getAttribute('href'); })"
    )
    assert loaded >= 80, f"the preview file is {loaded} px high"
    assert page.console_errors == []
