"""Settings: every value comes from the environment, with defaults for the embedded set-up.

Embedded default (no configuration): SQLite and media under ./var, Redis on 127.0.0.1:6379,
a Milvus Lite server on 127.0.0.1:19530 started by `make run`.
Production: DATABASE_URL (PostgreSQL), MILVUS_URI / MILVUS_TOKEN (Milvus standalone or cluster),
CELERY_BROKER_URL, DJANGO_SECRET_KEY, DJANGO_DEBUG=0, DJANGO_ALLOWED_HOSTS.
"""

import os
from pathlib import Path

import dj_database_url

from isc_site.env import env_bool, env_float, env_int, env_list, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = env_path("ISC_DATA_DIR", BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env_str("DJANGO_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = env_bool("DJANGO_DEBUG", True)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "search",
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
]

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
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and workers write concurrently; wait for the lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # A file, not memory, so a live Celery worker in the end-to-end tests sees the test database.
    # One file per test run, so two runs on one machine never clobber each other.
    DATABASES["default"]["TEST"] = {"NAME": str(env_path("ISC_TEST_DB", DATA_DIR / f"test-db-{os.getpid()}.sqlite3"))}

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
MEDIA_URL = "media/"
MEDIA_ROOT = env_path("ISC_MEDIA_ROOT", DATA_DIR / "media")

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
CELERY_TASK_ROUTES = {
    "workers.tasks.reference_index": {"queue": "gpu"},
    "workers.tasks.query_search": {"queue": "gpu"},
    "workers.tasks.reindex_*": {"queue": "default"},
    "workers.tasks.ingest_*": {"queue": "default"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULE = {
    # Bulk ingest jobs whose worker died mid-chunk carry on from their cursor.
    "ingest-resume-stale": {"task": "workers.tasks.ingest_resume_stale", "schedule": 300.0},
}

# Copy detection
ISC = {
    "MILVUS_URI": env_str("MILVUS_URI", "http://127.0.0.1:19530"),
    "MILVUS_TOKEN": env_str("MILVUS_TOKEN", ""),
    "DESCRIPTOR": env_str("ISC_DESCRIPTOR", "sscd"),
    "VIT_MODEL": env_str("ISC_VIT_MODEL", str(BASE_DIR / "models" / "isc-vit-s14")),
    # The 'fused' descriptor's weights and per-component projections (`manage.py fusion_fit` writes them).
    "FUSION_DIR": str(env_path("ISC_FUSION_DIR", DATA_DIR / "models" / "fusion")),
    "DEVICE": env_str("ISC_DEVICE", "auto"),
    "SEARCH_TOP_K": env_int("ISC_SEARCH_TOP_K", 20),
    "VERIFY_TOP_K": env_int("ISC_VERIFY_TOP_K", 10),
    # Names from copydetect.query_views: the query and five crops; "grid_50" / "grid_40" add nine crops each.
    "QUERY_VIEWS": env_list(
        "ISC_QUERY_VIEWS", ["full", "centre", "top_left", "top_right", "bottom_left", "bottom_right"]
    ),
    "CALIBRATION_DIR": env_str("ISC_CALIBRATION_DIR", str(BASE_DIR / "copydetect" / "calibration")),
    "DEFAULT_THRESHOLD": env_float("ISC_DEFAULT_THRESHOLD", 0.5),
    "MAX_UPLOAD_BYTES": env_int("ISC_MAX_UPLOAD_BYTES", 50 * 1024 * 1024),
    "MAX_IMAGE_PIXELS": env_int("ISC_MAX_IMAGE_PIXELS", 64_000_000),
    "MAX_ZIP_MEMBERS": env_int("ISC_MAX_ZIP_MEMBERS", 20_000),
    "MAX_ZIP_UNCOMPRESSED_BYTES": env_int("ISC_MAX_ZIP_UNCOMPRESSED_BYTES", 4 * 1024**3),
    "IMPORT_ROOTS": env_list("ISC_IMPORT_ROOTS", [str(DATA_DIR / "import")]),
    "FEATURES_DIR": str(env_path("ISC_FEATURES_DIR", DATA_DIR / "features")),
    "WARM_UP": env_bool("ISC_WARM_UP", True),
    # Bulk ingest (search/ingest.py): stored archives and item lists, decode processes, chunk size.
    "INGEST_DIR": str(env_path("ISC_INGEST_DIR", DATA_DIR / "ingest")),
    "INGEST_PROCESSES": env_int("ISC_INGEST_PROCESSES", os.cpu_count() or 1),
    "INGEST_CHUNK": env_int("ISC_INGEST_CHUNK", 64),
    "INGEST_BATCH_SIZE": env_int("ISC_INGEST_BATCH_SIZE", 32),
    "INGEST_MAX_FILES": env_int("ISC_INGEST_MAX_FILES", 1_000_000),
    # Longer than a chunk's hard time limit (660 s), so a chunk still running never looks stalled.
    "INGEST_STALE_SECONDS": env_int("ISC_INGEST_STALE_SECONDS", 900),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
