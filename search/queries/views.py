"""Query pages: the upload, and the result page with each match side by side."""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from copydetect.imaging import ImageRejected
from search.collection import selectors as collection_selectors
from search.core.forms import form_errors
from search.core.uploads import Payload
from search.queries import selectors, services
from search.queries.forms import QueryForm
from search.reindex import selectors as reindex_selectors
from search.teams import selectors as teams_selectors


@login_required
@require_POST
def query_upload(request: HttpRequest, collection_id: int) -> HttpResponse:
    collection = collection_selectors.collection_get(user=request.user, collection_id=collection_id)
    form = QueryForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, form_errors(form))
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
        "index_note": reindex_selectors.query_index_note(query=query),
        "membership": teams_selectors.membership_for(user=request.user, collection=query.collection),
    }
