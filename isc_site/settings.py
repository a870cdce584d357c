"""Settings: every value comes from the environment, with defaults for the embedded set-up.

Embedded default (no configuration): SQLite and media under ./var, Redis on 127.0.0.1:6379,
a Milvus Lite server on 127.0.0.1:19530 started by `make run`.
Production: DATABASE_URL (PostgreSQL), MILVUS_URI / MILVUS_TOKEN (Milvus standalone or cluster),
CELERY_BROKER_URL, DJANGO_SECRET_KEY, DJANGO_DEBUG=0, DJANGO_ALLOWED_HOSTS, DJANGO_CSRF_TRUSTED_ORIGINS;
HTTPS settings below (secure by default when DEBUG=0). `manage.py check --deploy` is clean with them.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from isc_site.env import env_bool, env_float, env_int, env_list, env_path, env_str
from search.core import dispatch

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("ISC_DATA_DIR", BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = env_str("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env_bool("DJANGO_DEBUG", True)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_DEBUG=0 needs DJANGO_SECRET_KEY: the built-in key is public")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

# HTTPS. Production (DEBUG=0) defaults to the strict set `manage.py check --deploy` asks for; each
# can be turned off by its variable (e.g. a site that cannot commit to HSTS preload yet).
# Behind a TLS-terminating proxy (nginx, a load balancer) that sets X-Forwarded-Proto, Django learns
# the request was HTTPS from that header; never enable it without such a proxy in front.
if env_bool("DJANGO_BEHIND_TLS_PROXY", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# The container health check calls this over plain HTTP from inside the container.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", not DEBUG)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "rest_framework",
    "drf_spectacular",
    # Swagger UI and Redoc assets served from our own static files: /api/docs/ works offline.
    "drf_spectacular_sidecar",
    "search",
    "workers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout response.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it counts failed logins and refuses further attempts before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Locked after this many failures for one username from one address, for AXES_COOLOFF_TIME hours;
# a successful login resets the count.
AXES_FAILURE_LIMIT = env_int("ISC_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("ISC_LOGIN_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = env_bool("ISC_LOGIN_THROTTLE", True)
AXES_CLIENT_IP_CALLABLE = "isc_site.client_ip.client_ip"
ISC_BEHIND_PROXY = env_bool("ISC_BEHIND_PROXY", False)


ROOT_URLCONF = "isc_site.urls"
WSGI_APPLICATION = "isc_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "search.core.context_processors.site_flags",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
# One test database per test run (the pid of the run), so two runs on one machine never clash.
# ISC_TEST_DB overrides the name (a file path for SQLite, a database name for PostgreSQL).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and workers write concurrently; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # A file, not memory, so a live Celery worker in the end-to-end tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(env_path("ISC_TEST_DB", DATA_DIR / f"test-db-{os.getpid()}.sqlite3"))}
else:
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("ISC_TEST_DB", f"test_{DATABASES['default']['NAME']}_{os.getpid()}"),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Development serves straight from the source folders; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [BASE_DIR / "static"]
# Never served directly: search.images.views.image_file checks team membership first (see ISC MEDIA_ACCEL_PREFIX).
MEDIA_URL = "files/"
MEDIA_ROOT = env_path("ISC_MEDIA_ROOT", DATA_DIR / "media")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "search:collection_list"
LOGOUT_REDIRECT_URL = "login"

# Uploads: Django streams bodies above this size to disk instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 1000

# Celery
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Every task lives in a module listed by the site's one list of task names; Celery imports exactly those.
CELERY_IMPORTS = dispatch.TASK_MODULES
# The descriptor work on the `gpu` queue (under today's names and the previous release's); the rest on `default`.
CELERY_TASK_ROUTES = {
    name: {"queue": "gpu"}
    for current in (dispatch.REFERENCE_INDEX, dispatch.QUERY_SEARCH)
    for name in (current, *dispatch.legacy_names_of(current))
}
# Per-image tasks: the soft limit fails the row with a reason, the hard limit kills the child
# (Celery's failure signal then fails the row). A soft limit of 0 means none.
ROW_TASK_SOFT_TIME_LIMIT = env_int("ISC_ROW_TASK_SOFT_TIME_LIMIT", 300) or None
ROW_TASK_TIME_LIMIT = env_int("ISC_ROW_TASK_TIME_LIMIT", 360)
# The longest hard time limit of any task: the reconciliation (3,300 s; row tasks 360 s, reindex batches 300 s).
LONGEST_TASK_TIME_LIMIT = max(ROW_TASK_TIME_LIMIT, 3300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis hands an unacknowledged message to another worker after this long: it must exceed the
    # longest task, or a running task would be started a second time.
    "visibility_timeout": LONGEST_TASK_TIME_LIMIT + 3600,
    # Publishing from a web request fails fast when Redis is down (the sweeper queues the row later).
    "socket_connect_timeout": env_float("ISC_BROKER_CONNECT_TIMEOUT", 2.0),
}

# Copy detection
# Processes per Celery worker (scripts/run_stack.py passes it as -c). Each process gets an equal share
# of the cores for its models: two processes with every core each made each search ~2.5x slower and
# lowered throughput (docs/ingest.md, query latency under load).
WORKER_CONCURRENCY = max(1, env_int("ISC_WORKER_CONCURRENCY", 1))

ISC = {
    "MILVUS_URI": env_str("MILVUS_URI", "http://127.0.0.1:19530"),
    "MILVUS_TOKEN": env_str("MILVUS_TOKEN", ""),
    "DESCRIPTOR": env_str("ISC_DESCRIPTOR", "sscd"),
    "VIT_MODEL": env_str("ISC_VIT_MODEL", str(BASE_DIR / "models" / "isc-vit-s14")),
    # The 'fused' descriptor's weights and per-component projections (`manage.py fusion_fit` writes them).
    "FUSION_DIR": str(env_path("ISC_FUSION_DIR", DATA_DIR / "models" / "fusion")),
    "DEVICE": env_str("ISC_DEVICE", "auto"),
    # Intra-op threads of the descriptor models in each worker process.
    "MODEL_THREADS": max(1, env_int("ISC_MODEL_THREADS", max(1, (os.cpu_count() or 1) // WORKER_CONCURRENCY))),
    "SEARCH_TOP_K": env_int("ISC_SEARCH_TOP_K", 20),
    # Candidates verified by SIFT. 20 (all of them) gave seed 1 µAP 0.942 → 0.949, seed 2 and hard seed 2 no
    # change, but one-client p95 through the live stack 1.33–1.39 s → 1.46–1.52 s, past the 1.5 s budget
    # (docs/accuracy.md, docs/ingest.md): 10 by default, 20 where latency allows.
    "VERIFY_TOP_K": env_int("ISC_VERIFY_TOP_K", 10),
    # Names from copydetect.query_views: the query and five crops; "grid_50" / "grid_40" add nine crops each.
    "QUERY_VIEWS": env_list(
        "ISC_QUERY_VIEWS", ["full", "centre", "top_left", "top_right", "bottom_left", "bottom_right"]
    ),
    # Local verification (docs/accuracy.md): "sift", "learned" or "sift+learned" (XFeat asked only about the
    # top ISC_LEARNED_TOP_K candidates SIFT could not confirm). A learned verifier reads its own calibration,
    # <descriptor>+<verifier>.json, in CALIBRATION_DIR.
    "VERIFIER": env_str("ISC_VERIFIER", "sift"),
    "LEARNED_TOP_K": env_int("ISC_LEARNED_TOP_K", 3),
    "LEARNED_MATCHER": env_str("ISC_LEARNED_MATCHER", "mnn"),
    "LEARNED_MAX_SIDE": env_int("ISC_LEARNED_MAX_SIDE", 640),
    "LEARNED_MAX_KEYPOINTS": env_int("ISC_LEARNED_MAX_KEYPOINTS", 1024),
    # Region candidates from clusters of the query's keypoints (copydetect/candidates_regions.py).
    "REGION_CANDIDATES": env_bool("ISC_REGION_CANDIDATES", False),
    "CALIBRATION_DIR": env_str("ISC_CALIBRATION_DIR", str(BASE_DIR / "copydetect" / "calibration")),
    "DEFAULT_THRESHOLD": env_float("ISC_DEFAULT_THRESHOLD", 0.5),
    # Review: how long an opened item stays claimed by its moderator.
    "REVIEW_CLAIM_SECONDS": env_int("ISC_REVIEW_CLAIM_SECONDS", 600),
    # Two queries are near-identical (re-posts of one picture) when their whole-image descriptors have at least
    # this cosine similarity; search/verdicts.py quotes the measurement (scripts/bench_near_identical.py).
    "NEAR_DUPLICATE_SIMILARITY": env_float("ISC_NEAR_DUPLICATE_SIMILARITY", 0.90),
    # Re-posts are looked for among the collection's queries of this many days (0: every query ever).
    "NEAR_DUPLICATE_WINDOW_DAYS": env_int("ISC_NEAR_DUPLICATE_WINDOW_DAYS", 90),
    # A reference matched by more than this many distinct queries within 24 h is quarantined.
    "QUARANTINE_QUERIES_PER_DAY": env_int("ISC_QUARANTINE_QUERIES_PER_DAY", 50),
    # A deleted reference can be restored for this many days, then its vector and files are purged.
    "REFERENCE_DELETE_GRACE_DAYS": env_int("ISC_REFERENCE_DELETE_GRACE_DAYS", 7),
    "MAX_UPLOAD_BYTES": env_int("ISC_MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
    "MAX_IMAGE_PIXELS": env_int("ISC_MAX_IMAGE_PIXELS", 64_000_000),
    "MAX_ZIP_MEMBERS": env_int("ISC_MAX_ZIP_MEMBERS", 20_000),
    "MAX_ZIP_UNCOMPRESSED_BYTES": env_int("ISC_MAX_ZIP_UNCOMPRESSED_BYTES", 4 * 1024**3),
    "IMPORT_ROOTS": env_list("ISC_IMPORT_ROOTS", [str(DATA_DIR / "import")]),
    "FEATURES_DIR": str(env_path("ISC_FEATURES_DIR", DATA_DIR / "features")),
    "WARM_UP": env_bool("ISC_WARM_UP", True),
    # Job lifecycle (workers/tasks.py, the sweeper). A row claimed this many times without its worker
    # ever reporting back (the worker died on it) is failed instead of being tried again.
    "MAX_ATTEMPTS": env_int("ISC_MAX_ATTEMPTS", 3),
    # Transient errors (Milvus, Redis, database unavailable) are retried with exponential back-off and
    # full jitter, capped at RETRY_BACKOFF_MAX seconds, for about RETRY_FOR_SECONDS on average.
    "RETRY_BACKOFF_MAX": env_int("ISC_RETRY_BACKOFF_MAX", 120),
    "RETRY_FOR_SECONDS": env_int("ISC_RETRY_FOR_SECONDS", 1200),
    # The sweeper queues rows never handed to the broker after QUEUE_GRACE_SECONDS, rows queued before
    # Redis last restarted (their message may be gone), rows left processing for STALE_AFTER_SECONDS
    # (above ROW_TASK_TIME_LIMIT, so a running task is never queued twice) and rows left pending for
    # STALE_PENDING_AFTER_SECONDS (long: a big upload legitimately waits in the queue that long).
    "QUEUE_GRACE_SECONDS": env_int("ISC_QUEUE_GRACE_SECONDS", 30),
    "STALE_AFTER_SECONDS": env_int("ISC_STALE_AFTER_SECONDS", 15 * 60),
    "STALE_PENDING_AFTER_SECONDS": env_int("ISC_STALE_PENDING_AFTER_SECONDS", 3600),
    "SWEEP_INTERVAL_SECONDS": env_int("ISC_SWEEP_INTERVAL_SECONDS", 60),
    "SWEEP_LIMIT": env_int("ISC_SWEEP_LIMIT", 1000),
    "RECONCILE_INTERVAL_SECONDS": env_int("ISC_RECONCILE_INTERVAL_SECONDS", 3600),
    # Reconciliation leaves files younger than this alone: an upload stores its file before its row.
    "ORPHAN_FILE_GRACE_SECONDS": env_int("ISC_ORPHAN_FILE_GRACE_SECONDS", 3600),
    # Reindex: the Milvus alias kept on the live version, references per batch (one short task each),
    # silence after which a job counts as stale and is resumed from its cursor, and whether the
    # replaced version's collection is kept for `manage.py reindex --rollback` (dropped by default).
    "LIVE_ALIAS": env_str("ISC_LIVE_ALIAS", "live_index"),
    "REINDEX_BATCH_SIZE": env_int("ISC_REINDEX_BATCH_SIZE", 32),
    "REINDEX_STALE_SECONDS": env_int("ISC_REINDEX_STALE_SECONDS", 600),
    "REINDEX_KEEP_OLD": env_bool("ISC_REINDEX_KEEP_OLD", False),
    # False only for private, throw-away indexes (the DISC21 track commands): searches then use the
    # workers' own descriptor version instead of the live-version record of the site's database.
    "FOLLOW_LIVE_VERSION": env_bool("ISC_FOLLOW_LIVE_VERSION", True),
    # Off: accounts come from team admins (members page, invite links). On: anyone may sign up and gets a
    # team of their own.
    "OPEN_SIGNUP": env_bool("ISC_OPEN_SIGNUP", False),
    # e.g. "/protected/": image responses carry X-Accel-Redirect to <prefix><path under MEDIA_ROOT> and
    # nginx sends the file from an `internal` location (deploy/nginx.conf). Empty: Django streams the file.
    "MEDIA_ACCEL_PREFIX": env_str("ISC_MEDIA_ACCEL_PREFIX", ""),
    # Webhooks (docs/webhooks.md). A delivery is tried at most this many times; the wait before attempt n+1
    # is between half and all of min(BACKOFF_MAX, BACKOFF * 2**(n-1)) seconds (kept under the broker's
    # visibility timeout, or Redis hands a waiting retry to a second worker).
    "WEBHOOK_MAX_ATTEMPTS": env_int("ISC_WEBHOOK_MAX_ATTEMPTS", 6),
    "WEBHOOK_BACKOFF_SECONDS": env_float("ISC_WEBHOOK_BACKOFF_SECONDS", 30.0),
    "WEBHOOK_BACKOFF_MAX_SECONDS": env_float("ISC_WEBHOOK_BACKOFF_MAX_SECONDS", 1800.0),
    "WEBHOOK_TIMEOUT_SECONDS": env_float("ISC_WEBHOOK_TIMEOUT_SECONDS", 10.0),
    # After a rotation the old secret still signs (a second signature) for this long.
    "WEBHOOK_ROTATION_GRACE_HOURS": env_float("ISC_WEBHOOK_ROTATION_GRACE_HOURS", 24.0),
    # Fernet keys (comma-separated; the first encrypts, all decrypt) for the stored endpoint secrets.
    # Empty: a key derived from DJANGO_SECRET_KEY (changing that key then makes stored secrets unreadable).
    "WEBHOOK_SECRET_KEYS": env_list("ISC_WEBHOOK_SECRET_KEYS", []),
    # Link-local and cloud metadata addresses are always refused; loopback (tests, a receiver on the
    # same host) and private networks only when these are on.
    "WEBHOOK_ALLOW_LOOPBACK": env_bool("ISC_WEBHOOK_ALLOW_LOOPBACK", False),
    "WEBHOOK_ALLOW_PRIVATE": env_bool("ISC_WEBHOOK_ALLOW_PRIVATE", False),
    # Outgoing proxy for deliveries (e.g. an egress proxy); the environment's HTTP(S)_PROXY is ignored.
    "WEBHOOK_PROXY": env_str("ISC_WEBHOOK_PROXY", ""),
    # A delivery still waiting this long after it was due has lost its task message: the beat sweep
    # queues it again (longer than a worker's prefetched countdown usually runs late).
    "WEBHOOK_SWEEP_OVERDUE_SECONDS": env_int("ISC_WEBHOOK_SWEEP_OVERDUE_SECONDS", 300),
    # Bulk ingest (search/ingest.py): stored archives and item lists, decode processes, chunk size.
    "INGEST_DIR": str(env_path("ISC_INGEST_DIR", DATA_DIR / "ingest")),
    "INGEST_PROCESSES": env_int("ISC_INGEST_PROCESSES", os.cpu_count() or 1),
    "INGEST_CHUNK": env_int("ISC_INGEST_CHUNK", 64),
    "INGEST_BATCH_SIZE": env_int("ISC_INGEST_BATCH_SIZE", 32),
    "INGEST_MAX_FILES": env_int("ISC_INGEST_MAX_FILES", 1_000_000),
    # Longer than a chunk's hard time limit (660 s), so a chunk still running never looks stalled.
    "INGEST_STALE_SECONDS": env_int("ISC_INGEST_STALE_SECONDS", 900),
    # "current": task messages carry today's names; "legacy": the previous release's, while workers of that
    # release still run during an upgrade (search/core/dispatch.py).
    "TASK_NAMES": env_str("ISC_TASK_NAMES", "current"),
}

# Celery beat: the sweeper (stuck rows) and the reconciliation (database against Milvus and disk).
CELERY_BEAT_SCHEDULE = {
    "rows-sweep": {
        "task": dispatch.task_name_on_wire(dispatch.ROWS_SWEEP, mode=ISC["TASK_NAMES"]),
        "schedule": float(ISC["SWEEP_INTERVAL_SECONDS"]),
        "options": {"queue": "default", "expires": float(ISC["SWEEP_INTERVAL_SECONDS"])},
    },
    "index-reconcile": {
        "task": dispatch.task_name_on_wire(dispatch.INDEX_RECONCILE, mode=ISC["TASK_NAMES"]),
        "schedule": float(ISC["RECONCILE_INTERVAL_SECONDS"]),
        "options": {"queue": "default", "expires": float(ISC["RECONCILE_INTERVAL_SECONDS"])},
    },
    # A reindex whose worker died (kill -9, lost host) continues from its last finished batch.
    "reindex-resume-stale": {
        "task": dispatch.task_name_on_wire(dispatch.REINDEX_RESUME_STALE, mode=ISC["TASK_NAMES"]),
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 60.0},
    },
    # References deleted longer ago than ISC_REFERENCE_DELETE_GRACE_DAYS: rows, vectors and files go.
    "references-purge-expired": {
        "task": dispatch.task_name_on_wire(dispatch.REFERENCES_PURGE_EXPIRED, mode=ISC["TASK_NAMES"]),
        "schedule": 3600.0,
        "options": {"queue": "default", "expires": 3600.0},
    },
    # Webhook deliveries whose message never reached the broker (or was lost with it).
    "webhook-deliveries-sweep": {
        "task": dispatch.task_name_on_wire(dispatch.WEBHOOK_DELIVERIES_SWEEP, mode=ISC["TASK_NAMES"]),
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 60.0},
    },
    # A bulk ingest whose worker died continues from its cursor.
    "ingest-resume-stale": {
        "task": dispatch.task_name_on_wire(dispatch.INGEST_RESUME_STALE, mode=ISC["TASK_NAMES"]),
        "schedule": 300.0,
        "options": {"queue": "default", "expires": 300.0},
    },
}

# REST API (search/api/). Throttle rates are "N/second|minute|hour|day", per user (or per address
# when anonymous); counters live in the cache below, so every web process shares them in production.
ISC_API = {
    "THROTTLE_RATES": {
        "user": env_str("ISC_API_THROTTLE_USER", "600/minute"),
        "anon": env_str("ISC_API_THROTTLE_ANON", "60/minute"),
        "upload": env_str("ISC_API_THROTTLE_UPLOAD", "120/minute"),
    },
    # Upper bound of ?wait=SECONDS on a query upload: the request holds a web worker that long.
    "MAX_WAIT_SECONDS": env_int("ISC_API_MAX_WAIT_SECONDS", 30),
    "MAX_BATCH_FILES": env_int("ISC_API_MAX_BATCH_FILES", 100),
    "PAGE_SIZE": env_int("ISC_API_PAGE_SIZE", 50),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "search.api.authentication.HashedTokenAuthentication",
        # The browsable docs at /api/docs/ work for a logged-in browser session too.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["search.api.throttles.UserThrottle", "search.api.throttles.AnonThrottle"],
    "DEFAULT_PAGINATION_CLASS": "search.api.pagination.PageNumberPagination",
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "search.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Copy detection API",
    "DESCRIPTION": (
        "Collections of reference images, queries searched against them, matches with their scores and "
        "keypoint pairs, verdicts, evaluation figures and jobs, each scoped to the user's teams; what a member "
        "may do depends on their role there (viewer < uploader < moderator < admin). Authenticate with `Authorization: Token <key>` "
        "(keys are created on the *API tokens* page or with `manage.py api_token_create`). Every error is a "
        "JSON object with a machine-readable `code`; see docs/api.md for the list."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ImageStatusEnum": "search.models.ImageStatus",
        "ReviewDecisionEnum": "search.models.ReviewDecision",
        "ReindexStateEnum": "search.models.ReindexJob.State",
        "RoleEnum": "search.models.Role",
    },
}

# API throttle counters; set DJANGO_CACHE_URL=redis://host:6379/1 in production so all web
# processes count together (the default, per process memory, suits one process and the tests).
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("DJANGO_CACHE_URL", "")}
        if env_str("DJANGO_CACHE_URL", "")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
