"""Django finds an app's models in `<app>.models`: each domain keeps its own (one app label, `search`)."""

from search.banks.models import Bank, BankEntry, BankImport, BankImportError
from search.collection.models import Collection, ImageStatus, ReferenceImage, StoredImage
from search.core.models import AuditAction, AuditEvent, AuditEventQuerySet, AuditImmutable
from search.exchanges.models import BankExchange, ExchangeRun, ExchangeSeen
from search.ingest.models import IngestError, IngestJob
from search.lookback.models import LookbackJob
from search.queries.models import Match, QueryImage
from search.reindex.models import IndexVersion, ReindexJob
from search.review.models import AllowlistEntry, PairVerdict, ReviewDecision
from search.teams.models import ApiToken, Invite, Membership, Role, Team
from search.webhooks.models import (
    SUBSCRIBABLE_EVENTS,
    AttemptOutcome,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "SUBSCRIBABLE_EVENTS",
    "AllowlistEntry",
    "ApiToken",
    "AttemptOutcome",
    "AuditAction",
    "AuditEvent",
    "AuditEventQuerySet",
    "AuditImmutable",
    "Bank",
    "BankEntry",
    "BankExchange",
    "BankImport",
    "BankImportError",
    "Collection",
    "DeliveryState",
    "ExchangeRun",
    "ExchangeSeen",
    "ImageStatus",
    "IndexVersion",
    "IngestError",
    "IngestJob",
    "Invite",
    "LookbackJob",
    "Match",
    "Membership",
    "PairVerdict",
    "QueryImage",
    "ReferenceImage",
    "ReindexJob",
    "ReviewDecision",
    "Role",
    "StoredImage",
    "Team",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
