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
from isc_site.isc import isc_settings_read
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
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600, minimum=0)
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
AXES_FAILURE_LIMIT = env_int("ISC_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_float("ISC_LOGIN_COOLOFF_HOURS", 0.25, minimum=0.0)
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
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
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
# Queries on `queries`, reference indexing on `gpu` (under today's names and the previous release's), the
# rest on `default` (search/core/dispatch.py says why).
CELERY_TASK_ROUTES = {
    name: {"queue": queue}
    for current, queue in dispatch.TASK_QUEUES.items()
    for name in (current, *dispatch.legacy_names_of(current))
}
# Per-image tasks: the soft limit fails the row with a reason, the hard limit kills the child
# (Celery's failure signal then fails the row). A soft limit of 0 means none.
ROW_TASK_SOFT_TIME_LIMIT = env_int("ISC_ROW_TASK_SOFT_TIME_LIMIT", 300, minimum=0) or None
ROW_TASK_TIME_LIMIT = env_int("ISC_ROW_TASK_TIME_LIMIT", 360, minimum=1)
# The longest hard time limit of any task: the reconciliation (3,300 s; row tasks 360 s, reindex batches 300 s).
LONGEST_TASK_TIME_LIMIT = max(ROW_TASK_TIME_LIMIT, 3300)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Redis hands an unacknowledged message to another worker after this long: it must exceed the
    # longest task, or a running task would be started a second time.
    "visibility_timeout": LONGEST_TASK_TIME_LIMIT + 3600,
    # Publishing from a web request fails fast when Redis is down (the sweeper queues the row later).
    "socket_connect_timeout": env_float("ISC_BROKER_CONNECT_TIMEOUT", 2.0, minimum=0.1),
}

# Copy detection
# Processes per Celery worker (scripts/run_stack.py passes it as -c). Each process gets an equal share
# of the cores for its models: two processes with every core each made each search ~2.5x slower and
# lowered throughput (docs/ingest.md, query latency under load).
WORKER_CONCURRENCY = env_int("ISC_WORKER_CONCURRENCY", 1, minimum=1)

ISC = isc_settings_read(base_dir=BASE_DIR, data_dir=DATA_DIR, worker_concurrency=WORKER_CONCURRENCY)

# Celery beat: the sweeper (stuck rows) and the reconciliation (database against Milvus and disk).
CELERY_BEAT_SCHEDULE = {
    "rows-sweep": {
        "task": dispatch.task_name_on_wire(dispatch.ROWS_SWEEP, mode=ISC.task_names),
        "schedule": float(ISC.sweep_interval_seconds),
        "options": {"queue": "default", "expires": float(ISC.sweep_interval_seconds)},
    },
    "index-reconcile": {
        "task": dispatch.task_name_on_wire(dispatch.INDEX_RECONCILE, mode=ISC.task_names),
        "schedule": float(ISC.reconcile_interval_seconds),
        "options": {"queue": "default", "expires": float(ISC.reconcile_interval_seconds)},
    },
    # A reindex whose worker died (kill -9, lost host) continues from its last finished batch.
    "reindex-resume-stale": {
        "task": dispatch.task_name_on_wire(dispatch.REINDEX_RESUME_STALE, mode=ISC.task_names),
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 60.0},
    },
    # References deleted longer ago than ISC_REFERENCE_DELETE_GRACE_DAYS: rows, vectors and files go.
    "references-purge-expired": {
        "task": dispatch.task_name_on_wire(dispatch.REFERENCES_PURGE_EXPIRED, mode=ISC.task_names),
        "schedule": 3600.0,
        "options": {"queue": "default", "expires": 3600.0},
    },
    # Webhook deliveries whose message never reached the broker (or was lost with it).
    "webhook-deliveries-sweep": {
        "task": dispatch.task_name_on_wire(dispatch.WEBHOOK_DELIVERIES_SWEEP, mode=ISC.task_names),
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 60.0},
    },
    # Hash exchanges whose interval has passed fetch from their stored checkpoint.
    "exchanges-fetch-due": {
        "task": dispatch.task_name_on_wire(dispatch.EXCHANGES_FETCH_DUE, mode=ISC.task_names),
        "schedule": 60.0,
        "options": {"queue": "default", "expires": 60.0},
    },
    # A look-back whose worker died continues from its last finished batch.
    "lookback-resume-stale": {
        "task": dispatch.task_name_on_wire(dispatch.LOOKBACK_RESUME_STALE, mode=ISC.task_names),
        "schedule": 300.0,
        "options": {"queue": "default", "expires": 300.0},
    },
    # A bulk ingest whose worker died continues from its cursor.
    "ingest-resume-stale": {
        "task": dispatch.task_name_on_wire(dispatch.INGEST_RESUME_STALE, mode=ISC.task_names),
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
    # Operations are tagged by their path after /api/ (the HMA-compatible paths under /hma/ carry their own tag).
    "SCHEMA_PATH_PREFIX": r"/api/",
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
