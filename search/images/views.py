"""Image files through the membership check, and Retry on a row that failed or waits too long."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from search.collection import selectors as collection_selectors
from search.core import media, stored_images
from search.images import selectors
from search.queries import selectors as queries_selectors


@login_required
@require_POST
def image_retry(request: HttpRequest, kind: str, image_id: int) -> HttpResponse:
    image = (
        queries_selectors.query_get(user=request.user, query_id=image_id)
        if kind == "query"
        else collection_selectors.reference_get(user=request.user, reference_id=image_id)
    )
    stored_images.stored_image_retry(actor=request.user, image=image)
    messages.info(request, f"{image.original_name} is queued again.")
    if kind == "query":
        return redirect("search:query_detail", query_id=image.id)
    return redirect("search:collection_detail", collection_id=image.collection_id)


@login_required
def image_file(request: HttpRequest, kind: str, image_id: int, variant: str) -> HttpResponse:
    """An image of one of the user's teams: the original, its 256 px thumbnail or its web-safe preview."""
    image = selectors.stored_image_get(user=request.user, kind=kind, image_id=image_id)
    return media.image_response(image=image, variant=variant)
