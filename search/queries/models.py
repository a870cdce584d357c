"""Query images and the matches their search found."""

from django.conf import settings
from django.db import models

from search.collection.models import Collection, ReferenceImage, StoredImage
from search.review.models import ReviewDecision

# Webhook models live in their own module; importing them here registers them with the app.


class QueryImage(StoredImage):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="queries")
    search_ms = models.PositiveIntegerField(null=True, blank=True)
    # The whole-image global descriptor (float16 bytes), to find near-identical re-posts (search/review/verdicts.py).
    descriptor = models.BinaryField(blank=True, default=b"")
    # The earliest near-identical query of the collection: re-posts are reviewed as one item with it.
    near_duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="near_duplicates"
    )

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
    # The moderator who opened it in the review queue; the claim lapses after ISC REVIEW_CLAIM_SECONDS.
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    # Why it is kept out of the queue (allowlisted image, quarantined reference); empty when it is not.
    suppressed_reason = models.CharField(max_length=300, blank=True)
    # How a bank entry matched ("pdq", "md5", "sscd"); empty for the descriptor search of the collection.
    # PDQ: Hamming distance and the bank's threshold then; SSCD: `descriptor_similarity`.
    matched_by = models.CharField(max_length=8, blank=True)
    hash_distance = models.PositiveSmallIntegerField(null=True, blank=True)
    hash_threshold = models.PositiveSmallIntegerField(null=True, blank=True)
    # Set when a look-back found this match: the reference (or bank entry) arrived after the query.
    found_by_lookback = models.ForeignKey(
        "LookbackJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="matches"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["query", "rank"]
        constraints = [models.UniqueConstraint(fields=["query", "reference"], name="unique_match_pair")]

    def __str__(self) -> str:
        # What the audit log names the match by: its two pictures.
        return f"{self.query.original_name} → {self.reference.original_name} (rank {self.rank})"
