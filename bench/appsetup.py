"""Django-side set-up for the benchmarks, run in a subprocess with the bench's
environment: a superuser with an API token, and fresh invites.

Prints one JSON line: {"username", "key", "invites": [token, ...]}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from aurio.models import ApiToken
    from invites.services import invite_create

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    user_model = get_user_model()
    user = user_model.objects.filter(username="bench").first()
    if user is None:
        user = user_model.objects.create_superuser("bench", "bench@example.invalid", None)
    key = ApiToken.issue(user)[1]
    invites = [
        invite_create(email=f"candidate{i}@example.invalid", name=f"Bench {i}", created_by=user).token
        for i in range(count)
    ]
    print(json.dumps({"username": user.get_username(), "key": key, "invites": invites}))


if __name__ == "__main__":
    main()
