"""The OpenAPI schema: served, valid, documented offline, and the copy in the repository is current."""

from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

from search.api.errors import ERROR_CODES

pytestmark = pytest.mark.django_db

SCHEMA_FILE = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
REGENERATE = "make api-schema (python manage.py spectacular --file docs/openapi.yaml --validate)"


def test_the_schema_in_the_repository_matches_the_live_one(tmp_path):
    live = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(live), "--validate", "--fail-on-warn")
    assert live.read_text() == SCHEMA_FILE.read_text(), f"docs/openapi.yaml is out of date: run {REGENERATE}"


def test_the_schema_is_served_without_a_login(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert response.content.decode() == SCHEMA_FILE.read_text()


def test_the_schema_lists_every_endpoint_and_error_code():
    schema = yaml.safe_load(SCHEMA_FILE.read_text())
    operations = {op["operationId"] for path in schema["paths"].values() for op in path.values()}
    assert operations == {
        "teams_list",
        "collections_list",
        "collections_create",
        "collections_retrieve",
        "collections_settings_update",
        "collections_evaluate",
        "references_list",
        "references_upload",
        "references_upload_batch",
        "references_retrieve",
        "references_delete",
        "references_restore",
        "references_file",
        "queries_file",
        "queries_list",
        "queries_upload",
        "queries_retrieve",
        "queries_matches",
        "matches_retrieve",
        "matches_verdict_set",
        "matches_verdict_undo",
        "jobs_reindex_list",
        "jobs_reindex_start",
        "jobs_reindex_retrieve",
        # The HMA-compatible API (search/hma/), under /hma/<team>/.
        "hma_hash",
        "hma_raw_lookup",
        "hma_lookup",
        "hma_lookup_upload",
        "hma_banks_list",
        "hma_banks_create",
        "hma_bank_get",
        "hma_bank_update",
        "hma_bank_delete",
        "hma_bank_signal_add",
    }
    assert schema["components"]["schemas"]["Error"]["properties"]["code"]["$ref"].endswith("CodeEnum")
    assert set(schema["components"]["schemas"]["CodeEnum"]["enum"]) == set(ERROR_CODES)
    assert "tokenAuth" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize(("url", "asset"), [("/api/docs/", "swagger-ui-dist"), ("/api/redoc/", "redoc")])
def test_the_browsable_docs_load_their_scripts_from_our_own_static_files(client, url, asset):
    page = client.get(url).content.decode()
    assert f"/static/drf_spectacular_sidecar/{asset}/" in page, "no CDN: the machine may have no internet"
    assert "cdn.jsdelivr.net" not in page
    script = page.split(f"/static/drf_spectacular_sidecar/{asset}/")[1].split('"')[0]
    assert finders.find(f"drf_spectacular_sidecar/{asset}/{script}"), script
