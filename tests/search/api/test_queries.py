import pytest

from search.queries.models import QueryImage
from tests.images import image_upload

pytestmark = pytest.mark.django_db


def _queries_url(collection) -> str:
    return f"/api/collections/{collection.id}/queries/"


def test_a_query_upload_without_wait_answers_202_with_its_status_url(api, collection, media_root):
    response = api.post(_queries_url(collection), {"file": image_upload("suspect.jpg", 9)}, format="multipart")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending" and body["finished"] is False and "matches" not in body
    assert response["Location"] == f"http://testserver/api/queries/{body['id']}/"
    assert api.get(response["Location"]).json()["status"] == "pending"


def test_waiting_for_a_search_nobody_runs_gives_up_after_the_wait_with_202(api, collection, media_root):
    # No worker and no eager mode here: the search never finishes, so the wait runs out.
    response = api.post(f"{_queries_url(collection)}?wait=0.5", {"file": image_upload("q.jpg", 9)}, format="multipart")
    assert response.status_code == 202 and response.json()["status"] == "pending"


@pytest.mark.parametrize("wait", ["-1", "31", "soon", "nan"])
def test_a_wait_outside_the_bounds_is_invalid_parameter(api, collection, media_root, wait):
    response = api.post(f"{_queries_url(collection)}?wait={wait}", {"file": image_upload("q.jpg")}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"
    assert not QueryImage.objects.exists()


def test_the_wait_bound_comes_from_the_settings(api, collection, media_root, settings):
    settings.ISC_API = {**settings.ISC_API, "MAX_WAIT_SECONDS": 5}
    response = api.post(f"{_queries_url(collection)}?wait=6", {"file": image_upload("q.jpg")}, format="multipart")
    assert response.status_code == 400 and "from 0 to 5" in response.json()["detail"]


def test_a_finished_query_comes_with_its_matches(api, searched_query):
    response = api.get(f"/api/queries/{searched_query.id}/?wait=5")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "indexed" and body["finished"] and body["search_ms"] == 42
    best, second = body["matches"]
    assert best["rank"] == 1 and best["reference"]["original_name"] == "r1.jpg"
    assert (best["final_score"], best["inliers"], best["is_copy"]) == (0.93, 37, True)
    assert best["keypoint_pairs"] == [[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.6, 0.6]]
    assert (second["is_copy"], second["verified"], second["review"]) == (False, False, "unreviewed")


def test_sending_the_same_bytes_again_gives_the_earlier_result_with_200(api, searched_query, media_root):
    from tests.images import encode, scene

    url = _queries_url(searched_query.collection)
    response = api.post(url, {"file": image_upload("again.jpg", data=encode(scene(3)))}, format="multipart")
    assert response.status_code == 200
    assert response.json()["id"] == searched_query.id and len(response.json()["matches"]) == 2


def test_the_matches_endpoint_is_paginated_in_rank_order(api, searched_query):
    page = api.get(f"/api/queries/{searched_query.id}/matches/?page_size=1").json()
    assert page["count"] == 2 and page["results"][0]["rank"] == 1 and page["next"]
    assert api.get(page["next"]).json()["results"][0]["rank"] == 2


def test_listing_a_collections_queries(api, searched_query):
    body = api.get(_queries_url(searched_query.collection)).json()
    assert [q["original_name"] for q in body["results"]] == ["q.jpg"]


@pytest.mark.parametrize(
    ("data", "code", "status"),
    [(b"GIF89a but not really", "bad_image", 400), (b"", "bad_image", 400)],
)
def test_a_bad_query_image_is_refused_with_its_code(api, collection, media_root, data, code, status):
    response = api.post(_queries_url(collection), {"file": image_upload("q.gif", data=data)}, format="multipart")
    assert response.status_code == status and response.json()["code"] == code
    assert not QueryImage.objects.exists()


def test_a_query_over_the_byte_limit_is_too_large(api, collection, media_root, settings):
    settings.ISC = settings.ISC.replace(max_upload_bytes=1000)
    response = api.post(_queries_url(collection), {"file": image_upload("big.jpg")}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_a_query_without_a_file_is_missing_file(api, collection):
    response = api.post(_queries_url(collection), {"image": image_upload("q.jpg")}, format="multipart")
    assert response.status_code == 400
    # The misnamed field is reported as unknown, the expected one as missing.
    fields = response.json()["fields"]
    assert fields["image"][0]["code"] == "unknown_field"
