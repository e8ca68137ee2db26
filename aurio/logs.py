"""aurio's log lines: tokens redacted, a request id on each, JSON in production.

Candidate links carry their token in the path, so every handler redacts it.
`LOG_FORMAT=json` (the default unless DEBUG) writes one JSON object per line
for a log collector; `text` is for people reading a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

from gunicorn.glogging import Logger

from aurio.middleware import current_request_id

_TOKEN_IN_PATH = re.compile(r"(/(?:r|upload|uploads|tus|invites)/)[A-Za-z0-9_-]{16,}")


def redact(text: str) -> str:
    return _TOKEN_IN_PATH.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """For Django's loggers: 'Not Found: /r/<token>' must not leak the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
        return True


class RequestId(logging.Filter):
    """Adds `request_id`: the current request's (aurio.middleware), "-" outside a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id[, exc_info, stack_info]."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", current_request_id.get()),
        }
        if record.exc_info:
            # A traceback can quote a URL; it gets the same redaction as the message.
            line["exc_info"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack_info"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, default=str)


class RedactingGunicornLogger(Logger):
    """gunicorn's access log, with tokens in request paths replaced and the request id
    (the response's X-Request-ID header) at the end of each line."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        # Every text atom: the request line and path, but also headers ({referer}i)
        # and environ values ({raw_uri}e) that a custom access_log_format may use.
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        # gunicorn's own access(), with the request id added unless the format has it.
        if not self.access_log_enabled:
            return
        fmt = self.cfg.access_log_format
        if "{x-request-id}o" not in fmt.lower():
            fmt += " %({x-request-id}o)s"
        atoms = self.atoms_wrapper_class(self.atoms(resp, req, environ, request_time))
        try:
            self.access_log.info(fmt, atoms)
        except Exception:
            self.error(traceback.format_exc())
