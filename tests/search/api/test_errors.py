import re
from pathlib import Path

import pytest

from search.api import errors
from search.api.errors import ERROR_CODES

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def _documented_codes() -> set[str]:
    """The codes in the first column of the error table of docs/api.md."""
    table = DOC.read_text().split("| code | HTTP | when |", 1)[1].split("\n\n", 1)[0]
    return {code for row in table.splitlines()[2:] for code in re.findall(r"`([a-z_]+)`", row.split("|")[1])}


def test_the_error_table_of_the_docs_lists_exactly_the_codes_of_the_api():
    assert sorted(_documented_codes()) == sorted(ERROR_CODES)


def test_the_error_module_describes_every_code():
    assert [code for code in ERROR_CODES if code not in errors.__doc__] == []


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


def test_a_django_permission_denied_raised_by_a_service_is_a_403_with_a_code():
    from django.core.exceptions import PermissionDenied

    response = errors.exception_handler(PermissionDenied("Not for you."), {})
    assert response.status_code == 403
    assert response.data == {"code": "permission_denied", "detail": "Not for you."}
