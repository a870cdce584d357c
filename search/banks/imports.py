"""Loading a hash list into a bank, as a job: check every line, then insert all good entries at once.

The file is read twice, a line at a time (any size, little memory). The first pass lists every bad
line with its reason and counts lines (progress: `done` / `total`); the second inserts, in batches
inside one transaction, so an import that fails half way (a crash, a lost database) leaves the bank as
it was and can simply run again. With `skip_bad_lines` off, one bad line fails the whole import and
nothing is inserted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from copydetect.hashlists import (
    HashEntry,
    HashListFormat,
    LineProblem,
    hashlist_format_guess,
    hashlist_open,
    hashlist_read,
)
from search.banks.models import Bank, BankImport, BankImportError
from search.banks.services import EntriesAdded, bank_entries_add
from search.collection.models import ReferenceImage
from search.core import dispatch
from search.core.audit import audit_record
from search.core.models import AuditAction
from search.core.permissions import MANAGE, role_require

# Lines between two progress writes, and bad lines written per INSERT.
PROGRESS_EVERY = 5000
ERRORS_BATCH = 1000
# At most this many bad lines are stored per import; the count goes on beyond it.
ERRORS_KEPT = 10_000


def bank_imports_dir() -> Path:
    folder = Path(settings.ISC.ingest_dir) / "banks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def bank_import_upload(
    *,
    actor: AbstractBaseUser,
    bank: Bank,
    uploaded,
    format: str | None = None,
    skip_bad_lines: bool = False,
    source_label: str = "",
    enqueue: bool = True,
) -> BankImport:
    """Stores an uploaded hash list (a Django UploadedFile or any object with `chunks()` and `name`) and
    queues its import."""
    role_require(user=actor, team=bank.team_id, minimum=MANAGE)  # before a byte is written
    target = bank_imports_dir() / f"upload-{uuid.uuid4().hex}.txt"
    with open(target, "wb") as handle:
        for piece in uploaded.chunks():
            handle.write(piece)
    return bank_import_create(
        actor=actor,
        bank=bank,
        source_path=str(target),
        source_name=Path(uploaded.name or "hashes.txt").name,
        format=format,
        skip_bad_lines=skip_bad_lines,
        source_label=source_label,
        enqueue=enqueue,
    )


def bank_import_create(
    *,
    actor: AbstractBaseUser | None,
    bank: Bank,
    source_path: str,
    source_name: str = "",
    format: str | None = None,
    skip_bad_lines: bool = False,
    source_label: str = "",
    enqueue: bool = True,
) -> BankImport:
    """The job row for a hash list already on disk; the format is guessed from its first line when not
    given. `enqueue=False`: the caller runs it (`manage.py bank_import`)."""
    if actor is not None:
        role_require(user=actor, team=bank.team_id, minimum=MANAGE)
    chosen = HashListFormat(format) if format else _format_guess(Path(source_path))
    with transaction.atomic():
        job = BankImport.objects.create(
            bank=bank,
            created_by=actor if actor is not None and actor.is_authenticated else None,
            source_path=source_path,
            source_name=(source_name or Path(source_path).name)[:300],
            format=chosen.value,
            skip_bad_lines=skip_bad_lines,
            source_label=source_label[:300],
        )
        audit_record(
            actor=actor,
            team=bank.team,
            action=AuditAction.BANK_IMPORT_START,
            target=bank,
            after={"import": job.id, "file": job.source_name, "format": job.format, "skip_bad_lines": skip_bad_lines},
        )
        if enqueue:
            transaction.on_commit(lambda: dispatch.task_send(dispatch.BANK_IMPORT_RUN, job.id))
    return job


def _format_guess(path: Path) -> HashListFormat:
    with hashlist_open(path) as handle:
        return hashlist_format_guess(handle.readline())


def bank_import_claim(*, job_id: int) -> bool:
    """Moves a queued job to running; False when another delivery took it or it is finished. A running
    job silent for ISC_INGEST_STALE_SECONDS lost its worker (the broker redelivers its message): it is
    taken again and runs from the start, its insert having rolled back with the worker."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.ISC.ingest_stale_seconds)
    return bool(
        BankImport.objects.filter(
            Q(state=BankImport.State.QUEUED) | Q(state=BankImport.State.RUNNING, heartbeat_at__lt=stale), id=job_id
        ).update(
            state=BankImport.State.RUNNING, phase=BankImport.Phase.CHECKING, done=0, started_at=now, heartbeat_at=now
        )
    )


@dataclass(frozen=True)
class SscdTarget:
    """The live model version that SSCD entries must belong to, and its descriptor length."""

    version: str
    dimensions: int


