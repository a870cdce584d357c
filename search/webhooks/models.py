"""Webhooks: a team's endpoints, one delivery per (event, endpoint), and every attempt at sending it."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class WebhookEvent(models.TextChoices):
    MATCH_CONFIRMED = "match.confirmed", "A match was confirmed as a copy"
    MATCH_REJECTED = "match.rejected", "A match was rejected (not a copy)"
    QUERY_FLAGGED = "query.flagged", "A query matched a reference at or above the threshold"
    # Sent by the "send test event" button to one endpoint, whatever it subscribes to.
    TEST = "test", "Test event"


# What an endpoint can subscribe to; the test event needs no subscription.
SUBSCRIBABLE_EVENTS = [WebhookEvent.MATCH_CONFIRMED, WebhookEvent.MATCH_REJECTED, WebhookEvent.QUERY_FLAGGED]


class WebhookEndpoint(models.Model):
    """A URL of the team's that receives signed event deliveries.

    Secrets are stored encrypted (search/webhook_secrets.py) and shown only once, when made. After a
    rotation the previous secret keeps signing (a second signature) until `previous_secret_expires_at`.
    """

    team = models.ForeignKey("search.Team", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list)  # values of WebhookEvent, from SUBSCRIBABLE_EVENTS
    secret_encrypted = models.TextField()
    # First 8 hex digits of the secret's SHA-256: tells which secret a receiver holds, reveals nothing.
    secret_hint = models.CharField(max_length=16)
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team", "-created_at"]

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return event_type == WebhookEvent.TEST or event_type in self.events

    @property
    def in_rotation(self) -> bool:
        return bool(self.previous_secret_encrypted) and (
            self.previous_secret_expires_at is not None and self.previous_secret_expires_at > timezone.now()
        )


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint. `payload` is the whole JSON body, so a redelivery sends the same bytes."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_type = models.CharField(max_length=40, choices=WebhookEvent.choices)
    # The same for every endpoint and every redelivery of one event: receivers deduplicate on it.
    event_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    payload = models.JSONField()
    state = models.CharField(max_length=10, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the current attempt was claimed; a claim much older than the timeout is a worker that died.
    sending_since = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_snippet = models.TextField(blank=True)
    redelivery_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="redeliveries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["endpoint", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → {self.endpoint.url}"


class AttemptOutcome(models.TextChoices):
    DELIVERED = "delivered", "Delivered"
    RETRY = "retry", "Will retry"
    FAILED = "failed", "Gave up"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, kept for the delivery page."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    response_snippet = models.TextField(blank=True)
    outcome = models.CharField(max_length=10, choices=AttemptOutcome.choices)

    class Meta:
        ordering = ["delivery", "number", "id"]
