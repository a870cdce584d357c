import io

import pytest

pytestmark = pytest.mark.django_db


def _csv(name: str, text: str) -> io.BytesIO:
    handle = io.BytesIO(text.encode())
    handle.name = name
    return handle


def test_the_figures_of_a_collection_against_its_ground_truth(api, searched_query):
    # q is a copy of r1 (its best match, 0.93); r2 (0.2) is a false candidate.
    url = f"/api/collections/{searched_query.collection_id}/evaluation/"
    response = api.post(url, {"ground_truth": _csv("gt.csv", "query_id,reference_id\nq,r1\n")}, format="multipart")
    assert response.status_code == 200
    body = response.json()
    assert body["micro_ap"] == 1.0 and body["recall_at_p90"] == 1.0 and body["threshold_at_p90"] == 0.93
    assert (body["n_queries_scored"], body["n_pairs"], body["n_pairs_found"], body["n_predictions"]) == (1, 1, 1, 2)
    assert body["missing_references"]["count"] == 0 and body["families"] == []


def test_a_missed_pair_lowers_the_figures(api, searched_query):
    url = f"/api/collections/{searched_query.collection_id}/evaluation/"
    truth = _csv("gt.csv", "query_id,reference_id\nq,r2\n")
    body = api.post(url, {"ground_truth": truth}, format="multipart").json()
    # r2 is ranked after the wrong r1: precision 1/2 at full recall.
    assert body["micro_ap"] == 0.5 and body["recall_at_p90"] == 0.0


def test_with_an_edits_file_the_breakdown_comes_too(api, searched_query):
    url = f"/api/collections/{searched_query.collection_id}/evaluation/"
    body = api.post(
        url,
        {
            "ground_truth": _csv("gt.csv", "query_id,reference_id\nq,r1\n"),
            "edits": _csv("edits.csv", "query_id,families,difficulty\nq,crop|blur,hard\n"),
        },
        format="multipart",
    ).json()
    assert [row["name"] for row in body["families"]] == ["blur", "crop"]
    assert body["difficulties"][0]["name"] == "hard" and body["difficulties"][0]["micro_ap"] == 1.0


@pytest.mark.parametrize(
    "text", ["not,the,header\n1,2,3\n", "query_id,reference_id\n", "\x00\x01binary"], ids=["header", "empty", "binary"]
)
def test_a_bad_csv_is_bad_csv_with_the_reason(api, collection, text):
    url = f"/api/collections/{collection.id}/evaluation/"
    response = api.post(url, {"ground_truth": _csv("gt.csv", text)}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "bad_csv"
    assert response.json()["detail"].startswith("gt.csv")


def test_a_missing_ground_truth_is_missing_file(api, collection):
    response = api.post(f"/api/collections/{collection.id}/evaluation/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["code"] == "missing_file"


def test_a_ground_truth_over_the_byte_limit_is_too_large(api, collection, settings):
    settings.ISC = settings.ISC.replace(max_upload_bytes=10)
    url = f"/api/collections/{collection.id}/evaluation/"
    response = api.post(url, {"ground_truth": _csv("gt.csv", "query_id,reference_id\nq,r1\n")}, format="multipart")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
