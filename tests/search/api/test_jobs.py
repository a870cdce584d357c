import pytest

from search.core.models import AuditAction, AuditEvent
from search.reindex.models import ReindexJob
from tests.factories import UserFactory
from tests.search.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api():
    return token_client(UserFactory(is_staff=True))


def test_staff_follow_reindex_jobs_with_their_progress(staff_api):
    job = ReindexJob.objects.create(total=8, done=2, state=ReindexJob.State.RUNNING, descriptor_version="sscd_v2")
    listed = staff_api.get("/api/jobs/reindex/").json()
    assert [j["id"] for j in listed["results"]] == [job.id]
    body = staff_api.get(f"/api/jobs/reindex/{job.id}/").json()
    assert (body["state"], body["done"], body["total"], body["percent"]) == ("running", 2, 8, 25)


def test_jobs_are_staff_only_even_to_read(api, team):
    # A job counts every team's references: a team member must not learn the other teams' volume.
    job = ReindexJob.objects.create(total=8, state=ReindexJob.State.RUNNING)
    for response in (
        api.get("/api/jobs/reindex/"),
        api.get(f"/api/jobs/reindex/{job.id}/"),
        api.post("/api/jobs/reindex/"),
    ):
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert ReindexJob.objects.count() == 1


def test_staff_start_a_reindex_over_every_reference(staff_api, searched_query, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = staff_api.post("/api/jobs/reindex/")
    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "queued" and body["total"] == 2
    assert len(queued) == 1, "the job is handed to a worker once the row is committed"
    assert AuditEvent.objects.filter(action=AuditAction.REINDEX_START, target_id=body["id"]).exists()


def test_starting_while_a_job_runs_returns_that_job(staff_api):
    running = ReindexJob.objects.create(total=3, state=ReindexJob.State.RUNNING)
    response = staff_api.post("/api/jobs/reindex/")
    assert response.status_code == 200 and response.json()["id"] == running.id
    assert ReindexJob.objects.count() == 1


def test_an_unknown_job_is_unknown_job(staff_api):
    response = staff_api.get("/api/jobs/reindex/12345/")
    assert response.status_code == 404 and response.json()["code"] == "unknown_job"
