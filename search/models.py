"""What the site stores: teams and their members, collections of reference images, queries, the matches
found for them, and the append-only audit log of who did what."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    INDEXED = "indexed", "Indexed"
    FAILED = "failed", "Failed"


class ReviewDecision(models.TextChoices):
    UNREVIEWED = "unreviewed", "Unreviewed"
    CONFIRMED = "confirmed", "Confirmed copy"
    REJECTED = "rejected", "Not a copy"


class Role(models.TextChoices):
    """Ordered: each role can do everything the roles before it can."""

    VIEWER = "viewer", "Viewer"
    UPLOADER = "uploader", "Uploader"
    MODERATOR = "moderator", "Moderator"
    ADMIN = "admin", "Admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, minimum: "Role") -> bool:
        return self.rank >= Role(minimum).rank


class Team(models.Model):
    """Who holds what: collections, their images and matches, and the audit log belong to a team."""

    name = models.CharField(max_length=200, unique=True)
    # Also the team's folder under each ISC_IMPORT_ROOTS entry, so it never changes once created.
    slug = models.SlugField(max_length=60, unique=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="unique_membership_per_team")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"

    def at_least(self, minimum: Role) -> bool:
        return Role(self.role).at_least(minimum)

    # For templates, which cannot pass arguments.
    @property
    def can_upload(self) -> bool:
        return self.at_least(Role.UPLOADER)

    @property
    def can_review(self) -> bool:
        return self.at_least(Role.MODERATOR)

    @property
    def is_admin(self) -> bool:
        return self.at_least(Role.ADMIN)


class Invite(models.Model):
    """A single-use link that lets its holder join a team with a role (creating an account if needed).

    Only the SHA-256 of the token is stored; the link itself is shown once, to the admin who made it.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    token_sha256 = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


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

    class Meta(StoredImage.Meta):
        constraints = [
            models.UniqueConstraint(fields=["collection", "sha256"], name="unique_reference_bytes_per_collection")
        ]
        indexes = [models.Index(fields=["collection", "status"]), models.Index(fields=["status", "queued_at"])]


class QueryImage(StoredImage):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="queries")
    search_ms = models.PositiveIntegerField(null=True, blank=True)
    # The whole-image global descriptor (float16 bytes), to find near-identical re-posts (search/verdicts.py).
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


class PairVerdict(models.Model):
    """The verdict on a (query picture, reference picture) pair in a team, whichever rows show it.

    Keyed by content (both sha256) so a re-run, a reindex, or a re-upload of either picture keeps it; the
    query descriptor lets a near-identical re-post of the query inherit it (search/verdicts.py).
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


class AuditAction(models.TextChoices):
    TEAM_CREATE = "team.create", "Team created"
    MEMBER_ADD = "member.add", "Member added"
    MEMBER_ROLE = "member.role", "Member role changed"
    MEMBER_REMOVE = "member.remove", "Member removed"
    INVITE_CREATE = "invite.create", "Invite created"
    INVITE_ACCEPT = "invite.accept", "Invite accepted"
    COLLECTION_CREATE = "collection.create", "Collection created"
    COLLECTION_UPDATE = "collection.update", "Collection settings changed"
    THRESHOLD_CHANGE = "collection.threshold", "Threshold changed"
    COLLECTION_DELETE = "collection.delete", "Collection deleted"
    REFERENCES_UPLOAD = "references.upload", "References uploaded"
    REFERENCES_IMPORT = "references.import", "Server folder imported"
    REFERENCE_DELETE = "reference.delete", "Reference deleted"
    QUERY_UPLOAD = "query.upload", "Query uploaded"
    IMAGE_RETRY = "image.retry", "Failed image queued again"
    MATCH_VERDICT = "match.verdict", "Verdict"
    MATCH_UNDO = "match.undo", "Verdict undone"
    REINDEX_START = "reindex.start", "Reindex started"
    INGEST_START = "ingest.start", "Bulk import started"
    INGEST_FINISH = "ingest.finish", "Bulk import finished"
    WEBHOOK_CREATE = "webhook.create", "Webhook created"
    WEBHOOK_UPDATE = "webhook.update", "Webhook changed"
    WEBHOOK_ROTATE = "webhook.rotate", "Webhook secret rotated"
    WEBHOOK_DELETE = "webhook.delete", "Webhook deleted"
    WEBHOOK_TEST = "webhook.test", "Webhook test event sent"
    WEBHOOK_REDELIVER = "webhook.redeliver", "Webhook delivery sent again"
    VERDICT_INHERIT = "match.inherit", "Verdict applied from an earlier pair"
    REFERENCE_RESTORE = "reference.restore", "Reference restored"
    REFERENCE_PURGE = "reference.purge", "Reference purged"
    REFERENCE_DISABLE = "reference.disable", "Reference disabled"
    REFERENCE_QUARANTINE = "reference.quarantine", "Reference quarantined"
    REFERENCE_RELEASE = "reference.release", "Reference released from quarantine"
    ALLOWLIST_ADD = "allowlist.add", "Image allowlisted"
    ALLOWLIST_REMOVE = "allowlist.remove", "Allowlist entry removed"


class AuditImmutable(Exception):
    """Raised on any attempt to change or delete an audit event."""


class AuditEventQuerySet(models.QuerySet):
    """Rows are only ever inserted; bulk changes through the ORM are refused like single ones."""

    def update(self, **kwargs):
        raise AuditImmutable("Audit events cannot be changed.")

    def delete(self):
        raise AuditImmutable("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One thing someone did. Targets are named, not linked, so deleting them keeps the record."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The team whose data it touched; null only for site-wide actions (a reindex).
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the account is deleted later; empty for actions of the system itself.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target_type = models.CharField(max_length=60)  # model label, e.g. "search.match"
    target_id = models.BigIntegerField(null=True, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    # The collection the target lives in (a plain id: it outlives the collection), for filtering.
    collection_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["team", "-created_at"]),
            models.Index(fields=["team", "action"]),
            models.Index(fields=["target_type", "target_id"]),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_username or 'system'} {self.action} {self.target_repr}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutable("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutable("Audit events cannot be deleted.")


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


# Webhook models live in their own module; importing them here registers them with the app.
from search.models_webhooks import (  # noqa: E402,F401
    SUBSCRIBABLE_EVENTS,
    AttemptOutcome,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)


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
