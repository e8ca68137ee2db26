"""Keep candidate tokens out of logs: links carry them in the path."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger

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


class RedactingGunicornLogger(Logger):
    """gunicorn's access log, with tokens in request paths replaced."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
