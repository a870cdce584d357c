"""What the site stores: collections of reference images, queries, and the matches found for them."""

from django.conf import settings
from django.db import models


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class ReviewDecision(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    CONFIRMED = "confirmed", "Confirmed copy"
    REJECTED = "rejected", "Not a copy"


class Collection(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # A match at or above this final score counts as a copy (shown as such, queued for review).
    match_threshold = models.FloatField(default=0.5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_collection_name_per_owner")]

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
    attempts = models.PositiveSmallIntegerField(default=0)
    descriptor_version = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name


class ReferenceImage(StoredImage):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="references")
    local_features = models.CharField(max_length=300, blank=True)
    # From a bulk-ingest manifest: the caller's own id for the image and whatever it wants kept with it.
    external_id = models.CharField(max_length=200, null=True, blank=True)
    metadata = models.JSONField(null=True, blank=True)
    ingest_job = models.ForeignKey(
        "IngestJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="references"
    )

    class Meta(StoredImage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["collection", "sha256"], name="unique_reference_bytes_per_collection")
        ]
        indexes = [models.Index(fields=["collection", "status"])]


class QueryImage(StoredImage):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="queries")
    search_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta(StoredImage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["collection", "sha256"], name="unique_query_bytes_per_collection")
        ]
        indexes = [models.Index(fields=["collection", "status"])]


class Match(models.Model):
    query = models.ForeignKey(QueryImage, on_delete=models.CASCADE, related_name="matches")
    reference = models.ForeignKey(ReferenceImage, on_delete=models.CASCADE, related_name="matches")
    rank = models.PositiveSmallIntegerField()
    descriptor_similarity = models.FloatField()
    verified = models.BooleanField(default=False)
    inliers = models.PositiveIntegerField(default=0)
    verification_score = models.FloatField(default=0.0)
    # Inlier keypoint pairs (qx, qy, rx, ry) in coordinates normalised to [0, 1].
    keypoint_pairs = models.JSONField(default=list, blank=True)
    final_score = models.FloatField()
    descriptor_version = models.CharField(max_length=120)
    review = models.CharField(max_length=12, choices=ReviewDecision.choices, default=ReviewDecision.UNREVIEWED)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["query", "rank"]
        constraints = [models.UniqueConstraint(fields=["query", "reference"], name="unique_match_pair")]


class ReindexJob(models.Model):
    """Re-embeds every reference image with a new descriptor version, beside the live index."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    descriptor_version = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


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
