"""Writes on banks' exchanges: configure one, run a fetch (the worker's job), record what it brought."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from copydetect.exchanges import ExchangeBatch, ExchangeConfigError, ExchangeKind, exchange_fetch
from search.banks.entries import bank_entry_key
from search.banks.models import Bank
from search.banks.services import bank_entries_add, bank_entries_disable
from search.collection.models import ReferenceImage
from search.collection.services import team_import_root
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import MANAGE, role_require
from search.exchanges.credentials import CREDENTIAL_FIELDS, credentials_decrypt, credentials_encrypt
from search.exchanges.models import BankExchange, ExchangeRun, ExchangeSeen

logger = logging.getLogger(__name__)

# A claim older than this belongs to a dead worker (the task's hard time limit is below it).
STALE_CLAIM_SECONDS = 900
REJECTED_EXAMPLES = 20


def _settings_of(exchange: BankExchange) -> dict:
    return {
        "kind": exchange.kind,
        "config": exchange.config,
        "credentials_hint": exchange.credentials_hint,
        "enabled": exchange.enabled,
        "interval_minutes": exchange.interval_minutes,
    }


@transaction.atomic
def exchange_configure(
    *,
    actor: AbstractBaseUser,
    bank: Bank,
    kind: str,
    config: dict[str, Any],
    credentials: dict[str, str] | None = None,
    enabled: bool = True,
    interval_minutes: int = 60,
) -> BankExchange:
    """Creates or changes the bank's exchange. `credentials` None (or all blank) keeps the stored ones.
    Changing the kind or its settings starts the next fetch from scratch."""
    role_require(user=actor, team=bank.team_id, minimum=MANAGE)
    kind = ExchangeKind(kind)
    config = _config_check(bank=bank, kind=kind, config=config)
    exchange = BankExchange.objects.select_for_update().filter(bank=bank).first()
    before = _settings_of(exchange) if exchange is not None else None
    if exchange is None:
        exchange = BankExchange(bank=bank, created_by=actor)
    if exchange.kind != kind.value:
        # Another exchange's credentials never carry over.
        exchange.credentials_encrypted, exchange.credentials_hint = "", ""
    if exchange.kind != kind.value or exchange.config != config:
        exchange.checkpoint = None
    exchange.kind, exchange.config = kind.value, config
    wanted = {name: (credentials or {}).get(name, "").strip() for name in CREDENTIAL_FIELDS[kind.value]}
    if any(wanted.values()):
        missing = [name for name, value in wanted.items() if not value]
        if missing:
            raise ExchangeConfigError(f"give every credential together: {', '.join(missing)} missing")
        exchange.credentials_encrypted, exchange.credentials_hint = credentials_encrypt(wanted)
    elif CREDENTIAL_FIELDS[kind.value] and not exchange.credentials_encrypted:
        raise ExchangeConfigError(f"credentials needed: {', '.join(CREDENTIAL_FIELDS[kind.value])}")
    exchange.enabled, exchange.interval_minutes = enabled, max(1, int(interval_minutes))
    exchange.save()
    audit_record(
        actor=actor,
        team=bank.team,
        action=AuditAction.BANK_EXCHANGE_CONFIGURE,
        target=bank,
        before=before,
        after=_settings_of(exchange),
    )
    return exchange


def _config_check(*, bank: Bank, kind: ExchangeKind, config: dict[str, Any]) -> dict[str, Any]:
    config = {key: value for key, value in config.items() if value not in (None, "", [])}
    if kind is ExchangeKind.LOCAL_FILE:
        # Only files under the team's import folders, as for server-folder imports of pictures.
        path = Path(str(config.get("filename", ""))).resolve()
        roots = [root.resolve() for root in team_import_root(team=bank.team)]
        if not any(path.is_relative_to(root) for root in roots):
            shown = ", ".join(str(root) for root in roots)
            raise ExchangeConfigError(f"the signal file must be under the team's import folders ({shown})")
        config["filename"] = str(path)
    return config


def exchange_fetch_requested(*, actor: AbstractBaseUser, exchange: BankExchange) -> None:
    """'Fetch now': makes the exchange due at the next beat tick."""
    role_require(user=actor, team=exchange.bank.team_id, minimum=MANAGE)
    BankExchange.objects.filter(id=exchange.id).update(last_run_at=None)


def exchanges_due_ids(*, now: datetime | None = None) -> list[int]:
    """Enabled exchanges whose interval has passed (or whose last run stopped at its budget), not running."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=STALE_CLAIM_SECONDS)
    candidates = BankExchange.objects.filter(enabled=True, bank__enabled=True).filter(
        ~Q(state=BankExchange.State.RUNNING) | Q(claimed_at__lt=stale)
    )
    return [exchange.id for exchange in candidates if exchange.is_due or _resumes(exchange)]


def _resumes(exchange: BankExchange) -> bool:
    last = exchange.runs.first()
    return last is not None and last.state == ExchangeRun.State.PARTIAL


def exchange_claim(*, exchange_id: int) -> BankExchange | None:
    """Marks the exchange running, unless another worker holds a fresh claim (conditional update)."""
    now = timezone.now()
    stale = now - timedelta(seconds=STALE_CLAIM_SECONDS)
    claimed = (
        BankExchange.objects.filter(id=exchange_id, enabled=True)
        .filter(~Q(state=BankExchange.State.RUNNING) | Q(claimed_at__lt=stale))
        .update(state=BankExchange.State.RUNNING, claimed_at=now, last_run_at=now)
    )
    return BankExchange.objects.select_related("bank__team").get(id=exchange_id) if claimed else None


@dataclass
class FetchOutcome:
    run: ExchangeRun
    created_ids: list[int] = field(default_factory=list)


