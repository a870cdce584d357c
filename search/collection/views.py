"""Collection pages: the list, one collection with its references and queries, settings, uploads of
references, and single-reference deletion, restore, disable and release."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from search.collection import selectors, services
from search.collection.forms import (
    CollectionCreateForm,
    CollectionForm,
    ReferenceFilesForm,
    ReferenceFolderForm,
    ReferenceZipForm,
)
from search.collection.models import ImageStatus
from search.core import uploads
from search.core.forms import form_errors
from search.core.uploads import UploadError, files_read
from search.ingest import views as ingest_views
from search.queries import selectors as queries_selectors
from search.queries.forms import QueryForm
from search.reindex import selectors as reindex_selectors
from search.review.views import _safe_next
from search.teams import selectors as teams_selectors

REFERENCES_PER_PAGE = 60


@login_required
def collection_list(request: HttpRequest) -> HttpResponse:
    admin_teams = teams_selectors.team_admin_list(user=request.user)
    form = CollectionCreateForm(
        request.POST or None, teams=admin_teams, initial={"match_threshold": settings.ISC.default_threshold}
    )
    if request.method == "POST" and form.is_valid():
        try:
            collection = services.collection_create(actor=request.user, **form.cleaned_data)
        except IntegrityError:
            form.add_error("name", "This team already has a collection with this name.")
        else:
            return redirect("search:collection_detail", collection_id=collection.id)
    collections = selectors.collection_list(user=request.user)
    return render(
        request,
        "search/collection_list.html",
        {"collections": collections, "form": form if admin_teams.exists() else None},
    )


@login_required
def collection_detail(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    membership = teams_selectors.membership_for(user=request.user, collection=collection)
    status = request.GET.get("status") or None
    references = Paginator(selectors.reference_list(collection=collection, status=status), REFERENCES_PER_PAGE)
    return render(
        request,
        "search/collection_detail.html",
        {
            "collection": collection,
            "progress": selectors.reference_progress(collection=collection),
            "references": references.get_page(request.GET.get("page")),
            "status_filter": status,
            "statuses": ImageStatus,
            "queries": queries_selectors.query_list(collection=collection)[:20],
            "files_form": ReferenceFilesForm(),
            "zip_form": ReferenceZipForm(),
            "folder_form": ReferenceFolderForm(),
            "query_form": QueryForm(),
            "settings_form": CollectionForm(instance=collection),
            "import_roots": services.team_import_root(team=collection.team),
            "membership": membership,
            "now": timezone.now(),
            "grace_days": settings.ISC.reference_delete_grace_days,
            "models_in_use": reindex_selectors.models_in_use() if membership.is_admin else None,
        },
    )


@login_required
def collection_progress(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    progress = selectors.reference_progress(collection=collection)
    return render(request, "search/_progress.html", {"collection": collection, "progress": progress})


@login_required
@require_POST
def collection_settings(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    form = CollectionForm(request.POST, instance=collection)
    if form.is_valid():
        services.collection_update(actor=request.user, collection=collection, **form.cleaned_data)
        messages.success(request, "Settings saved.")
    else:
        messages.error(request, form_errors(form))
    return redirect("search:collection_detail", collection_id=collection.id)


@login_required
@require_POST
def collection_delete(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    services.collection_delete(actor=request.user, collection=collection)
    messages.success(request, f"Collection “{collection.name}” deleted.")
    return redirect("search:collection_list")


@login_required
@require_POST
def references_upload(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    source = request.POST.get("source", "files")
    if source in ("zip", "folder"):  # bulk: a background job (search/ingest/), not decoded in the request
        return ingest_views.references_ingest(request, collection, source)
    try:
        items = _upload_items(request)
    except UploadError as exc:
        messages.error(request, str(exc))
        return redirect("search:collection_detail", collection_id=collection.id)
    try:
        report = services.reference_images_add(actor=request.user, collection=collection, items=items, source="files")
    except UploadError as exc:
        messages.error(request, str(exc))
        return redirect("search:collection_detail", collection_id=collection.id)
    _report_show(request, report)
    return redirect("search:collection_detail", collection_id=collection.id)


def _upload_items(request: HttpRequest):
    form = ReferenceFilesForm(request.POST, request.FILES)
    if not form.is_valid():
        raise UploadError(form_errors(form))
    return files_read(form.cleaned_data["files"], limits=uploads.upload_limits())


def _report_show(request: HttpRequest, report: services.UploadReport) -> None:
    level = messages.success if report.created else messages.warning
    level(request, f"Upload: {report.summary}.")
    for rejection in report.rejected[:20]:
        messages.error(request, f"{rejection.name}: {rejection.reason}")
    if len(report.rejected) > 20:
        messages.error(request, f"… and {len(report.rejected) - 20} more rejected files.")


@login_required
@require_POST
def reference_delete(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    services.reference_delete(actor=request.user, reference=reference)
    days = services.grace_period().days
    messages.success(request, f"{reference.original_name} deleted; it can be restored for {days} days.")
    return redirect("search:collection_detail", collection_id=reference.collection_id)


@login_required
@require_POST
def reference_restore(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    if services.reference_restore(actor=request.user, reference=reference):
        messages.success(request, f"{reference.original_name} restored.")
    else:
        messages.error(request, "The grace period is over; the reference can no longer be restored.")
    return redirect("search:collection_detail", collection_id=reference.collection_id)


@login_required
@require_POST
def reference_disable(request: HttpRequest, reference_id: int) -> HttpResponse:
    """Disable for N days (0: enable again); settles a quarantine too."""
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    try:
        days = max(0, min(int(request.POST.get("days", "7")), 3650))
    except ValueError:
        days = 7
    until = timezone.now() + timedelta(days=days) if days else None
    services.reference_disable(actor=request.user, reference=reference, until=until)
    messages.success(request, f"{reference.original_name} {f'disabled for {days} days' if days else 'enabled'}.")
    return redirect(_safe_next(request, reverse("search:collection_detail", args=[reference.collection_id])))


@login_required
@require_POST
def reference_release(request: HttpRequest, reference_id: int) -> HttpResponse:
    reference = selectors.reference_get(user=request.user, reference_id=reference_id)
    services.reference_release(actor=request.user, reference=reference)
    messages.success(request, f"{reference.original_name} released from quarantine.")
    return redirect(_safe_next(request, reverse("search:collection_detail", args=[reference.collection_id])))
