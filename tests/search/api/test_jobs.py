import pytest

from search.models import ReindexJob
from tests.factories import UserFactory
from tests.search.api.conftest import token_client

pytestmark = pytest.mark.django_db


def test_anyone_signed_in_can_follow_reindex_jobs_with_their_progress(api):
    job = ReindexJob.objects.create(total=8, done=2, state=ReindexJob.State.RUNNING, descriptor_version="sscd_v2")
    listed = api.get("/api/jobs/reindex/").json()
    assert [j["id"] for j in listed["results"]] == [job.id]
    body = api.get(f"/api/jobs/reindex/{job.id}/").json()
    assert (body["state"], body["done"], body["total"], body["percent"]) == ("running", 2, 8, 25)


def test_only_staff_may_start_a_reindex(api):
    response = api.post("/api/jobs/reindex/")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not ReindexJob.objects.exists()


def test_staff_start_a_reindex_over_every_reference(searched_query, django_capture_on_commit_callbacks):
    staff = token_client(UserFactory(is_staff=True))
    with django_capture_on_commit_callbacks() as queued:
        response = staff.post("/api/jobs/reindex/")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "queued" and body["total"] == 2
    assert len(queued) == 1, "the job is handed to a worker once the row is committed"


def test_an_unknown_job_is_unknown_job(api):
    response = api.get("/api/jobs/reindex/12345/")
    assert response.status_code == 404 and response.json()["code"] == "unknown_job"
