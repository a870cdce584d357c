"""Look-back jobs: when references or bank entries are added, the recent queries they would have matched
are found and their matches enter the review queue, marked as found by look-back."""

from django.db import models


class LookbackJob(models.Model):
    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        REFERENCES = "references", "References added to a collection"
        BANK_ENTRIES = "bank_entries", "Entries added to a hash bank"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    team = models.ForeignKey("Team", on_delete=models.CASCADE, related_name="lookback_jobs")
    trigger = models.CharField(max_length=14, choices=Trigger.choices)
    collection = models.ForeignKey("Collection", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    bank = models.ForeignKey("Bank", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    # The new references or entries to check, in order; `done` of them are checked.
    item_ids = models.JSONField(default=list)
    since = models.DateTimeField()  # queries received from then on are checked
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    queries_checked = models.PositiveIntegerField(default=0)
    found = models.PositiveIntegerField(default=0)  # new matches recorded
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self) -> str:
        return f"look-back {self.id} ({self.trigger})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        return min(100, round(100 * self.done / self.total)) if self.total else 0
