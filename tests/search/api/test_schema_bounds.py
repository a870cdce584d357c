"""Each bound the server enforces is in the schema (docs/openapi.yaml, kept current by test_schema.py), and
each value the schema forbids is refused: one test per bound that the Schemathesis run found missing."""

import io
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from PIL import Image

from copydetect.imaging import MIN_SIDE
from tests.images import image_upload

pytestmark = pytest.mark.django_db

SCHEMA = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml").read_text())
OPERATIONS = {op["operationId"]: op for path in SCHEMA["paths"].values() for op in path.values()}
COMPONENTS = SCHEMA["components"]["schemas"]


def _parameter(operation_id: str, name: str) -> dict:
    return next(p for p in OPERATIONS[operation_id].get("parameters", []) if p["name"] == name)["schema"]


def _body(operation_id: str, media_type: str = "multipart/form-data") -> dict:
    ref = OPERATIONS[operation_id]["requestBody"]["content"][media_type]["schema"]["$ref"]
    return COMPONENTS[ref.rsplit("/", 1)[1]]


PAGINATED = sorted(op for op, definition in OPERATIONS.items() if "page_size" in str(definition.get("parameters")))


def test_every_list_declares_the_page_bounds():
    assert PAGINATED == [
        "collections_list",
        "jobs_reindex_list",
        "queries_list",
        "queries_matches",
        "references_list",
        "teams_list",
    ]
    for operation_id in PAGINATED:
        assert _parameter(operation_id, "page") == {"type": "integer", "minimum": 1}, operation_id
        assert _parameter(operation_id, "page_size") == {"type": "integer", "minimum": 1, "maximum": 200}


@pytest.mark.parametrize("operation_id", ["queries_upload", "queries_retrieve"])
def test_the_wait_bounds_are_declared(operation_id):
    assert _parameter(operation_id, "wait") == {
        "type": "number",
        "minimum": 0,
        "maximum": settings.ISC_API["MAX_WAIT_SECONDS"],
    }


def test_every_request_body_refuses_fields_it_does_not_declare():
    bodies = [
        COMPONENTS[content["schema"]["$ref"].rsplit("/", 1)[1]]
        for op in OPERATIONS.values()
        for content in op.get("requestBody", {}).get("content", {}).values()
    ]
    assert len(bodies) >= 7
    assert [body for body in bodies if body.get("additionalProperties") is not False] == []


def test_image_fields_declare_the_minimum_side_and_batches_their_file_count():
    for operation_id in ("references_upload", "queries_upload"):
        field = _body(operation_id)["properties"]["file"]
        assert field["x-image-min-side"] == MIN_SIDE and f"at least {MIN_SIDE} px" in field["description"]
    files = _body("references_upload_batch")["properties"]["files"]
    assert files["items"]["x-image-min-side"] == MIN_SIDE
    assert (files["minItems"], files["maxItems"]) == (1, settings.ISC_API["MAX_BATCH_FILES"])


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("side", "status"), [(MIN_SIDE - 1, 400), (MIN_SIDE, 201)])
def test_the_minimum_side_is_what_the_server_enforces(api, collection, media_root, side, status):
    upload = image_upload("tiny.png", data=_png(side, 40))
    response = api.post(f"/api/collections/{collection.id}/references/", {"file": upload}, format="multipart")
    assert response.status_code == status, response.json()


def test_unreviewed_matches_have_a_null_reviewer_and_the_schema_allows_it(api, searched_query):
    assert COMPONENTS["Match"]["properties"]["reviewed_by"]["nullable"] is True
    assert api.get(f"/api/queries/{searched_query.id}/matches/").json()["results"][0]["reviewed_by"] is None


