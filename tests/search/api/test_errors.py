from pathlib import Path

import pytest

from search.api.errors import ERROR_CODES

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_every_error_code_is_documented_for_clients():
    text = DOC.read_text()
    assert [code for code in ERROR_CODES if f"`{code}`" not in text] == []


def test_asking_for_html_is_not_acceptable(api):
    response = api.get("/api/collections/", HTTP_ACCEPT="text/html")
    assert response.status_code == 406 and response.json()["code"] == "not_acceptable"


def test_an_error_body_has_the_same_shape_everywhere(api, collection):
    bodies = [
        api.get("/api/collections/424242/").json(),
        api.post("/api/collections/", {"name": collection.name}, format="json").json(),
        api.post("/api/collections/", {"match_threshold": 2}, format="json").json(),
    ]
    assert [sorted(body) for body in bodies] == [["code", "detail"], ["code", "detail"], ["code", "detail", "fields"]]
    assert all(body["code"] in ERROR_CODES and body["detail"] for body in bodies)
