"""Reads for the webhook pages, scoped to the user asking (other teams' endpoints are a 404)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404

from search.teams.models import Team
from search.teams.selectors import team_ids_of
from search.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list(*, user: AbstractBaseUser, team: Team) -> QuerySet[WebhookEndpoint]:
    """The team's endpoints with `delivered_count` and `failed_count`."""
    return (
        WebhookEndpoint.objects.filter(team=team, team__in=team_ids_of(user))
        .annotate(
            delivered_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.DELIVERED)),
            failed_count=Count("deliveries", filter=Q(deliveries__state=DeliveryState.FAILED)),
        )
        .order_by("-created_at")
    )


def webhook_endpoint_get(*, user: AbstractBaseUser, team: Team, endpoint_id: int) -> WebhookEndpoint:
    return get_object_or_404(
        WebhookEndpoint.objects.select_related("team", "created_by"),
        id=endpoint_id,
        team=team,
        team__in=team_ids_of(user),
    )


def webhook_delivery_list(*, user: AbstractBaseUser, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint, endpoint__team__in=team_ids_of(user))


def webhook_delivery_get(*, user: AbstractBaseUser, endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery:
    return get_object_or_404(
        WebhookDelivery.objects.select_related("endpoint", "endpoint__team", "redelivery_of"),
        id=delivery_id,
        endpoint=endpoint,
        endpoint__team__in=team_ids_of(user),
    )
