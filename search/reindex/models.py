"""Descriptor-model versions with their Milvus collections, and the reindex jobs that build them."""

from django.db import models

# Webhook models live in their own module; importing them here registers them with the app.


class IndexVersion(models.Model):
    """One descriptor-model version's Milvus collection, and whether searches use it.

    Exactly one row is `live`: queries are embedded with its descriptor and searched in its collection,
    so the query's vectors and the stored ones always come from the same model. The Milvus alias
    (settings.ISC.live_alias) is moved in step with it, for operators and outside readers.
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
    # The worker (Celery hostname) that ran the latest batch, and what the page says once a worker stopped
    # answering and its batch was re-queued (search/core/claims.py).
    claimed_by = models.CharField(max_length=200, blank=True)
    stall_notice = models.CharField(max_length=300, blank=True)
    # The speed shown is measured since the job last (re)started: a pause while nothing ran is not counted.
    rate_since = models.DateTimeField(null=True, blank=True)
    rate_since_done = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reindex #{self.id} {self.state} {self.done}/{self.total}"
