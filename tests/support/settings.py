"""Settings of aurio when the tests run it under gunicorn (tests/support/server.py):
the real settings, with static files served from the source folders (the tests
run no `collectstatic`, and the hashed-manifest storage needs it for every page)."""

from aurio.settings import *  # noqa: F403

STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
