"""aurio settings: everything a deployment changes comes from the environment.

Defaults are safe for a laptop (SQLite and local files under ``data/``). With
``DEBUG`` off, a missing ``SECRET_KEY`` is an error, never a silent default.
Every variable is documented in ``.env.example``. An empty variable means its
default; a value the helpers below don't understand (``SECURE_COOKIES=ture``)
stops the start with an ImproperlyConfigured that names the variable.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from aurio.env import envbool, envchoice, envint, envlist, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = envbool("DEBUG", "false")
DATA_DIR = Path(os.environ.get("AURIO_DATA_DIR", BASE_DIR / "data"))
DATA_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = envsecret("SECRET_KEY")
if not SECRET_KEY and (DATA_DIR / "secret-key").exists():
    # Written by `make run` on first start, so manage.py works on that machine as is.
    SECRET_KEY = (DATA_DIR / "secret-key").read_text().strip()
if not SECRET_KEY:
    if not DEBUG and not envbool("AURIO_DEV_DEFAULTS", "false"):
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it (or SECRET_KEY_FILE) in the environment, "
            "or run `make run` once to generate data/secret-key, "
            "or set DEBUG=true / AURIO_DEV_DEFAULTS=true on a development machine."
        )
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"

# Invite links are derived from this key; rotating it invalidates every link
# (recruiters then use "Issue new links" in the admin).
INVITE_TOKEN_KEY = envsecret("INVITE_TOKEN_KEY") or SECRET_KEY

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "ninja",
    "aurio",
    "interviews",
    "invites",
    "videos",
    "uploads",
    "audit",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so that even answers refused before the view (a bad Host header) carry them.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "aurio.middleware.RequestIdMiddleware",
    "aurio.metrics.ErrorCountingMiddleware",
    "aurio.middleware.DatabaseUnavailableMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "aurio.urls"
WSGI_APPLICATION = "aurio.wsgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'aurio.sqlite3'}"
DATABASE_IS_MONGO = DATABASE_URL.startswith(("mongodb://", "mongodb+srv://"))
if DATABASE_IS_MONGO:
    # django-mongodb-backend: the database name comes from the URL's path.
    DATABASES: dict[str, Any] = {
        "default": {"ENGINE": "django_mongodb_backend", "HOST": DATABASE_URL, "NAME": ""}
    }
    DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
    INSTALLED_APPS = [
        {
            "django.contrib.admin": "aurio.mongo.MongoAdminConfig",
            "django.contrib.auth": "aurio.mongo.MongoAuthConfig",
            "django.contrib.contenttypes": "aurio.mongo.MongoContentTypesConfig",
        }.get(app, app)
        for app in INSTALLED_APPS
    ]
    MIGRATION_MODULES = {app: f"aurio.mongo_migrations.{app}" for app in ("admin", "auth", "contenttypes")}
    # django-tasks-db's check constraint on its result table can't exist on
    # MongoDB (docs/architecture.md recommends the Redis queue there).
    SILENCED_SYSTEM_CHECKS = ["models.W027"]
else:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DATABASE_CONN_MAX_AGE", "0"))
    }
    DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        # Web threads, the worker and the sweep all write: transactions take the
        # write lock when they begin (no "database is locked" on upgrading a read),
        # wait for it (AURIO_SQLITE_TIMEOUT, 20 s), and readers don't block the writer (WAL).
        DATABASES["default"]["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": envint("AURIO_SQLITE_TIMEOUT", "20"),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }

# Media storage. "local": a private folder (nothing can build a public link to
# a video). "s3": a private S3 or S3-compatible bucket; playback redirects to
# short-lived presigned URLs. AURIO_STORAGE picks which one is "default";
# both stay addressable by name for `manage.py copy_media --from local --to s3`.
_LOCAL_MEDIA = {
    "BACKEND": "aurio.storage.PrivateFileSystemStorage",
    "OPTIONS": {"location": DATA_DIR / "media"},
}
_S3_MEDIA = {
    "BACKEND": "aurio.s3.PrivateS3Storage",
    "OPTIONS": {
        "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", ""),
        "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
        "access_key": envsecret("AWS_ACCESS_KEY_ID") or None,
        "secret_key": envsecret("AWS_SECRET_ACCESS_KEY") or None,
        "default_acl": None,  # the bucket's own (private) policy
        "querystring_auth": True,
        "querystring_expire": envint("AWS_QUERYSTRING_EXPIRE", "300", minimum=1),
        "file_overwrite": False,
        "signature_version": "s3v4",
        "addressing_style": os.environ.get("AWS_S3_ADDRESSING_STYLE") or None,
        "object_parameters": (
            {"ServerSideEncryption": os.environ["AWS_S3_SERVER_SIDE_ENCRYPTION"]}
            if os.environ.get("AWS_S3_SERVER_SIDE_ENCRYPTION")
            else {}
        ),
    },
}
AURIO_STORAGE = envchoice("AURIO_STORAGE", "local", ("local", "s3"))
if AURIO_STORAGE == "s3" and not _S3_MEDIA["OPTIONS"]["bucket_name"]:  # type: ignore[index]
    raise ImproperlyConfigured("AURIO_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
STORAGES = {
    "default": _S3_MEDIA if AURIO_STORAGE == "s3" else _LOCAL_MEDIA,
    "local": _LOCAL_MEDIA,
    **({"s3": _S3_MEDIA} if _S3_MEDIA["OPTIONS"]["bucket_name"] else {}),  # type: ignore[index]
    "staticfiles": {
        "BACKEND": "aurio.storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
# Where uploads are spooled and assembled and processing works. By default a
# folder inside the local media folder: storing a file is then a rename on the
# same filesystem, never a copy a full disk could cut short.
FILE_UPLOAD_TEMP_DIR = os.environ.get("FILE_UPLOAD_TEMP_DIR") or (
    str(_LOCAL_MEDIA["OPTIONS"]["location"] / ".tmp") if AURIO_STORAGE == "local" else None  # type: ignore[index,operator]
)
if FILE_UPLOAD_TEMP_DIR:
    os.makedirs(FILE_UPLOAD_TEMP_DIR, mode=0o700, exist_ok=True)
# Uploads above this are spooled to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

LOGIN_URL = "admin:login"
# Staff passwords guard every recording: Django's four standard checks, with 12
# characters at least. They apply to the admin's forms, `createsuperuser` on a
# terminal and `manage.py ensure_recruiter` (AURIO_ADMIN_PASSWORD too).
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- aurio's own limits -----------------------------------------------------
AURIO_MAX_UPLOAD_BYTES = envint("AURIO_MAX_UPLOAD_BYTES", str(500 * 1024 * 1024), minimum=1)
# /healthz fails when local media's filesystem has fewer bytes free: room for
# the largest upload twice (its chunks and the file assembled from them sit side
# by side until the chunks are deleted). S3 storage is not checked.
AURIO_MIN_FREE_BYTES = (
    envint("AURIO_MIN_FREE_BYTES", "0")
    if os.environ.get("AURIO_MIN_FREE_BYTES")
    else 2 * AURIO_MAX_UPLOAD_BYTES
)
AURIO_MAX_DURATION_SECONDS = envint("AURIO_MAX_DURATION_SECONDS", "120", minimum=1)
# Recorders overshoot a little when they stop at the limit.
AURIO_DURATION_TOLERANCE_SECONDS = envint("AURIO_DURATION_TOLERANCE_SECONDS", "3")
# Budgets checked at upload, before anything decodes a picture: the largest
# picture in pixels (either way up; default 4K) and the highest frame rate.
AURIO_MAX_VIDEO_PIXELS = envint("AURIO_MAX_VIDEO_PIXELS", str(3840 * 2160), minimum=1)
AURIO_MAX_FRAME_RATE = envint("AURIO_MAX_FRAME_RATE", "120", minimum=1)
AURIO_INVITE_DAYS = envint("AURIO_INVITE_DAYS", "14", minimum=1)
# How many takes a candidate may start on one invite (the server counts them).
AURIO_MAX_ATTEMPTS = envint("AURIO_MAX_ATTEMPTS", "3", minimum=1)
# Resumable (tus) uploads not finished within this many hours are discarded.
AURIO_UPLOAD_EXPIRY_HOURS = envint("AURIO_UPLOAD_EXPIRY_HOURS", "24", minimum=1)
# One tus PATCH carries at least this many bytes, except the last of an upload
# (one-byte PATCHes would each cost a stored file and a row), and at most this many.
AURIO_MIN_CHUNK_BYTES = envint("AURIO_MIN_CHUNK_BYTES", "65536")
AURIO_MAX_CHUNK_BYTES = envint("AURIO_MAX_CHUNK_BYTES", str(8 * 1024 * 1024), minimum=1)
# Request bodies read at once by one web process (aurio/slots.py), in all and for
# one invite link: beyond them candidates get 503 or 429 with Retry-After (their page
# retries), so uploads can never take every thread from pages and playback.
AURIO_MAX_UPLOADS_PER_PROCESS = envint("AURIO_MAX_UPLOADS_PER_PROCESS", "6", minimum=1)
AURIO_MAX_UPLOADS_PER_LINK = envint("AURIO_MAX_UPLOADS_PER_LINK", "2", minimum=1)

# --- Background tasks (video processing) -------------------------------------
# The queue backend's class. The default keeps tasks in the database and runs
# them with `manage.py db_worker`; for workers on several machines, use the
# Redis queue: TASKS_BACKEND=aurio.tasks_redis.RedisBackend, run by
# `python -m aurio.tasks_redis` (see that module for its OPTIONS, JSON below).
try:
    _TASKS_OPTIONS = json.loads(os.environ.get("TASKS_OPTIONS") or "{}")
except ValueError:
    _TASKS_OPTIONS = None
if not isinstance(_TASKS_OPTIONS, dict):
    raise ImproperlyConfigured('TASKS_OPTIONS must be a JSON object, e.g. {"url": "redis://..."}')
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "OPTIONS": _TASKS_OPTIONS,
    }
}
# The Redis server of the Redis queue, unless TASKS_OPTIONS gives a "url".
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
# A run that shows no sign of life for this long is taken to have died and is started again.
AURIO_PROCESSING_LEASE_SECONDS = envint("AURIO_PROCESSING_LEASE_SECONDS", "300", minimum=1)
# Runs allowed per video before it is marked failed (crashes and killed workers count).
AURIO_PROCESSING_TRIES = envint("AURIO_PROCESSING_TRIES", "3", minimum=1)
# How often `manage.py process_videos --stuck --every` looks for videos to restart.
AURIO_PROCESSING_SWEEP_SECONDS = envint("AURIO_PROCESSING_SWEEP_SECONDS", "60", minimum=1)
# Each take is transcoded in a child process held to this much address space
# (MB) and this much time (seconds); one that needs more fails alone, with a reason.
AURIO_PROCESSING_MEMORY_MB = envint("AURIO_PROCESSING_MEMORY_MB", "2048", minimum=1)
AURIO_PROCESSING_TIMEOUT_SECONDS = envint("AURIO_PROCESSING_TIMEOUT_SECONDS", "900", minimum=1)
# Workers write a heartbeat this often; /healthz fails when tasks have waited
# six beats (a minute by default) and no worker has beaten for as long.
AURIO_WORKER_HEARTBEAT_SECONDS = envint("AURIO_WORKER_HEARTBEAT_SECONDS", "10", minimum=1)

# --- Cache (rate-limit counters, shared by every process) ---------------------
# Redis when CACHE_URL (or REDIS_URL) is set; else the database's cache table,
# made by aurio's migration 0002. MongoDB has no cache table: there set
# CACHE_URL, or the counters are per process (local memory).
_CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL") or ""
if _CACHE_URL:
    if not _CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(f"CACHE_URL must be a redis:// or rediss:// URL, got {_CACHE_URL!r}")
    CACHES: dict[str, Any] = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _CACHE_URL,
            "KEY_PREFIX": "aurio",
        }
    }
elif DATABASE_IS_MONGO:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "aurio_cache",
            # The database cache's incr() resets a key's expiry to this; it must
            # outlast the longest rate-limit window (15 minutes).
            "TIMEOUT": 3600,
            # Culling drops entries in bulk; room for many addresses first.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- API --------------------------------------------------------------------
CORS_ALLOWED_ORIGINS = envlist("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/v1/.*$"
_TUS_HEADERS = ("tus-resumable", "upload-length", "upload-offset", "upload-metadata", "upload-checksum")
CORS_ALLOW_HEADERS = ("authorization", "content-type", "range", "if-range", *_TUS_HEADERS)
CORS_ALLOW_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST")
CORS_EXPOSE_HEADERS = (
    "content-range",
    "accept-ranges",
    "content-length",
    "etag",
    "location",
    "upload-expires",
    "tus-version",
    "tus-extension",
    "tus-max-size",
    "tus-checksum-algorithm",
    *_TUS_HEADERS,
)

# --- Security ---------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "false")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = envbool("SECURE_COOKIES", "false")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", "false")
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
if envbool("USE_X_FORWARDED_PROTO", "false"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# The client's address (aurio/clients.py), which rate limits and the login lockout count by.
# Behind a proxy that sets X-Forwarded-For, USE_X_FORWARDED_FOR=true takes the
# address from that header (never without such a proxy: clients could pick any address).
USE_X_FORWARDED_FOR = envbool("USE_X_FORWARDED_FOR", "false")
# How many proxies in front of aurio append to X-Forwarded-For (nginx alone: 1;
# a CDN and then a load balancer: 2). The client is the entry that many from the right.
AURIO_TRUSTED_PROXIES = envint("AURIO_TRUSTED_PROXIES", "1", minimum=1)
# Rate limits per client address on the candidate endpoints (aurio/ratelimit.py).
# Unknown-link answers (404) allowed per address per 10 minutes before every candidate endpoint says 429.
AURIO_RATE_LIMIT_BAD_TOKENS = envint("AURIO_RATE_LIMIT_BAD_TOKENS", "20", minimum=1)
AURIO_RATE_LIMIT_BAD_TOKENS_WINDOW = 600
# Requests per address per minute on candidate pages and API; the tus endpoints
# (one PATCH per 5 MiB chunk) have their own, looser cap.
AURIO_RATE_LIMIT_REQUESTS = envint("AURIO_RATE_LIMIT_REQUESTS", "600", minimum=1)
AURIO_RATE_LIMIT_TUS_REQUESTS = envint("AURIO_RATE_LIMIT_TUS_REQUESTS", "3000", minimum=1)
# Staff login (aurio/lockout.py): after this many failures for one username from
# one address within 15 minutes, that username is refused from that address for 15 minutes.
AURIO_LOGIN_FAILURES = envint("AURIO_LOGIN_FAILURES", "5", minimum=1)
AURIO_LOGIN_WINDOW = 15 * 60
AURIO_LOGIN_LOCKOUT_SECONDS = 15 * 60

# With S3, the player and posters follow redirects to presigned URLs on the
# bucket's origin, which the policy must allow for media and images.
if AURIO_STORAGE == "s3":
    _endpoint = os.environ.get("AWS_S3_ENDPOINT_URL", "")
    _MEDIA_ORIGINS = ["/".join(_endpoint.split("/")[:3])] if _endpoint else ["https://*.amazonaws.com"]
else:
    _MEDIA_ORIGINS = []

# No inline script anywhere: every page's JavaScript is a static file.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:", *_MEDIA_ORIGINS],
    "media-src": [CSP.SELF, "blob:", *_MEDIA_ORIGINS],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Email (invitations and reminders, from the admin or `manage.py send_invites`) ---
# Sent by SMTP once EMAIL_HOST names a server; until then printed on the console
# (`make run` shows them in its output), and `check --deploy` warns that nothing is
# sent (aurio.checks). Django 6.1's MAILERS replaces the deprecated EMAIL_* settings
# (which may not be set beside it); the environment variables keep their familiar names.
_EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    f"django.core.mail.backends.{'smtp' if os.environ.get('EMAIL_HOST') else 'console'}.EmailBackend"
)
_SMTP_OPTIONS = {
    "host": os.environ.get("EMAIL_HOST", "localhost"),
    "port": envint("EMAIL_PORT", "25", minimum=1),
    "username": os.environ.get("EMAIL_HOST_USER", ""),
    "password": envsecret("EMAIL_HOST_PASSWORD"),
    "use_tls": envbool("EMAIL_USE_TLS", "false"),
    "timeout": 30,
}
MAILERS = {
    "default": {
        "BACKEND": _EMAIL_BACKEND,
        "OPTIONS": _SMTP_OPTIONS if _EMAIL_BACKEND.endswith(".smtp.EmailBackend") else {},
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "aurio <aurio@localhost>")

# --- Logs and metrics ---------------------------------------------------------
# One JSON object per line for a log collector, or text for a terminal. Every
# line carries the request id (X-Request-ID) and has candidate tokens redacted.
# Any of Python's level names, in any case (WARN and FATAL are its aliases).
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in logging.getLevelNamesMapping():
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be one of {', '.join(sorted(logging.getLevelNamesMapping()))}, got {LOG_LEVEL!r}"
    )
LOG_FORMAT = envchoice("LOG_FORMAT", "text" if DEBUG else "json", ("json", "text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "aurio.logs.RedactTokens"},
        "request_id": {"()": "aurio.logs.RequestId"},
    },
    "formatters": {
        "json": {"()": "aurio.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["redact_tokens", "request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {
        "handlers": ["console"],
        "level": LOG_LEVEL,
    },
}
# Who may read /metrics: a direct request from these addresses or networks, or
# a request with "Authorization: Bearer $METRICS_TOKEN" (behind a proxy, use the token).
METRICS_ALLOWED_IPS = envlist("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
for _allowed in METRICS_ALLOWED_IPS:
    try:
        ipaddress.ip_network(_allowed, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_IPS: {_allowed!r} is not an address or network"
        ) from None
METRICS_TOKEN = envsecret("METRICS_TOKEN")

# Where /metrics and `manage.py summary` get their numbers: each app provides its
# own (aurio names the apps only here, as dotted strings).
AURIO_METRICS = [
    "invites.metrics.invite_metrics",
    "videos.metrics.video_metrics",
    "uploads.metrics.upload_metrics",
    "aurio.metrics.task_metrics",
    "aurio.metrics.error_metrics",
]
# What the sweep (`manage.py process_videos --stuck --every`) also runs, besides
# queueing stuck videos again and removing stale temporary files: each a
# function of no arguments returning the lines to print.
AURIO_SWEEP_STEPS = ["uploads.services.sweep_expired_uploads"]