def bank_import_execute(
    *,
    job_id: int,
    sscd: SscdTarget | None = None,
    on_inserted: Callable[[EntriesAdded], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BankImport:
    """Runs a claimed job to its end (done or failed) and returns it. `sscd`: without it, SSCD lines are
    refused (no live model to hold them). `on_inserted` runs once the entries are committed (the worker
    writes SSCD vectors to Milvus there). `progress(phase, lines done, bad lines)` as the job advances."""
    job = BankImport.objects.select_related("bank__team").get(id=job_id)
    path = Path(job.source_path)
    try:
        bad, lines = _check(job, path, sscd, progress)
        if bad and not job.skip_bad_lines:
            return _finish(job, error=f"{bad} bad line{'s' if bad != 1 else ''}; nothing was imported")
        BankImport.objects.filter(id=job.id).update(
            phase=BankImport.Phase.INSERTING, done=0, total=lines, heartbeat_at=timezone.now()
        )
        if progress is not None:
            progress(BankImport.Phase.INSERTING, 0, bad)
        with transaction.atomic():
            added = bank_entries_add(
                bank=job.bank,
                entries=_entries(job, path, sscd),
                sscd_version=sscd.version if sscd else "",
                source=job.source_label,
            )
            BankImport.objects.filter(id=job.id).update(created=added.created, duplicates=added.duplicates, done=lines)
    except (OSError, UnicodeError) as exc:
        return _finish(job, error=f"the file could not be read: {exc}")
    if added.created_ids:
        # Processes that follow the bank by `changed_at` polled while the long insert was uncommitted:
        # a fresh stamp, committed now, makes them see every new entry in their next poll.
        ReferenceImage.objects.filter(
            bank=job.bank, id__gte=min(added.created_ids), id__lte=max(added.created_ids)
        ).update(changed_at=timezone.now())
    if on_inserted is not None:
        on_inserted(added)
    return _finish(job)


def _check(job: BankImport, path: Path, sscd: SscdTarget | None, progress) -> tuple[int, int]:
    """The first pass: bad lines stored with their reason; returns (bad lines, lines read)."""
    BankImportError.objects.filter(job=job).delete()  # a re-run lists them afresh
    bad, pending, line, seen = 0, [], 0, 0
    for item in _items(job, path, sscd):
        line, seen = item.line_number, seen + 1
        if isinstance(item, LineProblem):
            bad += 1
            if bad <= ERRORS_KEPT:
                pending.append(
                    BankImportError(
                        job=job, line_number=item.line_number, reason=item.reason[:500], text=item.text[:200]
                    )
                )
            if len(pending) >= ERRORS_BATCH:
                BankImportError.objects.bulk_create(pending, ignore_conflicts=True)
                pending.clear()
        if seen % PROGRESS_EVERY == 0:
            BankImport.objects.filter(id=job.id).update(done=line, bad_lines=bad, heartbeat_at=timezone.now())
            if progress is not None:
                progress(BankImport.Phase.CHECKING, line, bad)
    BankImportError.objects.bulk_create(pending, ignore_conflicts=True)
    BankImport.objects.filter(id=job.id).update(done=line, total=line, bad_lines=bad, heartbeat_at=timezone.now())
    return bad, line


def _items(job: BankImport, path: Path, sscd: SscdTarget | None):
    with hashlist_open(path) as handle:
        for item in hashlist_read(
            handle, format=HashListFormat(job.format), sscd_dimensions=sscd.dimensions if sscd else None
        ):
            if sscd is None and isinstance(item, HashEntry) and item.signal_type.value == "sscd":
                yield LineProblem(item.line_number, "no live SSCD model to hold an sscd signal", "")
                continue
            yield item


def _entries(job: BankImport, path: Path, sscd: SscdTarget | None) -> Iterator[HashEntry]:
    for item in _items(job, path, sscd):
        if isinstance(item, HashEntry):
            yield item


def _finish(job: BankImport, *, error: str = "") -> BankImport:
    now = timezone.now()
    state = BankImport.State.FAILED if error else BankImport.State.DONE
    BankImport.objects.filter(id=job.id).update(state=state, error=error, finished_at=now, heartbeat_at=now)
    job.refresh_from_db()
    audit_record(
        actor=None,
        team=job.bank.team,
        action=AuditAction.BANK_IMPORT_FINISH,
        target=job.bank,
        after={
            "import": job.id,
            "state": job.state,
            "created": job.created,
            "duplicates": job.duplicates,
            "bad_lines": job.bad_lines,
            "error": error,
        },
    )
    return job


def bank_import_requeue(*, job_id: int) -> bool:
    """A running job whose worker vanished goes back to queued (its insert rolled back with the worker)."""
    return bool(
        BankImport.objects.filter(id=job_id, state=BankImport.State.RUNNING).update(
            state=BankImport.State.QUEUED, done=0, phase=BankImport.Phase.CHECKING
        )
    )
