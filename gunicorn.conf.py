"""gunicorn for aurio: gthread workers, so a long upload or stream never trips
the worker timeout (sync workers are killed mid-request)."""

import os

from aurio.env import envbool, envfloat, envint
from aurio.slowclients import SlowClientLimits

bind = os.environ.get("BIND", "127.0.0.1:8000")
worker_class = "gthread"
workers = envint("WEB_CONCURRENCY", "2", minimum=1)
threads = envint("WEB_THREADS", "8", minimum=1)
timeout = 120
graceful_timeout = 30
# sendfile(2) stays on (gunicorn's default): see videos/streaming.py. Setting
# `sendfile` here at all, even to True, turns it off.
accesslog = "-" if envbool("ACCESS_LOG", "true") else None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(L)ss'
# Candidate links carry their token in the path: the logger redacts it.
logger_class = "aurio.logs.RedactingGunicornLogger"

# A client that stops sending (a stalled upload) or reading (a stalled
# download), or sends its body a byte at a time, would otherwise hold its
# thread for ever: gthread workers have no per-request timeout. See
# aurio/slowclients.py; the upload view answers 408 to a stalled chunk and the
# page resumes from the last whole chunk.
_limits = SlowClientLimits(
    idle=envfloat("WEB_IDLE_TIMEOUT", "30", minimum=0.1),
    min_rate=envfloat("WEB_MIN_UPLOAD_RATE", "2048"),
)
pre_request = _limits.pre_request
post_request = _limits.post_request