def exchange_fetch_run(
    *,
    exchange: BankExchange,
    budget_seconds: float,
) -> FetchOutcome:
    """One run of a claimed exchange: batches until the exchange is up to date or the budget is spent,
    each applied with its checkpoint in one transaction (new entries start their look-back there, in
    bank_entries_add)."""
    run = ExchangeRun.objects.create(exchange=exchange)
    outcome = FetchOutcome(run=run)
    started = timezone.now()
    credentials: dict[str, Any] = {}
    try:
        credentials = credentials_decrypt(exchange.credentials_encrypted)
        fetch = exchange_fetch(
            kind=exchange.kind,
            name=f"bank-{exchange.bank_id}",
            config=exchange.config,
            credentials=credentials,
            checkpoint=exchange.checkpoint,
            base_url=exchange.base_url,
        )
        if fetch.snapshot:  # from scratch: a new snapshot cycle
            ExchangeSeen.objects.filter(exchange=exchange).delete()
            exchange.snapshot_pending = True
            exchange.save(update_fields=["snapshot_pending"])
        run.snapshot = exchange.snapshot_pending
        complete = True
        for batch in fetch:
            outcome.created_ids.extend(_batch_apply(exchange=exchange, run=run, batch=batch))
            if (timezone.now() - started).total_seconds() >= budget_seconds:
                complete = False
                break
        if complete and exchange.snapshot_pending:
            run.removed += _snapshot_finish(exchange=exchange)
        run.state = ExchangeRun.State.DONE if complete else ExchangeRun.State.PARTIAL
        exchange.state, exchange.last_error = BankExchange.State.IDLE, ""
        exchange.last_success_at = timezone.now()
    except Exception as error:  # noqa: BLE001 - any failure of the exchange is recorded on the run
        logger.warning("exchange %s fetch failed: %s", exchange.id, error)
        run.state, run.error = ExchangeRun.State.FAILED, _error_text(error, secrets=credentials.values())
        exchange.state, exchange.last_error = BankExchange.State.FAILED, run.error
    run.finished_at = timezone.now()
    run.save()
    exchange.claimed_at = None
    exchange.save(update_fields=["state", "last_error", "last_success_at", "claimed_at", "snapshot_pending"])
    return outcome


def _error_text(error: Exception, *, secrets: Iterable[Any]) -> str:
    text = f"{type(error).__name__}: {error}"
    # Never show a credential: the library's errors can hold the request URL (ThreatExchange's token is
    # in its query string).
    for value in secrets:
        if isinstance(value, str) and value:
            text = text.replace(value, "***").replace(quote(value, safe=""), "***")
    return text[:1000]


def _batch_apply(*, exchange: BankExchange, run: ExchangeRun, batch: ExchangeBatch) -> list[int]:
    bank = exchange.bank
    now = timezone.now()
    with transaction.atomic():
        added = bank_entries_add(bank=bank, entries=batch.additions)
        keys = [bank_entry_key(signal_type=entry.signal_type.value, signal=entry.signal) for entry in batch.additions]
        returning = ReferenceImage.objects.filter(bank=bank, sha256__in=keys)
        # Listed upstream again after a removal: matched again.
        reenabled = returning.filter(disabled_until__isnull=False).update(disabled_until=None, changed_at=now)
        if exchange.snapshot_pending and keys:
            ExchangeSeen.objects.bulk_create(
                [
                    ExchangeSeen(exchange=exchange, entry_id=entry_id)
                    for entry_id in returning.values_list("id", flat=True)
                ],
                ignore_conflicts=True,
            )
        removed = _removals_apply(bank=bank, batch=batch)
        exchange.checkpoint = batch.checkpoint
        if batch.progress_timestamp:
            exchange.progress_at = datetime.fromtimestamp(batch.progress_timestamp, UTC)
        exchange.save(update_fields=["checkpoint", "progress_at"])
        run.batches += 1
        run.added += added.created
        run.already_held += added.duplicates - reenabled
        run.reenabled += reenabled
        run.removed += removed
        run.skipped += batch.skipped
        run.rejected += len(batch.rejected)
        room = REJECTED_EXAMPLES - len(run.rejected_examples)
        run.rejected_examples += [
            {"signal_type": item.signal_type, "signal": item.signal, "reason": item.reason}
            for item in batch.rejected[:room]
        ]
        run.heartbeat_at = now
        run.save()
    return list(added.created_ids)


def _removals_apply(*, bank: Bank, batch: ExchangeBatch) -> int:
    keys = [
        bank_entry_key(signal_type=removal.signal_type.value, signal=removal.signal)
        for removal in batch.removals
        if removal.signal_type is not None
    ]
    external_ids = [removal.external_id for removal in batch.removals if removal.signal_type is None]
    rows = ReferenceImage.objects.filter(bank=bank, disabled_until__isnull=True).filter(
        Q(sha256__in=keys) | Q(external_id__in=external_ids)
    )
    ids = list(rows.values_list("id", flat=True))
    return bank_entries_disable(actor=None, bank=bank, entry_ids=ids, disabled=True) if ids else 0


def _snapshot_finish(*, exchange: BankExchange) -> int:
    """After a complete fetch from scratch: the exchange's enabled entries it did not bring back go."""
    prefix = ExchangeKind(exchange.kind).source_prefix
    seen = ExchangeSeen.objects.filter(exchange=exchange).values("entry_id")
    gone = list(
        ReferenceImage.objects.filter(bank=exchange.bank, source__startswith=prefix, disabled_until__isnull=True)
        .exclude(id__in=seen)
        .values_list("id", flat=True)
    )
    removed = bank_entries_disable(actor=None, bank=exchange.bank, entry_ids=gone, disabled=True) if gone else 0
    ExchangeSeen.objects.filter(exchange=exchange).delete()
    exchange.snapshot_pending = False
    return removed
