"""Bulk imports of reference images and the files they could not use."""

from django.conf import settings
from django.db import models

from search.collection.models import Collection

# Webhook models live in their own module; importing them here registers them with the app.


class IngestJob(models.Model):
    """A bulk import of reference images (zip, folder or CSV manifest), worked through in chunks.

    `cursor` is the position of the next item of the job's item list; it only moves forward together
    with the counters, in one conditional update, so a chunk that runs twice counts once.
    """

    class Source(models.TextChoices):
        ZIP = "zip", "Zip archive"
        FOLDER = "folder", "Folder"
        MANIFEST = "manifest", "CSV manifest"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="ingest_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_kind = models.CharField(max_length=10, choices=Source.choices)
    # The stored archive, the folder, or the manifest file; for a manifest, paths in it are relative to it.
    source_path = models.CharField(max_length=1000)
    source_name = models.CharField(max_length=300, blank=True)  # what the user called it (upload name)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    cursor = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    skipped_duplicates = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why the whole job failed, if it did
    busy_seconds = models.FloatField(default=0.0)  # time spent in chunks: images/s excludes queue waits
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)  # last chunk start or finish
    # The worker (Celery hostname) that runs or ran the latest chunk, and what the page says once a worker
    # stopped answering and its chunk was re-queued (search/core/claims.py).
    claimed_by = models.CharField(max_length=200, blank=True)
    stall_notice = models.CharField(max_length=300, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"ingest {self.id} ({self.source_kind})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def images_per_second(self) -> float:
        return self.done / self.busy_seconds if self.busy_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.images_per_second
        return (self.total - self.done) / rate if rate > 0 and self.total >= self.done else None

    @property
    def percent(self) -> int:
        return 100 if self.total == 0 else min(100, round(100 * self.done / self.total))


class IngestError(models.Model):
    """A file an ingest could not use, with the reason; unique per item so a re-run lists it once."""

    job = models.ForeignKey(IngestJob, on_delete=models.CASCADE, related_name="errors")
    position = models.IntegerField()  # the item's position; negative for entries rejected while listing
    name = models.CharField(max_length=1000)
    reason = models.TextField()

    class Meta:
        ordering = ["job", "position"]
        constraints = [models.UniqueConstraint(fields=["job", "position"], name="unique_ingest_error_per_item")]
