"""Bulk import from the site: the request stores the zip (or checks the folder) and returns; a job does the rest."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from search.collection import selectors as collection_selectors
from search.collection.forms import ReferenceFolderForm, ReferenceZipForm
from search.collection.models import Collection
from search.core.forms import form_errors
from search.core.uploads import UploadError
from search.ingest import selectors, services


def references_ingest(request: HttpRequest, collection: Collection, source: str) -> HttpResponse:
    """Starts a bulk-ingest job for an uploaded zip (uploader role) or a folder under the team's import
    root (admin role) as a POST of references_upload; a role too low is a 403 (PermissionDenied)."""
    try:
        job = _job_start(request, collection, source)
    except UploadError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Import #{job.id} queued: its progress shows below and updates itself.")
    return redirect("search:collection_detail", collection_id=collection.id)


def _job_start(request: HttpRequest, collection: Collection, source: str):
    if source == "zip":
        form = ReferenceZipForm(request.POST, request.FILES)
        if not form.is_valid():
            raise UploadError(form_errors(form))
        return services.ingest_zip_upload(
            actor=request.user, collection=collection, uploaded=form.cleaned_data["archive"]
        )
    form = ReferenceFolderForm(request.POST)
    if not form.is_valid():
        raise UploadError(form_errors(form))
    return services.ingest_folder_start(actor=request.user, collection=collection, folder=form.cleaned_data["folder"])


@login_required
def ingest_jobs_panel(request: HttpRequest, collection_id: int) -> HttpResponse:
    """The block of the collection page that polls itself while an import runs."""
    from search.templatetags.ingest_tags import ingest_jobs_panel as panel_context

    collection = collection_selectors.collection_get(user=request.user, collection_id=collection_id)
    return render(request, "search/_ingest_jobs.html", panel_context(collection))


@login_required
def ingest_job_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = selectors.ingest_job_get(user=request.user, job_id=job_id)
    return render(request, "search/ingest_job.html", {"job": job, "errors": selectors.ingest_job_errors(job=job)})
