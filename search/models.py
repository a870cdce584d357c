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
    # Claims whose worker never reported back (it died); at ISC["MAX_ATTEMPTS"] the row is failed.
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why a row that is not done is waiting, in plain words ("search backend unavailable, retrying").
    notice = models.CharField(max_length=300, blank=True)
    # Last hand-over to the broker (null: never queued, e.g. Redis was down) and last claim by a worker:
    # the sweeper re-queues rows whose hand-over was lost or whose worker vanished.
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    descriptor_version = models.CharField(max_length=120, blank=True)
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
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="references")
    local_features = models.CharField(max_length=300, blank=True)

    class Meta(StoredImage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["collection", "sha256"], name="unique_reference_bytes_per_collection")
        ]
        indexes = [models.Index(fields=["collection", "status"]), models.Index(fields=["status", "queued_at"])]


class QueryImage(StoredImage):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="queries")
    search_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta(StoredImage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["collection", "sha256"], name="unique_query_bytes_per_collection")
        ]
        indexes = [models.Index(fields=["collection", "status"]), models.Index(fields=["status", "queued_at"])]


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


class IndexVersion(models.Model):
    """One descriptor-model version's Milvus collection, and whether searches use it.

    Exactly one row is `live`: queries are embedded with its descriptor and searched in its collection,
    so the query's vectors and the stored ones always come from the same model. The Milvus alias
    (settings.ISC["LIVE_ALIAS"]) is moved in step with it, for operators and outside readers.
    """

    class State(models.TextChoices):
        BUILDING = "building", "Being built"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired (kept for rollback)"
        DROPPED = "dropped", "Dropped"

    version = models.CharField(max_length=120, unique=True)
    descriptor_name = models.CharField(max_length=40)
    # Where its model was loaded from ({"vit_model": dir, "fusion_dir": dir}): a worker configured
    # with a newer model can still load this one to embed queries until a reindex replaces it.
    model_files = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.BUILDING)
    # Why a worker could not load this version's model (e.g. its weights changed under the same name).
    load_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    live_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["state"], condition=models.Q(state="live"), name="one_live_index_version")
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.state})"


class ReindexJob(models.Model):
    """Re-embeds every reference image with the workers' descriptor version, beside the live index.

    Advanced one batch at a time: `cursor` is the last reference id done, so a killed worker loses at
    most the batch it was on, and a batch that runs twice finds the cursor moved and does nothing.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    # The version being built (set by the first batch: only a worker knows its model's version).
    descriptor_version = models.CharField(max_length=120, blank=True)
    descriptor_name = models.CharField(max_length=40, blank=True)
    # The live version when the job started: what it replaces.
    source_version = models.CharField(max_length=120, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    batch_size = models.PositiveIntegerField(default=32)
    cursor = models.BigIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    resumes = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Last sign of life from a batch; a job silent for long is resumed from its cursor.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The speed shown is measured since the job last (re)started: a pause while nothing ran is not counted.
    rate_since = models.DateTimeField(null=True, blank=True)
    rate_since_done = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reindex #{self.id} {self.state} {self.done}/{self.total}"
