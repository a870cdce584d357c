"""Collections of reference images, and the fields every stored image (reference or query) shares."""

from django.conf import settings
from django.db import models

from search.teams.models import Team

# Webhook models live in their own module; importing them here registers them with the app.


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class Collection(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="collections")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # A match at or above this final score counts as a copy (shown as such, queued for review).
    match_threshold = models.FloatField(default=0.5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_collection_name_per_team")]

    def __str__(self) -> str:
        return self.name


class StoredImage(models.Model):
    """Fields shared by reference and query images."""

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE)
    file = models.ImageField(upload_to="images/%Y/%m/", max_length=300)
    original_name = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    status = models.CharField(max_length=12, choices=ImageStatus.choices, default=ImageStatus.PENDING)
    error = models.TextField(blank=True)
    # Claims whose worker never reported back (it died); at ISC_MAX_ATTEMPTS the row is failed.
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why a row that is not done is waiting, in plain words ("search backend unavailable, retrying").
    notice = models.CharField(max_length=300, blank=True)
    # Last hand-over to the broker (null: never queued, e.g. Redis was down) and last claim by a worker:
    # the sweeper re-queues rows whose hand-over was lost or whose worker vanished.
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The Celery worker (its hostname) that holds the claim: a claim whose worker no longer answers a ping
    # is re-queued at once (search/core/claims.py), without waiting for the age-based deadline.
    claimed_by = models.CharField(max_length=200, blank=True)
    descriptor_version = models.CharField(max_length=120, blank=True)
    # Hash signals, computed by the worker beside the descriptor (copydetect/signals.py): matched
    # against hash banks and exported as hash lists. Blank until computed.
    pdq = models.CharField(max_length=64, blank=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    md5 = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name

    @property
    def waiting(self) -> bool:
        """Queued or being worked on: not done, not failed."""
        return self.status in (ImageStatus.PENDING, ImageStatus.PROCESSING)


class ReferenceImage(StoredImage):
    # Empty for a bank entry, which belongs to its bank (search/banks/models.py) instead.
    collection = models.ForeignKey(
        Collection, null=True, blank=True, on_delete=models.CASCADE, related_name="references"
    )
    local_features = models.CharField(max_length=300, blank=True)
    # From a bulk-ingest manifest: the caller's own id for the image and whatever it wants kept with it.
    external_id = models.CharField(max_length=200, null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    ingest_job = models.ForeignKey(
        "IngestJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="references"
    )
    # Soft delete: out of every result until restored; purged (vector + files) after the grace period.
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Disabled by an admin until this time (no new matches meanwhile).
    disabled_until = models.DateTimeField(null=True, blank=True)
    # Paused because too many distinct queries matched it in a day; cleared by an admin's decision.
    quarantined_at = models.DateTimeField(null=True, blank=True)
    # The day an admin released it: the same day's burst does not quarantine it again.
    quarantine_released_on = models.DateField(null=True, blank=True)
    # A bank entry: a signal without a picture (no file, `sha256` derived from the signal, so verdicts on
    # it stick like those on a picture). Its external id and dates are the fields above.
    bank = models.ForeignKey("Bank", null=True, blank=True, on_delete=models.CASCADE, related_name="entries")
    signal_type = models.CharField(max_length=8, blank=True)
    signal = models.TextField(blank=True)  # canonical text (copydetect.hashlists.signal_normalise)
    tags = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=300, blank=True)
    category = models.CharField(max_length=40, blank=True)
    # Bumped by every change that matters to a hash index (added, disabled, deleted, restored): worker
    # processes follow a bank's changes by it (search/banks/selectors.py).
    changed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta(StoredImage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["collection", "sha256"], name="unique_reference_bytes_per_collection"),
            models.UniqueConstraint(
                fields=["bank", "sha256"], condition=models.Q(bank__isnull=False), name="unique_signal_per_bank"
            ),
            models.CheckConstraint(
                condition=models.Q(collection__isnull=False) | models.Q(bank__isnull=False),
                name="reference_in_collection_or_bank",
            ),
        ]
        indexes = [
            models.Index(fields=["collection", "status"]),
            models.Index(fields=["status", "queued_at"]),
            models.Index(fields=["md5"]),
            models.Index(fields=["bank", "signal_type"]),
        ]

    @property
    def is_bank_entry(self) -> bool:
        return self.bank_id is not None
