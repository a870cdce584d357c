"""A bank's hash exchange: what to fetch, with which (encrypted) credentials, from which checkpoint, and
each run's counts."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from copydetect.exchanges import ExchangeKind

KIND_LABELS = {
    ExchangeKind.THREATEXCHANGE: "Meta ThreatExchange",
    ExchangeKind.NCMEC: "NCMEC hash sharing",
    ExchangeKind.STOPNCII: "StopNCII.org",
    ExchangeKind.TCAP: "Tech Against Terrorism TCAP",
    ExchangeKind.LOCAL_FILE: "threatexchange signal file (on the workers' disk)",
}


class BankExchange(models.Model):
    class State(models.TextChoices):
        IDLE = "idle", "Idle"
        RUNNING = "running", "Running"
        FAILED = "failed", "Failed"

    bank = models.OneToOneField("Bank", on_delete=models.CASCADE, related_name="exchange")
    kind = models.CharField(max_length=20, choices=[(kind.value, KIND_LABELS[kind]) for kind in ExchangeKind])
    config = models.JSONField(default=dict, blank=True)  # settings that are not secret (privacy group, file)
    # The credentials as JSON, encrypted like webhook secrets (search/webhooks/secret_box.py).
    credentials_encrypted = models.TextField(blank=True)
    credentials_hint = models.CharField(max_length=16, blank=True)
    # Another address for the exchange (a stand-in, a proxy): set by operators (Django admin, shell), never
    # by the team's form, so a team cannot point the workers at internal hosts.
    base_url = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=60)
    checkpoint = models.JSONField(null=True, blank=True)  # copydetect.exchanges' checkpoint of the last batch
    # A fetch from scratch is under way (possibly over several runs): entries it has not brought back by
    # its end were removed upstream and are disabled then.
    snapshot_pending = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.IDLE)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # Up to when upstream data has been read, when the exchange says.
    progress_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.kind} exchange of bank {self.bank_id}"

    @property
    def is_due(self) -> bool:
        if not self.enabled:
            return False
        if self.last_run_at is None:
            return True
        return (timezone.now() - self.last_run_at).total_seconds() >= self.interval_minutes * 60


class ExchangeRun(models.Model):
    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Up to date"
        PARTIAL = "partial", "Stopped at its time budget (resumes)"
        FAILED = "failed", "Failed"

    exchange = models.ForeignKey(BankExchange, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    snapshot = models.BooleanField(default=False)
    batches = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    already_held = models.PositiveIntegerField(default=0)
    reenabled = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)  # entries disabled because upstream removed them
    skipped = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejected_examples = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"exchange run {self.id}"


class ExchangeSeen(models.Model):
    """Entries a fetch from scratch has brought back so far (cleared when the next one starts)."""

    exchange = models.ForeignKey(BankExchange, on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey("ReferenceImage", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["exchange", "entry"], name="unique_exchange_seen_entry")]
