"""The API tokens page (under the user menu): create a key (shown once), list and revoke keys."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from search import selectors, services
from search.forms import ApiTokenForm


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_key = new_token = None
    if request.method == "POST" and form.is_valid():
        new_token, new_key = services.api_token_create(user=request.user, name=form.cleaned_data["name"])
        form = ApiTokenForm()
    response = render(
        request,
        "search/api_tokens.html",
        {
            "form": form,
            "tokens": selectors.api_token_list(user=request.user),
            "new_key": new_key,
            "new_token": new_token,
        },
    )
    # The key is in this page only: keep it out of browser and proxy caches.
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = services.api_token_revoke(token=selectors.api_token_get(user=request.user, token_id=token_id))
    messages.success(request, f"Token “{token.name}” revoked: requests with it are refused from now on.")
    return redirect("search:api_tokens")
