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


class ApiToken(models.Model):
    """A key for the REST API. Only its SHA-256 is stored: the key itself is shown once, when created.

    Keys are 256 random bits, so an unsalted hash is enough (no dictionary to guess from) and lets a
    request find its token with one indexed lookup.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the key, shown in the token list so a user can tell keys apart.
    prefix = models.CharField(max_length=12)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
