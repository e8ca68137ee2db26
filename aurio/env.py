"""Reading settings from the environment: each helper refuses a value it
doesn't understand, naming the variable, rather than falling back to a default
without a word. Used by aurio.settings and gunicorn.conf.py (so nothing here
needs Django's settings)."""

from __future__ import annotations

import math
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

# Spellings of a yes/no variable, compared case-insensitively.
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def envstr(name: str, default: str) -> str:
    """NAME's value; unset or empty (`NAME=` in an env file) means the default."""
    return os.environ.get(name, "").strip() or default


def envbool(name: str, default: str) -> bool:
    value = envstr(name, default)
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be true or false ({'/'.join(_TRUE)} or {'/'.join(_FALSE)}), got {value!r}"
    )


def envint(name: str, default: str, *, minimum: int = 0) -> int:
    """A whole number, at least `minimum` (no setting of aurio's takes a negative one)."""
    value = envstr(name, default)
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value!r}")
    return number


def envfloat(name: str, default: str, *, minimum: float = 0.0) -> float:
    """A finite number, at least `minimum`."""
    value = envstr(name, default)
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < minimum:
        raise ImproperlyConfigured(f"{name} must be a number of at least {minimum:g}, got {value!r}")
    return number


def envchoice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = envstr(name, default)
    if value not in choices:
        named = ", ".join(repr(choice) for choice in choices[:-1])
        raise ImproperlyConfigured(f"{name} must be {named} or {choices[-1]!r}, got {value!r}")
    return value


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envsecret(name: str, default: str = "") -> str:
    """Read NAME, or the contents of the file named by NAME_FILE (Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)
