"""The platform's own settings (Django's `settings.ISC`): one typed, frozen object read once from the
environment at start-up. A bad value stops start-up with the variable's name (isc_site/env.py); the README's
configuration table lists every variable, and a test keeps the two in step.

Engines never read this object: the site and the workers pass plain values down to them.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from isc_site.env import env_bool, env_choice, env_float, env_int, env_list, env_path, env_str


@dataclass(frozen=True)
class IscSettings:
    milvus_uri: str
    milvus_token: str
    descriptor: str
    vit_model: str
    fusion_dir: str
    device: str
    model_threads: int
    search_top_k: int
    verify_top_k: int
    query_views: tuple[str, ...]
    verifier: str
    learned_top_k: int
    learned_matcher: str
    learned_max_side: int
    learned_max_keypoints: int
    region_candidates: bool
    calibration_dir: str
    default_threshold: float
    review_claim_seconds: int
    near_duplicate_similarity: float
    near_duplicate_window_days: int
    quarantine_queries_per_day: int
    bank_pdq_dihedral: bool
    reference_delete_grace_days: int
    max_upload_bytes: int
    max_image_pixels: int
    max_zip_members: int
    max_zip_uncompressed_bytes: int
    import_roots: tuple[str, ...]
    features_dir: str
    warm_up: bool
    max_attempts: int
    retry_backoff_max: int
    retry_for_seconds: int
    queue_grace_seconds: int
    stale_after_seconds: int
    stale_pending_after_seconds: int
    sweep_interval_seconds: int
    sweep_limit: int
    reconcile_interval_seconds: int
    orphan_file_grace_seconds: int
    live_alias: str
    reindex_batch_size: int
    reindex_stale_seconds: int
    reindex_keep_old: bool
    follow_live_version: bool
    open_signup: bool
    media_accel_prefix: str
    webhook_max_attempts: int
    webhook_backoff_seconds: float
    webhook_backoff_max_seconds: float
    webhook_timeout_seconds: float
    webhook_rotation_grace_hours: float
    webhook_secret_keys: tuple[str, ...]
    webhook_allow_loopback: bool
    webhook_allow_private: bool
    webhook_proxy: str
    webhook_sweep_overdue_seconds: int
    ingest_dir: str
    ingest_processes: int
    ingest_chunk: int
    ingest_batch_size: int
    ingest_max_files: int
    ingest_stale_seconds: int
    task_names: str
    web_address: str
    exchange_fetch_seconds: int
    lookback_days: int

    def replace(self, **changes) -> IscSettings:
        """A copy with some values changed (tests, one-process tools)."""
        return dataclasses.replace(self, **changes)


def isc_settings_read(*, base_dir: Path, data_dir: Path, worker_concurrency: int) -> IscSettings:
    return IscSettings(
        milvus_uri=env_str("MILVUS_URI", "http://127.0.0.1:19530"),
        milvus_token=env_str("MILVUS_TOKEN", ""),
        descriptor=env_str("ISC_DESCRIPTOR", "sscd"),
        vit_model=env_str("ISC_VIT_MODEL", str(base_dir / "models" / "isc-vit-s14")),
        # The 'fused' descriptor's weights and per-component projections (`manage.py fusion_fit` writes them).
        fusion_dir=str(env_path("ISC_FUSION_DIR", data_dir / "models" / "fusion")),
        device=env_str("ISC_DEVICE", "auto"),
        # Intra-op threads of the descriptor models in each worker process.
        model_threads=env_int("ISC_MODEL_THREADS", max(1, (os.cpu_count() or 1) // worker_concurrency), minimum=1),
        search_top_k=env_int("ISC_SEARCH_TOP_K", 20, minimum=1, maximum=1000),
        # Candidates verified by SIFT. 20 (all of them) gave seed 1 µAP 0.942 → 0.949, seed 2 and hard seed 2 no
        # change, but one-client p95 through the live stack 1.33–1.39 s → 1.46–1.52 s, past the 1.5 s budget
        # (docs/accuracy.md, docs/ingest.md): 10 by default, 20 where latency allows.
        verify_top_k=env_int("ISC_VERIFY_TOP_K", 10, minimum=0, maximum=1000),
        # Names from copydetect.query_views: the query and five crops; "grid_50" / "grid_40" add nine crops each.
        query_views=env_list(
            "ISC_QUERY_VIEWS", ["full", "centre", "top_left", "top_right", "bottom_left", "bottom_right"]
        ),
        # Local verification (docs/accuracy.md): "sift", "learned" or "sift+learned" (XFeat asked only about the
        # top ISC_LEARNED_TOP_K candidates SIFT could not confirm). A learned verifier reads its own calibration,
        # <descriptor>+<verifier>.json, in CALIBRATION_DIR.
        verifier=env_choice("ISC_VERIFIER", "sift", ("sift", "learned", "sift+learned")),
        learned_top_k=env_int("ISC_LEARNED_TOP_K", 3, minimum=0),
        learned_matcher=env_choice("ISC_LEARNED_MATCHER", "mnn", ("mnn", "lighterglue")),
        learned_max_side=env_int("ISC_LEARNED_MAX_SIDE", 640, minimum=64),
        learned_max_keypoints=env_int("ISC_LEARNED_MAX_KEYPOINTS", 1024, minimum=16),
        # Region candidates from clusters of the query's keypoints (copydetect/candidates_regions.py).
        region_candidates=env_bool("ISC_REGION_CANDIDATES", False),
        calibration_dir=env_str("ISC_CALIBRATION_DIR", str(base_dir / "copydetect" / "calibration")),
        default_threshold=env_float("ISC_DEFAULT_THRESHOLD", 0.5, minimum=0.0, maximum=1.0),
        # Review: how long an opened item stays claimed by its moderator.
        review_claim_seconds=env_int("ISC_REVIEW_CLAIM_SECONDS", 600, minimum=1),
        # Two queries are near-identical (re-posts of one picture) when their whole-image descriptors have at least
        # this cosine similarity; search/review/verdicts.py quotes the measurement (scripts/bench_near_identical.py).
        near_duplicate_similarity=env_float("ISC_NEAR_DUPLICATE_SIMILARITY", 0.90, minimum=0.0, maximum=1.0),
        # Re-posts are looked for among the collection's queries of this many days (0: every query ever).
        near_duplicate_window_days=env_int("ISC_NEAR_DUPLICATE_WINDOW_DAYS", 90, minimum=0),
        # Bank lookups also try the query's 7 turned and mirrored PDQ variants: finds such copies, but 8
        # index lookups instead of 1, past the 20 ms target at 10M entries (docs/performance.md, "Hash
        # banks: the live path"); off by default, as HMA looks up the hash alone.
        bank_pdq_dihedral=env_bool("ISC_BANK_PDQ_DIHEDRAL", False),
        # A reference matched by more than this many distinct queries within 24 h is quarantined.
        quarantine_queries_per_day=env_int("ISC_QUARANTINE_QUERIES_PER_DAY", 50, minimum=1),
        # A deleted reference can be restored for this many days, then its vector and files are purged.
        reference_delete_grace_days=env_int("ISC_REFERENCE_DELETE_GRACE_DAYS", 7, minimum=0),
        max_upload_bytes=env_int("ISC_MAX_UPLOAD_BYTES", 50 * 1024 * 1024, minimum=1),
        max_image_pixels=env_int("ISC_MAX_IMAGE_PIXELS", 64_000_000, minimum=1),
        max_zip_members=env_int("ISC_MAX_ZIP_MEMBERS", 20_000, minimum=1),
        max_zip_uncompressed_bytes=env_int("ISC_MAX_ZIP_UNCOMPRESSED_BYTES", 4 * 1024**3, minimum=1),
        import_roots=env_list("ISC_IMPORT_ROOTS", [str(data_dir / "import")]),
        features_dir=str(env_path("ISC_FEATURES_DIR", data_dir / "features")),
        warm_up=env_bool("ISC_WARM_UP", True),
        # Job lifecycle (workers/rows.py, the sweeper). A row claimed this many times without its worker
        # ever reporting back (the worker died on it) is failed instead of being tried again.
        max_attempts=env_int("ISC_MAX_ATTEMPTS", 3, minimum=1),
        # Transient errors (Milvus, Redis, database unavailable) are retried with exponential back-off and
        # full jitter, capped at RETRY_BACKOFF_MAX seconds, for about RETRY_FOR_SECONDS on average.
        retry_backoff_max=env_int("ISC_RETRY_BACKOFF_MAX", 120, minimum=1),
        retry_for_seconds=env_int("ISC_RETRY_FOR_SECONDS", 1200, minimum=0),
        # The sweeper queues rows never handed to the broker after QUEUE_GRACE_SECONDS, rows queued before
        # Redis last restarted (their message may be gone), rows left processing for STALE_AFTER_SECONDS
        # (above ROW_TASK_TIME_LIMIT, so a running task is never queued twice) and rows left pending for
        # STALE_PENDING_AFTER_SECONDS (long: a big upload legitimately waits in the queue that long).
        queue_grace_seconds=env_int("ISC_QUEUE_GRACE_SECONDS", 30, minimum=0),
        stale_after_seconds=env_int("ISC_STALE_AFTER_SECONDS", 15 * 60, minimum=1),
        stale_pending_after_seconds=env_int("ISC_STALE_PENDING_AFTER_SECONDS", 3600, minimum=1),
        # Every sweep also pings the workers and re-queues at once what a silent one held (workers/claims.py):
        # the interval bounds how long a killed worker's work waits.
        sweep_interval_seconds=env_int("ISC_SWEEP_INTERVAL_SECONDS", 20, minimum=1),
        sweep_limit=env_int("ISC_SWEEP_LIMIT", 1000, minimum=1),
        reconcile_interval_seconds=env_int("ISC_RECONCILE_INTERVAL_SECONDS", 3600, minimum=1),
        # Reconciliation leaves files younger than this alone: an upload stores its file before its row.
        orphan_file_grace_seconds=env_int("ISC_ORPHAN_FILE_GRACE_SECONDS", 3600, minimum=0),
        # Reindex: the Milvus alias kept on the live version, references per batch (one short task each),
        # silence after which a job counts as stale and is resumed from its cursor, and whether the
        # replaced version's collection is kept for `manage.py reindex --rollback` (dropped by default).
        live_alias=env_str("ISC_LIVE_ALIAS", "live_index"),
        reindex_batch_size=env_int("ISC_REINDEX_BATCH_SIZE", 32, minimum=1),
        reindex_stale_seconds=env_int("ISC_REINDEX_STALE_SECONDS", 600, minimum=1),
        reindex_keep_old=env_bool("ISC_REINDEX_KEEP_OLD", False),
        # False only for private, throw-away indexes (the DISC21 track commands): searches then use the
        # workers' own descriptor version instead of the live-version record of the site's database.
        follow_live_version=env_bool("ISC_FOLLOW_LIVE_VERSION", True),
        # Off: accounts come from team admins (members page, invite links). On: anyone may sign up and gets a
        # team of their own.
        open_signup=env_bool("ISC_OPEN_SIGNUP", False),
        # e.g. "/protected/": image responses carry X-Accel-Redirect to <prefix><path under MEDIA_ROOT> and
        # nginx sends the file from an `internal` location (deploy/nginx.conf). Empty: Django streams the file.
        media_accel_prefix=env_str("ISC_MEDIA_ACCEL_PREFIX", ""),
        # Webhooks (docs/webhooks.md). A delivery is tried at most this many times; the wait before attempt n+1
        # is between half and all of min(BACKOFF_MAX, BACKOFF * 2**(n-1)) seconds (kept under the broker's
        # visibility timeout, or Redis hands a waiting retry to a second worker).
        webhook_max_attempts=env_int("ISC_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1),
        webhook_backoff_seconds=env_float("ISC_WEBHOOK_BACKOFF_SECONDS", 30.0, minimum=0.0),
        webhook_backoff_max_seconds=env_float("ISC_WEBHOOK_BACKOFF_MAX_SECONDS", 1800.0, minimum=0.0),
        webhook_timeout_seconds=env_float("ISC_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        # After a rotation the old secret still signs (a second signature) for this long.
        webhook_rotation_grace_hours=env_float("ISC_WEBHOOK_ROTATION_GRACE_HOURS", 24.0, minimum=0.0),
        # Fernet keys (comma-separated; the first encrypts, all decrypt) for the stored endpoint secrets.
        # Empty: a key derived from DJANGO_SECRET_KEY (changing that key then makes stored secrets unreadable).
        webhook_secret_keys=env_list("ISC_WEBHOOK_SECRET_KEYS", []),
        # Link-local and cloud metadata addresses are always refused; loopback (tests, a receiver on the
        # same host) and private networks only when these are on.
        webhook_allow_loopback=env_bool("ISC_WEBHOOK_ALLOW_LOOPBACK", False),
        webhook_allow_private=env_bool("ISC_WEBHOOK_ALLOW_PRIVATE", False),
        # Outgoing proxy for deliveries (e.g. an egress proxy); the environment's HTTP(S)_PROXY is ignored.
        webhook_proxy=env_str("ISC_WEBHOOK_PROXY", ""),
        # A delivery still waiting this long after it was due has lost its task message: the beat sweep
        # queues it again (longer than a worker's prefetched countdown usually runs late).
        webhook_sweep_overdue_seconds=env_int("ISC_WEBHOOK_SWEEP_OVERDUE_SECONDS", 300, minimum=1),
        # Bulk ingest (search/ingest/): stored archives and item lists, decode processes, chunk size.
        ingest_dir=str(env_path("ISC_INGEST_DIR", data_dir / "ingest")),
        ingest_processes=env_int("ISC_INGEST_PROCESSES", os.cpu_count() or 1, minimum=1),
        ingest_chunk=env_int("ISC_INGEST_CHUNK", 64, minimum=1),
        ingest_batch_size=env_int("ISC_INGEST_BATCH_SIZE", 32, minimum=1),
        ingest_max_files=env_int("ISC_INGEST_MAX_FILES", 1_000_000, minimum=1),
        # Longer than a chunk's hard time limit (660 s), so a chunk still running never looks stalled.
        ingest_stale_seconds=env_int("ISC_INGEST_STALE_SECONDS", 900, minimum=1),
        # "current": task messages carry today's names; "legacy": the previous release's, while workers of that
        # release still run during an upgrade (search/core/dispatch.py).
        task_names=env_choice("ISC_TASK_NAMES", "current", ("current", "legacy")),
        # Where `make run` serves the site (runserver's addrport); `ensure_admin` prints the login URL from it.
        web_address=env_str("ISC_WEB_ADDRESS", "127.0.0.1:8000"),
        # One exchange fetch stops after this long and stores its checkpoint; the next beat tick resumes it.
        exchange_fetch_seconds=env_int("ISC_EXCHANGE_FETCH_SECONDS", 240, minimum=1),
        # Look-back: when references or bank entries are added, queries of this many days are checked again.
        lookback_days=env_int("ISC_LOOKBACK_DAYS", 90, minimum=0),
    )
