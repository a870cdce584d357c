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
    "axes",
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
                "search.context_processors.site_flags",
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
# Never served directly: search.views.image_file checks team membership first (see ISC MEDIA_ACCEL_PREFIX).
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
CELERY_TASK_ROUTES = {
    "workers.tasks.reference_index": {"queue": "gpu"},
    "workers.tasks.query_search": {"queue": "gpu"},
    "workers.tasks.reindex_*": {"queue": "default"},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}

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
    # Review: how long an opened item stays claimed by its moderator.
    "REVIEW_CLAIM_SECONDS": env_int("ISC_REVIEW_CLAIM_SECONDS", 600),
    # Two queries are near-identical (re-posts of one picture) when their whole-image descriptors have at least
    # this cosine similarity; search/verdicts.py quotes the measurement (scripts/bench_near_identical.py).
    "NEAR_DUPLICATE_SIMILARITY": env_float("ISC_NEAR_DUPLICATE_SIMILARITY", 0.90),
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
    # Off: accounts come from team admins (members page, invite links). On: anyone may sign up and gets a
    # team of their own.
    "OPEN_SIGNUP": env_bool("ISC_OPEN_SIGNUP", False),
    # e.g. "/protected/": image responses carry X-Accel-Redirect to <prefix><path under MEDIA_ROOT> and
    # nginx sends the file from an `internal` location (deploy/nginx.conf). Empty: Django streams the file.
    "MEDIA_ACCEL_PREFIX": env_str("ISC_MEDIA_ACCEL_PREFIX", ""),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