@pytest.mark.parametrize("body_format", ["multipart", None])  # None: application/x-www-form-urlencoded
@pytest.mark.parametrize("field", ["team", "match_threshold"])
def test_an_empty_form_value_is_refused_not_read_as_left_out(api, team, field, body_format):
    body = {"name": "Empty fields", field: ""}
    if body_format:
        response = api.post("/api/collections/", body, format=body_format)
    else:
        from urllib.parse import urlencode

        response = api.post("/api/collections/", urlencode(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.json()
    assert response.json()["fields"][field][0]["code"] == "blank"
    assert not team.collections.exists()


def test_an_empty_team_in_json_is_refused_too(api, team):
    response = api.post("/api/collections/", {"name": "Empty team", "team": ""}, format="json")
    assert response.status_code == 400 and response.json()["fields"]["team"][0]["code"] == "blank"


@pytest.mark.parametrize(("threshold", "status"), [(0.0, 201), (1.0, 201), (-0.01, 400), (1.01, 400)])
def test_the_threshold_bounds_are_the_schemas_zero_and_one_inclusive(api, team, threshold, status):
    body = COMPONENTS["CollectionCreateRequest"]["properties"]["match_threshold"]
    assert (body["minimum"], body["maximum"]) == (0.0, 1.0) and "exclusiveMinimum" not in body
    response = api.post("/api/collections/", {"name": f"t {threshold}", "match_threshold": threshold}, format="json")
    assert response.status_code == status, response.json()


def test_an_empty_status_filter_is_invalid_parameter(api, collection):
    response = api.get(f"/api/collections/{collection.id}/references/?status=")
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


@pytest.mark.parametrize(
    "url",
    [
        "/api/teams/?page_sise=10",
        "/api/collections/?teams=newsroom",
        "/api/collections/{collection}/references/?state=indexed",
        "/api/collections/{collection}/?page=1",
    ],
)
def test_a_query_parameter_the_endpoint_does_not_take_is_refused(api, collection, url):
    response = api.get(url.format(collection=collection.id))
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"
    assert "Unknown query parameter" in response.json()["detail"]


def test_the_query_parameters_an_endpoint_takes_are_accepted(api, collection):
    assert api.get("/api/collections/?team=newsroom&page=1&page_size=5").status_code == 200
    assert api.get(f"/api/collections/{collection.id}/references/?status=indexed&page_size=5").status_code == 200


def test_a_method_the_endpoint_lacks_is_405_even_with_parameters(api):
    assert api.put("/api/teams/?x=1").status_code == 405


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Typed", "match_threshold": False}, "match_threshold"),
        ({"name": "Typed", "match_threshold": "0.5"}, "match_threshold"),
        ({"name": 5}, "name"),
        ({"name": "Typed", "team": 1}, "team"),
    ],
)
def test_a_json_value_of_another_type_than_the_schemas_is_refused(api, team, body, field):
    response = api.post("/api/collections/", body, format="json")
    assert response.status_code == 400 and response.json()["fields"][field][0]["code"] == "invalid"
    assert not team.collections.exists()


@pytest.mark.parametrize("wait", ["30.0000000000000001", "1_0", " 1", "1e400", "Infinity"])
def test_a_wait_the_schema_forbids_is_refused_even_where_a_float_would_round_it_in(api, searched_query, wait):
    response = api.get(f"/api/queries/{searched_query.id}/", {"wait": wait})
    assert response.status_code == 400 and response.json()["code"] == "invalid_parameter"


@pytest.mark.parametrize("wait", ["0", "30", "0.5", "2e1"])
def test_a_wait_within_the_bounds_is_accepted(api, searched_query, wait):
    assert api.get(f"/api/queries/{searched_query.id}/", {"wait": wait}).status_code == 200


def test_a_settings_update_that_names_no_field_is_refused_as_the_schema_says(api, collection):
    assert COMPONENTS["PatchedCollectionWriteRequest"]["minProperties"] == 1
    response = api.patch(f"/api/collections/{collection.id}/", {}, format="json")
    assert response.status_code == 400 and response.json()["fields"]["non_field_errors"][0]["code"] == "empty"
    # A multipart body that holds no part (here: only a preamble) is the same empty update.
    garbage = b"--b\r\nnot a part--b--\r\n"
    response = api.generic(
        "PATCH", f"/api/collections/{collection.id}/", garbage, content_type="multipart/form-data; boundary=b"
    )
    assert response.status_code == 400, response.content
