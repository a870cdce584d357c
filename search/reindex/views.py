"""The reindex page (site staff) and its progress fragment."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from search.reindex import selectors, services


def _staff_only(view):
    """Signed-in users who are not site staff get a 403 page: logging in again would not help them."""

    @login_required
    @wraps(view)
    def checked(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Reindexing is for site staff.")
        return view(request, *args, **kwargs)

    return checked


@_staff_only
def reindex(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        job, created = services.reindex_job_start(actor=request.user)
        if created:
            messages.success(
                request, "Reindex queued: the corpus is re-embedded beside the live index, which answers until then."
            )
        else:
            messages.info(request, f"Reindex #{job.id} is already under way; it is shown below.")
        return redirect("search:reindex")
    return render(request, "search/reindex.html", _reindex_context(request.user))


@_staff_only
def reindex_progress(request: HttpRequest) -> HttpResponse:
    return render(request, "search/_reindex_progress.html", _reindex_context(request.user))


def _reindex_context(user) -> dict:
    return {
        "status": selectors.index_status(),
        "jobs": selectors.reindex_job_list(user=user)[:10],
        "configured_descriptor": settings.ISC.descriptor,
        "keep_old": settings.ISC.reindex_keep_old,
    }
