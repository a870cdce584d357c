"""Verdicts on pairs of pictures and the allowlist of benign pictures."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from search.teams.models import Team

# Webhook models live in their own module; importing them here registers them with the app.


class ReviewDecision(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    CONFIRMED = "confirmed", "Confirmed copy"
    REJECTED = "rejected", "Not a copy"


class PairVerdict(models.Model):
    """The verdict on a (query picture, reference picture) pair in a team, whichever rows show it.

    Keyed by content (both sha256) so a re-run, a reindex, or a re-upload of either picture keeps it; the
    query descriptor lets a near-identical re-post of the query inherit it (search/review/verdicts.py).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="pair_verdicts")
    query_sha256 = models.CharField(max_length=64)
    reference_sha256 = models.CharField(max_length=64)
    query_descriptor = models.BinaryField(blank=True, default=b"")
    decision = models.CharField(max_length=12, choices=ReviewDecision.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    # When the moderator opened the item (None for verdicts given outside the queue); for decision times.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The row the verdict was given on, for the dashboard's scores and the undo stack.
    match = models.ForeignKey("Match", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    final_score = models.FloatField(null=True, blank=True)
    collection_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["team", "query_sha256", "reference_sha256"], name="unique_pair_verdict")
        ]
        indexes = [
            models.Index(fields=["team", "reference_sha256"]),
            models.Index(fields=["decided_by", "-decided_at"]),
        ]


class AllowlistEntry(models.Model):
    """A benign picture (a stock photo every meme uses): its copies never count as matches of `reference`
    (or of any reference of the team when `reference` is empty)."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="allowlist")
    sha256 = models.CharField(max_length=64)
    descriptor = models.BinaryField(blank=True, default=b"")
    reference = models.ForeignKey(
        "ReferenceImage", null=True, blank=True, on_delete=models.CASCADE, related_name="allowlist_entries"
    )
    reason = models.CharField(max_length=300)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"benign {self.sha256[:12]}: {self.reason}"
