"""The whole path through live services: web client → Redis → a real Celery worker → Milvus Lite → result page."""

import time

import pytest
from django.urls import reverse

from search.collection.models import ImageStatus
from search.queries.models import QueryImage
from search.teams.models import Role
from tests.factories import UserFactory, team_with
from tests.images import edited_copy, encode, image_upload, scene
from tests.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_upload_references_and_a_copy_then_see_the_true_reference_first(client, live_worker):
    user = UserFactory()
    team = team_with(user, Role.ADMIN)
    client.force_login(user)
    response = client.post(
        reverse("search:collection_list"), {"team": team.id, "name": "Known", "description": "", "match_threshold": 0.5}
    )
    collection_url = response.url
    collection_id = int(collection_url.rstrip("/").split("/")[-1])
    seeds = [700 + i for i in range(8)]
    files = [image_upload(f"ref{seed}.jpg", data=encode(scene(seed))) for seed in seeds]
    client.post(reverse("search:references_upload", args=[collection_id]), {"source": "files", "files": files})

    def all_indexed():
        page = client.get(reverse("search:collection_progress", args=[collection_id]))
        progress = page.context["progress"]
        assert progress.failed == 0, "no reference may fail"
        return progress.finished and progress.indexed == len(seeds)

    wait_until(all_indexed, timeout=120, what="the references to be indexed by the worker", every=0.2)

    started = time.monotonic()
    response = client.post(
        reverse("search:query_upload", args=[collection_id]),
        {"image": image_upload("meme.jpg", data=encode(edited_copy(scene(703))))},
    )
    query = QueryImage.objects.get(original_name="meme.jpg")
    wait_until(
        lambda: QueryImage.objects.get(id=query.id).status == ImageStatus.INDEXED,
        timeout=60,
        what="the query's results",
        every=0.2,
    )
    elapsed = time.monotonic() - started
    print(f"\nquery upload → finished results through the live worker: {elapsed * 1000:.0f} ms")

    page = client.get(response.url)
    views = page.context["views"]
    assert views[0].match.reference.original_name == "ref703.jpg"
    assert views[0].is_copy and views[0].match.inliers >= 8, "verification found a consistent geometry"
    assert "<line" in page.content.decode(), "the matched keypoints are drawn"
    preview = client.get(reverse("search:image_file", args=["query", query.id, "preview"]))
    assert preview.status_code == 200 and preview["Content-Type"] == "image/jpeg", "drawn over the preview"

    # A smooth noise field: procedural stripes or cell mosaics resemble each other globally even
    # when unrelated, which no real photo collection does.
    unrelated = client.post(
        reverse("search:query_upload", args=[collection_id]),
        {"image": image_upload("other.jpg", data=encode(scene(9997)))},
    )
    other = QueryImage.objects.get(original_name="other.jpg")
    wait_until(
        lambda: QueryImage.objects.get(id=other.id).status == ImageStatus.INDEXED,
        timeout=60,
        what="the unrelated query's results",
        every=0.2,
    )
    other_views = client.get(unrelated.url).context["views"]
    assert other_views, "candidates are listed even when none is a copy"
    assert all(not view.is_copy for view in other_views), [v.match.final_score for v in other_views]
