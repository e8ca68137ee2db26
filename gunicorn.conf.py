"""gunicorn for aurio: gthread workers, so a long upload or stream never trips
the worker timeout (sync workers are killed mid-request)."""

import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
timeout = 120
graceful_timeout = 30
# sendfile(2) stays on (gunicorn's default): see videos/streaming.py. Setting
# `sendfile` here at all, even to True, turns it off.
accesslog = "-" if os.environ.get("ACCESS_LOG", "true").lower() == "true" else None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'
# Candidate links carry their token in the path: the logger redacts it.
logger_class = "aurio.logs.RedactingGunicornLogger"
