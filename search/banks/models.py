"""Hash banks: a team's named lists of signals (PDQ, MD5, SSCD) that queries are matched against.

A bank entry is a reference row without a picture (`ReferenceImage` with `bank` set and no file), so a
match on it is an ordinary `Match`: the result page, the review queue, verdicts (keyed by the entry's
`sha256`, derived from its signal), the allowlist, the audit log and webhooks handle it unchanged.
`BankEntry` is the same table seen from the bank's side.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from search.collection.models import ReferenceImage
from search.teams.models import Team

# HMA's default PDQ threshold: PDQ's "confident match" distance.
PDQ_DEFAULT_THRESHOLD = 31
# Beyond this a PDQ "match" is noise (unrelated photos differ by ~128 bits), and the index's
# multi-index lookup slows down sharply.
PDQ_MAX_THRESHOLD = 64


class SignalType(models.TextChoices):
    # The values are copydetect.hashlists.SignalType's.
    PDQ = "pdq", "PDQ"
    MD5 = "md5", "MD5"
    SSCD = "sscd", "SSCD"


class Bank(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="banks")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # A disabled bank keeps its entries but no query is looked up in it.
    enabled = models.BooleanField(default=True)
    pdq_threshold = models.PositiveSmallIntegerField(
        default=PDQ_DEFAULT_THRESHOLD, validators=[MinValueValidator(0), MaxValueValidator(PDQ_MAX_THRESHOLD)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="unique_bank_name_per_team")]

    def __str__(self) -> str:
        return self.name


class BankEntryManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(bank__isnull=False)


class BankEntry(ReferenceImage):
    """The reference rows that are bank entries."""

    objects = BankEntryManager()

    class Meta:
        proxy = True


class BankImport(models.Model):
    """A hash list loaded into a bank: every line checked first, then all good entries inserted in one
    transaction, so a failure leaves the bank as it was. `done` counts lines read in the current phase."""

    class Format(models.TextChoices):
        # The values are copydetect.hashlists.HashListFormat's.
        LOCAL_FILE = "te_local", "threatexchange local file (pdq <hex> per line)"
        CSV = "csv", "CSV: signal_type,signal,external_id,tags"
        TE_DATASET = "te_dataset", "threatexchange dataset CSV"

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        CHECKING = "checking", "Checking lines"
        INSERTING = "inserting", "Inserting entries"

    ACTIVE_STATES = (State.QUEUED, State.RUNNING)

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="imports")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_path = models.CharField(max_length=1000)  # the stored file
    source_name = models.CharField(max_length=300, blank=True)  # what the user called it
    format = models.CharField(max_length=12, choices=Format.choices)
    # Insert the good lines even when some are bad (they are listed either way); otherwise one bad
    # line fails the whole import and nothing is inserted.
    skip_bad_lines = models.BooleanField(default=False)
    source_label = models.CharField(max_length=300, blank=True)  # the entries' source where a line has none
    state = models.CharField(max_length=10, choices=State.choices, default=State.QUEUED)
    phase = models.CharField(max_length=10, choices=Phase.choices, default=Phase.CHECKING)
    total = models.PositiveIntegerField(default=0)  # lines of the file (known after the check)
    done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)  # already in the bank, or twice in the file
    bad_lines = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)  # why the whole import failed, if it did
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"bank import {self.id} ({self.source_name})"

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def percent(self) -> int:
        if self.state == self.State.DONE:
            return 100
        if not self.total:
            return 0
        # Checking is the first half of the work, inserting the second.
        half = 0 if self.phase == self.Phase.CHECKING else 50
        return min(100, half + round(50 * self.done / self.total))


class BankImportError(models.Model):
    """A line an import could not use, with the reason."""

    job = models.ForeignKey(BankImport, on_delete=models.CASCADE, related_name="errors")
    line_number = models.PositiveIntegerField()
    reason = models.CharField(max_length=500)
    text = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["job", "line_number"]
        constraints = [models.UniqueConstraint(fields=["job", "line_number"], name="unique_bank_import_error_line")]
