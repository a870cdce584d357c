"""The audit log: who did what, append-only."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from search.teams.models import Team

# Webhook models live in their own module; importing them here registers them with the app.


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
    BANK_CREATE = "bank.create", "Hash bank created"
    BANK_UPDATE = "bank.update", "Hash bank changed"
    BANK_DELETE = "bank.delete", "Hash bank deleted"
    BANK_IMPORT_START = "bank.import", "Hash list import started"
    BANK_IMPORT_FINISH = "bank.import_finish", "Hash list import finished"
    BANK_ENTRY_DISABLE = "bank.entry_disable", "Bank entry disabled or enabled"
    BANK_EXCHANGE_CONFIGURE = "bank.exchange", "Bank exchange configured"


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
