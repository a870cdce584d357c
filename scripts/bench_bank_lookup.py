"""The live path of a bank lookup, as a query's worker runs it: what it adds to a query, and how soon an
added entry matches.

    nice -n 10 .venv/bin/python scripts/bench_bank_lookup.py --entries 200000 [--seed 2]

A fresh SQLite database (a temporary file, migrated here) gets one team with `--banks` banks holding
`--entries` PDQ entries (uniform random hashes) and 1 % as many MD5 entries, inserted through the bank
service as an import does. Then, in this process, as in a worker process:

- load: the first lookup reads every PDQ entry from the database into the process's PdqIndex;
- per query, `workers.banks.bank_hits_find`: the team's enabled banks from the database, the PDQ index
  (the query's hash alone, and with ISC_BANK_PDQ_DIHEDRAL its 8 dihedral variants), MD5 in the
  database, and the check for SSCD entries (none here, so no Milvus search). Half the queries are
  planted near-duplicates of an entry (1-31 bits away: each must be found), half are new hashes;
- a poll with nothing new, once the import is older than the overlap window (every `POLL_SECONDS` a
  lookup pays for one);
- visibility: one entry added in its own transaction, then lookups every 50 ms until it matches.

The PDQ index itself at 10M entries is measured by scripts/bench_pdq_index.py (docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--banks", type=int, default=5)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--additions", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="bench-banks-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "isc_site.settings")
    os.environ["ISC_DATA_DIR"] = str(folder)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    run(args)


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {p(0.5):.2f} / p95 {p(0.95):.2f} / p99 {p(0.99):.2f} ms"


def run(args) -> None:
    import numpy as np
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from copydetect.hashlists import HashEntry, SignalType
    from copydetect.signals import ImageSignals
    from search.banks import services
    from search.banks.models import Bank
    from search.teams.models import Team
    from workers import banks as worker_banks

    rng = np.random.default_rng(args.seed)
    team = Team.objects.create(name="bench", slug="bench")
    get_user_model().objects.create(username="bench")
    banks = [Bank.objects.create(team=team, name=f"bank {i}") for i in range(args.banks)]

    def random_hex(count: int) -> list[str]:
        return [row.tobytes().hex() for row in rng.integers(0, 256, size=(count, 32), dtype=np.uint8)]

    pdqs = random_hex(args.entries)
    md5s = [h[:32] for h in random_hex(max(1, args.entries // 100))]
    started = time.perf_counter()
    share = -(-args.entries // args.banks)
    for number, bank in enumerate(banks):
        part = pdqs[number * share : (number + 1) * share]
        services.bank_entries_add(bank=bank, entries=(HashEntry(SignalType.PDQ, pdq) for pdq in part))
    services.bank_entries_add(bank=banks[0], entries=(HashEntry(SignalType.MD5, md5) for md5 in md5s))
    insert_s = time.perf_counter() - started
    print(
        f"entries: {args.entries:,} PDQ + {len(md5s):,} MD5 in {args.banks} banks; inserted in {insert_s:.1f} s "
        f"({(args.entries + len(md5s)) / insert_s:,.0f} /s)"
    )

    follower = worker_banks.BankPdqFollower(poll_seconds=3600)
    worker_banks._follower = follower
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = worker_banks.bank_pdq_index_get()
    print(
        f"load into the process: {time.perf_counter() - started:.2f} s, {len(index):,} entries, "
        f"index arrays {index.nbytes() / 2**20:.1f} MiB, peak RSS +{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024:.0f} MiB"
    )

    def flipped(hex_hash: str, bits: int) -> str:
        value = int(hex_hash, 16)
        for bit in rng.choice(256, size=bits, replace=False):
            value ^= 1 << int(bit)
        return f"{value:064x}"

    queries, planted = [], []
    for number in range(args.queries):
        if number % 2 == 0:
            target = pdqs[int(rng.integers(len(pdqs)))]
            main_hash = flipped(target, int(rng.integers(1, 32)))
            planted.append((number, target))
        else:
            main_hash = random_hex(1)[0]
        variants = (main_hash, *random_hex(7))
        queries.append(ImageSignals(pdq=main_hash, pdq_quality=100, md5=random_hex(1)[0][:32], pdq_dihedral=variants))
    plain = [ImageSignals(pdq=q.pdq, pdq_quality=100, md5=q.md5) for q in queries]
    # Quality below PDQ's floor: no PDQ lookup, only the database's part (banks, MD5, SSCD check).
    database_only = [ImageSignals(pdq=q.pdq, pdq_quality=0, md5=q.md5) for q in queries]

    times = []
    for signals in database_only:
        started = time.perf_counter()
        worker_banks.bank_hits_find(team_id=team.id, signals=signals, vector=None, descriptor=None)
        times.append(time.perf_counter() - started)
    print(f"bank_hits_find, database part alone (banks, MD5, SSCD check): {_ms(times)}")
    for label, batch in (("hash alone", plain), ("8 dihedral variants (ISC_BANK_PDQ_DIHEDRAL=true)", queries)):
        settings.ISC = settings.ISC.replace(bank_pdq_dihedral=batch is queries)
        times, found = [], {}
        for number, signals in enumerate(batch):
            started = time.perf_counter()
            hits = worker_banks.bank_hits_find(team_id=team.id, signals=signals, vector=None, descriptor=None)
            times.append(time.perf_counter() - started)
            found[number] = {hit.entry_id for hit in hits}
        from search.collection.models import ReferenceImage

        ids = dict(ReferenceImage.objects.filter(pdq__in=[t for _, t in planted]).values_list("pdq", "id"))
        recall = sum(ids[target] in found[number] for number, target in planted)
        print(f"bank_hits_find, {label}: {_ms(times)}; planted found {recall}/{len(planted)}")

    # Past the overlap window, a poll reads only what changed since the last one: nothing here.
    time.sleep(worker_banks.POLL_OVERLAP.total_seconds() + 1)
    follower.poll_seconds = 0
    polls = []
    for _ in range(50):
        started = time.perf_counter()
        worker_banks.bank_pdq_index_get()
        polls.append(time.perf_counter() - started)
    print(f"poll with nothing new: {_ms(polls)}")

    follower.poll_seconds = worker_banks.POLL_SECONDS
    delays = []
    for _ in range(args.additions):
        new_hash = random_hex(1)[0]
        services.bank_entries_add(bank=banks[-1], entries=[HashEntry(SignalType.PDQ, new_hash)])
        added = time.perf_counter()
        probe = ImageSignals(pdq=new_hash, pdq_quality=100, md5="")
        while not worker_banks.bank_hits_find(team_id=team.id, signals=probe, vector=None, descriptor=None):
            time.sleep(0.05)
        delays.append(time.perf_counter() - added)
    print(
        f"addition visible to lookups after (poll every {worker_banks.POLL_SECONDS:.0f} s): "
        f"median {statistics.median(delays):.2f} s, max {max(delays):.2f} s over {len(delays)}; no rebuild, "
        f"segments {index.segment_sizes}"
    )


if __name__ == "__main__":
    sys.exit(main())
