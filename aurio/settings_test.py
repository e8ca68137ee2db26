"""Settings for the test suite: the real settings, with a throwaway data folder."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdefghijklmnop")
os.environ.setdefault("AURIO_DATA_DIR", tempfile.mkdtemp(prefix="aurio-test-"))

from aurio.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
# The hashed-manifest storage needs `collectstatic` first; tests serve from the source folders.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
# The suite makes many requests from 127.0.0.1: limits far above it. The real
# defaults are exercised with override_settings in aurio/tests/test_ratelimit.py.
AURIO_RATE_LIMIT_BAD_TOKENS = 100_000
AURIO_RATE_LIMIT_REQUESTS = 100_000
AURIO_RATE_LIMIT_TUS_REQUESTS = 100_000
AURIO_LOGIN_FAILURES = 100_000
# Protocol tests send parts of a few bytes; the real minimum (64 KiB) is
# exercised with override_settings in uploads/tests/test_chunk_bounds.py.
AURIO_MIN_CHUNK_BYTES = 1

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: the live server's threads then each have their own
    # connection, as in a real deployment. An in-memory test database is one
    # connection shared by every thread, whose transactions interleave, so one
    # request's rollback could undo another's rows.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ["AURIO_DATA_DIR"], "test.sqlite3")}  # noqa: F405
