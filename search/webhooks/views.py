"""Webhook pages, for a team's admins."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from search.teams.views import _admin_team
from search.webhooks import selectors, services
from search.webhooks.destinations import WebhookUrlRefused
from search.webhooks.forms import WebhookEndpointForm
from search.webhooks.models import DeliveryState
from search.webhooks.signing import REPLAY_WINDOW_SECONDS

DELIVERIES_PER_PAGE = 50


@never_cache  # its response to a create holds the new secret
@login_required
def webhook_list(request: HttpRequest, team_slug: str) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    form = WebhookEndpointForm(request.POST or None)
    new_secret = None
    created = None
    if request.method == "POST" and form.is_valid():
        try:
            created, new_secret = services.endpoint_create(actor=request.user, team=team, **form.cleaned_data)
        except WebhookUrlRefused as error:
            form.add_error("url", str(error))
        else:
            form = WebhookEndpointForm()
    return render(
        request,
        "search/team_webhooks.html",
        {
            "team": team,
            "endpoints": selectors.webhook_endpoint_list(user=request.user, team=team),
            "form": form,
            "created": created,
            "new_secret": new_secret,
        },
    )


def _endpoint_page(request: HttpRequest, team, endpoint, *, form=None, new_secret: str | None = None):
    deliveries = Paginator(
        selectors.webhook_delivery_list(user=request.user, endpoint=endpoint), DELIVERIES_PER_PAGE
    ).get_page(request.GET.get("page"))
    form = form or WebhookEndpointForm(
        initial={"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    )
    return render(
        request,
        "search/team_webhook_detail.html",
        {
            "team": team,
            "endpoint": endpoint,
            "form": form,
            "deliveries": deliveries,
            "new_secret": new_secret,
            "states": DeliveryState,
            "replay_window": REPLAY_WINDOW_SECONDS,
        },
    )


@login_required
def webhook_detail(request: HttpRequest, team_slug: str, endpoint_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    if request.method == "POST":
        form = WebhookEndpointForm(request.POST)
        if form.is_valid():
            try:
                services.endpoint_update(actor=request.user, endpoint=endpoint, **form.cleaned_data)
            except WebhookUrlRefused as error:
                form.add_error("url", str(error))
            else:
                messages.success(request, "Endpoint saved.")
                return redirect("search:webhook_detail", team_slug=team.slug, endpoint_id=endpoint.id)
        return _endpoint_page(request, team, endpoint, form=form)
    return _endpoint_page(request, team, endpoint)


@login_required
@require_POST
def webhook_active(request: HttpRequest, team_slug: str, endpoint_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    active = request.POST.get("active") == "1"
    services.endpoint_update(actor=request.user, endpoint=endpoint, active=active)
    messages.success(request, "Endpoint activated." if active else "Endpoint deactivated: no more deliveries.")
    return redirect("search:webhook_detail", team_slug=team.slug, endpoint_id=endpoint.id)


@never_cache  # the response holds the new secret
@login_required
@require_POST
def webhook_rotate(request: HttpRequest, team_slug: str, endpoint_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    endpoint, secret = services.endpoint_secret_rotate(actor=request.user, endpoint=endpoint)
    return _endpoint_page(request, team, endpoint, new_secret=secret)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, team_slug: str, endpoint_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    services.endpoint_delete(actor=request.user, endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} deleted, with its deliveries.")
    return redirect("search:webhook_list", team_slug=team.slug)


@login_required
@require_POST
def webhook_test(request: HttpRequest, team_slug: str, endpoint_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    try:
        delivery = services.endpoint_test_send(actor=request.user, endpoint=endpoint)
    except services.WebhookRuleBroken as error:
        messages.error(request, str(error))
        return redirect("search:webhook_detail", team_slug=team.slug, endpoint_id=endpoint.id)
    messages.success(request, "Test event queued.")
    return redirect("search:webhook_delivery", team_slug=team.slug, endpoint_id=endpoint.id, delivery_id=delivery.id)


@login_required
def webhook_delivery(request: HttpRequest, team_slug: str, endpoint_id: int, delivery_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    delivery = selectors.webhook_delivery_get(user=request.user, endpoint=endpoint, delivery_id=delivery_id)
    return render(
        request,
        "search/team_webhook_delivery.html",
        {
            "team": team,
            "endpoint": endpoint,
            "delivery": delivery,
            "attempts": delivery.attempt_log.all(),
            "redeliveries": delivery.redeliveries.all(),
            "body": services.delivery_body(delivery).decode(),
        },
    )


@login_required
@require_POST
def webhook_redeliver(request: HttpRequest, team_slug: str, endpoint_id: int, delivery_id: int) -> HttpResponse:
    team, _ = _admin_team(request, team_slug)
    endpoint = selectors.webhook_endpoint_get(user=request.user, team=team, endpoint_id=endpoint_id)
    delivery = selectors.webhook_delivery_get(user=request.user, endpoint=endpoint, delivery_id=delivery_id)
    try:
        again = services.delivery_redeliver(actor=request.user, delivery=delivery)
    except services.WebhookRuleBroken as error:
        messages.error(request, str(error))
        return redirect(
            "search:webhook_delivery", team_slug=team.slug, endpoint_id=endpoint.id, delivery_id=delivery.id
        )
    messages.success(request, f"Sent again as delivery {again.id} (same event id).")
    return redirect("search:webhook_delivery", team_slug=team.slug, endpoint_id=endpoint.id, delivery_id=again.id)
