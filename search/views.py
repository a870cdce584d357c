"""Thin views: validate the input, call one service or selector, render."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required, user_passes_test
from django.contrib.auth.forms import UserCreationForm
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from copydetect.imaging import ImageRejected
from search import media, selectors, services, teams, views_ingest
from search import reindex as reindex_services
from search.forms import (
    CollectionCreateForm,
    CollectionForm,
    QueryForm,
    ReferenceFilesForm,
    ReferenceFolderForm,
    ReferenceZipForm,
    ReviewForm,
)
from search.models import ImageStatus
from search.uploads import Payload, UploadError, files_read

REFERENCES_PER_PAGE = 60


def signup(request: HttpRequest) -> HttpResponse:
    """Off unless ISC_OPEN_SIGNUP=1; otherwise accounts come from a team admin (members page, invite links)."""
    if not settings.ISC["OPEN_SIGNUP"]:
        raise Http404("Sign-up is closed; ask a team admin for an invite.")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, _ = teams.account_with_team_create(
            username=form.cleaned_data["username"], password=form.cleaned_data["password1"]
        )
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return redirect("search:collection_list")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def collection_list(request: HttpRequest) -> HttpResponse:
    admin_teams = selectors.team_admin_list(user=request.user)
    form = CollectionCreateForm(
        request.POST or None, teams=admin_teams, initial={"match_threshold": settings.ISC["DEFAULT_THRESHOLD"]}
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
    membership = selectors.membership_for(user=request.user, collection=collection)
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
            "queries": selectors.query_list(collection=collection)[:20],
            "files_form": ReferenceFilesForm(),
            "zip_form": ReferenceZipForm(),
            "folder_form": ReferenceFolderForm(),
            "query_form": QueryForm(),
            "settings_form": CollectionForm(instance=collection),
            "import_roots": services.team_import_root(team=collection.team),
            "membership": membership,
            "now": timezone.now(),
            "grace_days": settings.ISC["REFERENCE_DELETE_GRACE_DAYS"],
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
        messages.error(request, _form_errors(form))
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
    if source in ("zip", "folder"):  # bulk: a background job (search/ingest.py), not decoded in the request
        return views_ingest.references_ingest(request, collection, source)
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
        raise UploadError(_form_errors(form))
    return files_read(form.cleaned_data["files"], limits=services.upload_limits())


def _report_show(request: HttpRequest, report: services.UploadReport) -> None:
    level = messages.success if report.created else messages.warning
    level(request, f"Upload: {report.summary}.")
    for rejection in report.rejected[:20]:
        messages.error(request, f"{rejection.name}: {rejection.reason}")
    if len(report.rejected) > 20:
        messages.error(request, f"… and {len(report.rejected) - 20} more rejected files.")


@login_required
@require_POST
def query_upload(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = selectors.collection_get(user=request.user, collection_id=collection_id)
    form = QueryForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("search:collection_detail", collection_id=collection.id)
    uploaded = form.cleaned_data["image"]
    try:
        query, created = services.query_image_add(
            actor=request.user, collection=collection, payload=Payload(Path(uploaded.name).name, uploaded.read())
        )
    except ImageRejected as exc:
        messages.error(request, f"{uploaded.name}: {exc}")
        return redirect("search:collection_detail", collection_id=collection.id)
    if not created:
        messages.info(request, "This exact image was already searched; showing its results.")
    return redirect("search:query_detail", query_id=query.id)


@login_required
def query_detail(request: HttpRequest, query_id: int) -> HttpResponse:
    query = selectors.query_get(user=request.user, query_id=query_id)
    return render(request, "search/query_detail.html", _query_context(request, query))


@login_required
def query_results(request: HttpRequest, query_id: int) -> HttpResponse:
    query = selectors.query_get(user=request.user, query_id=query_id)
    return render(request, "search/_query_results.html", _query_context(request, query))


def _query_context(request: HttpRequest, query) -> dict:
    return {
        "query": query,
        "collection": query.collection,
        "views": selectors.match_views(query=query),
        "index_note": reindex_services.query_index_note(query=query),
        "membership": selectors.membership_for(user=request.user, collection=query.collection),
    }


@login_required
@require_POST
def image_retry(request: HttpRequest, kind: str, image_id: int) -> HttpResponse:
    image = (
        selectors.query_get(user=request.user, query_id=image_id)
        if kind == "query"
        else selectors.reference_get(user=request.user, reference_id=image_id)
    )
    services.stored_image_retry(actor=request.user, image=image)
    messages.info(request, f"{image.original_name} is queued again.")
    if kind == "query":
        return redirect("search:query_detail", query_id=image.id)
    return redirect("search:collection_detail", collection_id=image.collection_id)


@login_required
@require_POST
def match_review(request: HttpRequest, match_id: int) -> HttpResponse:
    match = selectors.match_get(user=request.user, match_id=match_id)
    form = ReviewForm(request.POST)
    if form.is_valid():
        services.match_review(match=match, reviewer=request.user, decision=form.cleaned_data["decision"])
    else:
        messages.error(request, _form_errors(form))
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("search:review_dashboard")


def _staff(user) -> bool:
    return user.is_staff


@user_passes_test(_staff)
def reindex(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        job, created = reindex_services.reindex_job_start(actor=request.user)
        if created:
            messages.success(
                request, "Reindex queued: the corpus is re-embedded beside the live index, which answers until then."
            )
        else:
            messages.info(request, f"Reindex #{job.id} is already under way; it is shown below.")
        return redirect("search:reindex")
    return render(request, "search/reindex.html", _reindex_context())


@user_passes_test(_staff)
def reindex_progress(request: HttpRequest) -> HttpResponse:
    return render(request, "search/_reindex_progress.html", _reindex_context())


def _reindex_context() -> dict:
    return {
        "status": reindex_services.index_status(),
        "jobs": reindex_services.reindex_job_list(limit=10),
        "configured_descriptor": settings.ISC["DESCRIPTOR"],
        "keep_old": settings.ISC["REINDEX_KEEP_OLD"],
    }


@login_required
def image_file(request: HttpRequest, kind: str, image_id: int, variant: str) -> HttpResponse:
    """An image of one of the user's teams: the original, its 256 px thumbnail or its web-safe preview."""
    image = selectors.stored_image_get(user=request.user, kind=kind, image_id=image_id)
    return media.image_response(image=image, variant=variant)


def _form_errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)
