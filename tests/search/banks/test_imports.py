"""Hash lists in (three formats, every bad line with its reason, all or nothing) and out."""

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from copydetect.hashlists import HashListFormat, hashlist_open, hashlist_read
from search.banks import entries as bank_entries
from search.banks import exports, imports
from search.banks import services as banks_services
from search.banks.models import BankEntry, BankImport
from tests.factories import UserFactory, team_with

pytestmark = pytest.mark.django_db

PDQS = [f"{i:02x}" * 32 for i in range(1, 6)]
MD5 = "0cc175b9c0f1b6a831c399e269772661"


@pytest.fixture
def bank(settings, tmp_path):
    settings.ISC = settings.ISC.replace(ingest_dir=str(tmp_path / "ingest"))
    admin = UserFactory()
    return banks_services.bank_create(actor=admin, team=team_with(admin, slug="trust"), name="partner list")


def _run(bank, text: str, tmp_path: Path, **options) -> BankImport:
    path = tmp_path / "list.txt"
    path.write_text(text)
    job = imports.bank_import_create(actor=bank.created_by, bank=bank, source_path=str(path), enqueue=False, **options)
    assert imports.bank_import_claim(job_id=job.id)
    return imports.bank_import_execute(job_id=job.id)


@pytest.mark.parametrize(
    ("text", "format"),
    [
        (f"pdq {PDQS[0]}\n{PDQS[1]}\n# a comment\n\nvideo_md5 {MD5}\n", "te_local"),
        (f"signal_type,signal,external_id,tags\npdq,{PDQS[0]},case-1,a b\npdq,{PDQS[1]}\nmd5,{MD5},case-3,\n", "csv"),
        (
            "signal_type,signal_str,collab,category,tags\n"
            f"pdq,{PDQS[0]},GIFCT,POSITIVE_CLASS,terror\npdq,{PDQS[1]},GIFCT,,\nvideo_md5,{MD5},GIFCT,,\n",
            "te_dataset",
        ),
    ],
)
def test_each_format_is_recognised_and_loaded(bank, tmp_path, text, format):
    job = _run(bank, text, tmp_path)
    assert (job.format, job.state, job.created, job.bad_lines, job.percent) == (format, "done", 3, 0, 100)
    assert job.done == job.total > 0
    assert set(BankEntry.objects.filter(bank=bank).values_list("signal_type", "signal")) == {
        ("pdq", PDQS[0]),
        ("pdq", PDQS[1]),
        ("md5", MD5),
    }
    if format == "te_dataset":
        entry = BankEntry.objects.get(bank=bank, signal=PDQS[0])
        assert (entry.source, entry.category, entry.tags) == ("GIFCT", "POSITIVE_CLASS", ["terror"])


def test_one_bad_line_fails_the_import_with_every_reason_and_inserts_nothing(bank, tmp_path):
    text = f"pdq,{PDQS[0]}\npdq,abc\nsha1,{MD5}\nmd5,{MD5},x,\npdq,{PDQS[1]},a,b,c\n"
    job = _run(bank, text, tmp_path, format="csv")
    assert job.state == "failed" and "3 bad lines; nothing was imported" in job.error
    assert [(e.line_number, e.reason) for e in job.errors.all()] == [
        (2, "pdq must be 64 hex digits, got 3"),
        (3, "unknown signal type 'sha1' (known: hash_md5, hash_pdq, md5, pdq, photo_md5, sscd, video_md5)"),
        (5, "5 columns, at most 4 expected"),
    ]
    assert not BankEntry.objects.filter(bank=bank).exists()

    again = _run(bank, text, tmp_path, format="csv", skip_bad_lines=True)
    assert (again.state, again.created, again.bad_lines) == ("done", 2, 3)
    assert BankEntry.objects.filter(bank=bank).count() == 2


def test_a_failure_while_inserting_rolls_every_batch_back(bank, tmp_path, monkeypatch):
    monkeypatch.setattr(banks_services, "INSERT_BATCH", 2)
    real_row = bank_entries.bank_entry_row

    def row_failing_on_the_last(*, entry, **kwargs):
        if entry.signal == PDQS[4]:
            raise DatabaseError("disk full")
        return real_row(entry=entry, **kwargs)

    monkeypatch.setattr(banks_services, "bank_entry_row", row_failing_on_the_last)
    with pytest.raises(DatabaseError):
        _run(bank, "".join(f"pdq {pdq}\n" for pdq in PDQS), tmp_path)
    assert not BankEntry.objects.filter(bank=bank).exists(), "the first two batches were rolled back too"


def test_sscd_lines_need_the_live_models_length(bank, tmp_path):
    path = tmp_path / "sscd.csv"
    path.write_text('signal_type,signal\nsscd,"[0.6,0.8]"\nsscd,"[1,0,0]"\n')
    job = imports.bank_import_create(actor=None, bank=bank, source_path=str(path), enqueue=False, skip_bad_lines=True)
    imports.bank_import_claim(job_id=job.id)
    job = imports.bank_import_execute(job_id=job.id, sscd=imports.SscdTarget(version="sscd-v1", dimensions=2))
    assert (job.created, job.bad_lines) == (1, 1)
    assert "sscd must have 2 values" in job.errors.get().reason
    entry = BankEntry.objects.get(bank=bank)
    assert (entry.status, entry.descriptor_version, entry.signal) == ("pending", "sscd-v1", "[0.6,0.8]")


def test_an_export_reads_back_as_the_same_entries(bank, tmp_path):
    _run(bank, f"signal_type,signal,external_id,tags\npdq,{PDQS[2]},case-9,x y\nmd5,{MD5},,\n", tmp_path)
    for format in HashListFormat:
        lines = list(exports.hashlist_export_lines(exports.bank_export_entries(bank=bank), format=format, collab="b"))
        read = list(hashlist_read(lines, format=format))
        assert {(e.signal_type.value, e.signal) for e in read} == {("pdq", PDQS[2]), ("md5", MD5)}
        if format is HashListFormat.CSV:
            assert {(e.external_id, e.tags) for e in read} == {("case-9", ("x", "y")), ("", ())}


def test_the_command_lists_bad_lines_and_loads_nothing_until_told(isc_settings, bank, tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(f"pdq {PDQS[0]}\npdq nothex\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 bad line; nothing was imported"):
        call_command("bank_import", str(path), team="trust", bank="partner list", stdout=out)
    assert "line 2: pdq must be 64 hex digits" in out.getvalue()
    call_command("bank_import", str(path), team="trust", bank="new one", create=True, skip_bad_lines=True, stdout=out)
    assert "Import" in out.getvalue() and "1 added, 0 already there, 1 bad lines" in out.getvalue()
    with hashlist_open(path) as handle:
        assert handle.readline().startswith("pdq")


def test_a_job_whose_worker_vanished_is_taken_again_and_runs_whole(bank, tmp_path, settings):
    path = tmp_path / "list.txt"
    path.write_text(f"pdq {PDQS[0]}\n")
    job = imports.bank_import_create(actor=None, bank=bank, source_path=str(path), enqueue=False)
    assert imports.bank_import_claim(job_id=job.id)
    assert not imports.bank_import_claim(job_id=job.id), "a second delivery of a live job is skipped"
    BankImport.objects.filter(id=job.id).update(
        heartbeat_at=timezone.now() - timedelta(seconds=settings.ISC.ingest_stale_seconds + 1)
    )
    assert imports.bank_import_claim(job_id=job.id)
    assert imports.bank_import_execute(job_id=job.id).created == 1
    assert not imports.bank_import_claim(job_id=job.id), "a finished job is never run again"
