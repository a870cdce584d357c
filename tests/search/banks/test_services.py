"""Banks and their entries: creating, adding signals once, disabling, who may."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from copydetect.hashlists import HashEntry, SignalType
from search.banks import services as banks_services
from search.banks.entries import bank_entry_key
from search.banks.models import Bank, BankEntry
from search.collection.models import ImageStatus, ReferenceImage
from search.core.models import AuditAction, AuditEvent
from search.teams.models import Role
from tests.factories import UserFactory, team_with

pytestmark = pytest.mark.django_db

PDQ_A = "f" * 64
PDQ_B = "0f" * 32
MD5_A = "d41d8cd98f00b204e9800998ecf8427e"


def test_a_bank_entry_is_a_reference_without_a_picture():
    admin = UserFactory()
    bank = banks_services.bank_create(actor=admin, team=team_with(admin), name="NCMEC test")
    added = banks_services.bank_entries_add(
        bank=bank,
        entries=[
            HashEntry(SignalType.PDQ, PDQ_A, external_id="case-1", tags=("csam",)),
            HashEntry(SignalType.MD5, MD5_A),
        ],
    )
    assert (added.created, added.duplicates) == (2, 0)
    pdq, md5 = BankEntry.objects.filter(bank=bank).order_by("id")
    assert pdq.collection_id is None and not pdq.file and pdq.status == ImageStatus.INDEXED
    assert (pdq.pdq, pdq.original_name, pdq.tags, pdq.external_id) == (PDQ_A, "case-1", ["csam"], "case-1")
    assert md5.md5 == MD5_A and md5.sha256 == bank_entry_key(signal_type="md5", signal=MD5_A)
    assert AuditEvent.objects.filter(action=AuditAction.BANK_CREATE, target_id=bank.id).exists()
    assert bank.pdq_threshold == 31 and bank.enabled


def test_the_same_signal_is_one_entry_per_bank_but_may_be_in_two_banks():
    admin = UserFactory()
    team = team_with(admin)
    first = banks_services.bank_create(actor=admin, team=team, name="one")
    second = banks_services.bank_create(actor=admin, team=team, name="two")
    entry = HashEntry(SignalType.PDQ, PDQ_B)
    assert banks_services.bank_entries_add(bank=first, entries=[entry, entry]).created == 1
    again = banks_services.bank_entries_add(bank=first, entries=[entry])
    assert (again.created, again.duplicates) == (0, 1)
    assert banks_services.bank_entries_add(bank=second, entries=[entry]).created == 1
    assert BankEntry.objects.count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferenceImage.objects.create(
            bank=first, sha256=bank_entry_key(signal_type="pdq", signal=PDQ_B), width=0, height=0
        )


def test_a_row_belongs_to_a_collection_or_a_bank():
    with pytest.raises(IntegrityError), transaction.atomic():
        ReferenceImage.objects.create(sha256="x" * 64, width=1, height=1)


def test_only_admins_of_the_team_manage_its_banks():
    admin, moderator, stranger = UserFactory(), UserFactory(), UserFactory()
    team = team_with(admin)
    team.memberships.create(user=moderator, role=Role.MODERATOR)
    team_with(stranger)
    for user in (moderator, stranger):
        with pytest.raises(PermissionDenied):
            banks_services.bank_create(actor=user, team=team, name="x")
    bank = banks_services.bank_create(actor=admin, team=team, name="x")
    with pytest.raises(PermissionDenied):
        banks_services.bank_update(actor=stranger, bank=bank, enabled=False)
    banks_services.bank_update(actor=admin, bank=bank, enabled=False, pdq_threshold=20)
    bank.refresh_from_db()
    assert (bank.enabled, bank.pdq_threshold) == (False, 20)


def test_a_disabled_entry_is_kept_and_can_be_enabled_again():
    admin = UserFactory()
    bank = banks_services.bank_create(actor=admin, team=team_with(admin), name="b")
    [entry_id] = banks_services.bank_entries_add(bank=bank, entries=[HashEntry(SignalType.PDQ, PDQ_A)]).created_ids
    before = ReferenceImage.objects.get(id=entry_id).changed_at
    assert banks_services.bank_entries_disable(actor=admin, bank=bank, entry_ids=[entry_id], disabled=True) == 1
    row = ReferenceImage.objects.get(id=entry_id)
    assert row.disabled_until.year == 9999 and row.changed_at > before and row.deleted_at is None
    banks_services.bank_entries_disable(actor=admin, bank=bank, entry_ids=[entry_id], disabled=False)
    assert ReferenceImage.objects.get(id=entry_id).disabled_until is None
    assert Bank.objects.get(id=bank.id).entries.count() == 1
