"""aurio's own `check --deploy` warnings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.compatibility, deploy=True)
def email_is_sent(app_configs: Any, **kwargs: Any) -> list[Warning]:
    """A deployment whose emails only reach the console sends no invitation at all."""
    backend = str(settings.MAILERS["default"]["BACKEND"])
    if backend.endswith((".console.EmailBackend", ".locmem.EmailBackend", ".dummy.EmailBackend")):
        return [
            Warning(
                "Emails are printed on the console, not sent: candidates get no invitation or reminder.",
                hint="Set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS).",
                id="aurio.W001",
            )
        ]
    return []
