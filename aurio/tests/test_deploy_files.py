"""The Dockerfile and docker-compose.yml. No Docker engine runs on our
machines, so these check what can be checked without one: the compose file
validates (`docker-compose config`, Debian's package) and wires the services
docs/operations.md promises; the image runs as a non-root user with a health check."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.ci import in_ci

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    COMPOSE is None and not in_ci(),
    reason="docker-compose is not installed (scripts/install-test-deps)",
)


def compose(*args: str, secret: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    if secret:
        env["SECRET_KEY"] = "compose-validation-only"
    return subprocess.run(
        [COMPOSE or "docker-compose", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


@needs_compose
def test_compose_file_is_valid() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


@needs_compose
def test_compose_refuses_to_start_without_a_secret_key() -> None:
    result = compose("config", "-q", secret=False)
    assert result.returncode != 0
    assert "set SECRET_KEY in .env" in result.stderr


@needs_compose
@pytest.mark.parametrize(
    ("profile", "services"),
    [
        (None, {"nginx", "web", "worker", "sweep", "postgres", "redis"}),
        ("s3", {"minio", "minio-bucket"}),
        ("mongo", {"mongo", "mongo-express"}),
    ],
)
def test_compose_profiles_start_the_promised_services(profile: str | None, services: set[str]) -> None:
    result = compose("config")  # the file as compose resolves it
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    in_profile = {name for name, spec in resolved.items() if (spec.get("profiles") or [None])[0] == profile}
    assert in_profile == services


@needs_compose
def test_app_services_share_one_image_and_configuration() -> None:
    resolved = yaml.safe_load(compose("config").stdout)["services"]
    for name in ("web", "worker", "sweep"):
        assert resolved[name]["image"] == "aurio:latest"
        assert resolved[name]["environment"]["DATABASE_URL"].startswith("postgres://")
    assert resolved["web"]["environment"]["BIND"] == "0.0.0.0:8000"


@needs_compose
def test_only_nginx_is_published_and_gunicorn_stays_on_the_internal_network() -> None:
    resolved = yaml.safe_load(compose("config").stdout)["services"]
    published = {name for name, spec in resolved.items() if spec.get("ports") and not spec.get("profiles")}
    assert published == {"nginx"}
    assert [(p["target"], str(p["published"])) for p in resolved["nginx"]["ports"]] == [(8000, "8000")]
    # docker-compose 1.x writes a volume as "source:target:mode", Compose v2 as a mapping.
    volumes = [
        (v.split(":")[0], v.split(":")[1]) if isinstance(v, str) else (v["source"], v["target"])
        for v in resolved["nginx"]["volumes"]
    ]
    assert (str(ROOT / "deploy" / "nginx" / "aurio.conf"), "/etc/nginx/conf.d/default.conf") in volumes
    web = resolved["web"]["environment"]
    assert web["USE_X_FORWARDED_FOR"] == "true" and web["AURIO_TRUSTED_PROXIES"] == "1"


def test_the_nginx_config_bounds_slow_clients_and_streams_uploads() -> None:
    conf = (ROOT / "deploy" / "nginx" / "aurio.conf").read_text()
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout"):
        assert f"\n    {directive} " in conf
    assert "server web:8000;" in conf and "listen 8000;" in conf
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in conf
    for path in ("/api/v1/tus/", "/api/v1/upload/"):
        block = conf.split(f"location ^~ {path} {{", 1)[1].split("}", 1)[0]
        assert "proxy_request_buffering off;" in block and "client_max_body_size 0;" in block


def test_image_runs_gunicorn_as_a_non_root_user_with_a_health_check() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert "USER aurio" in lines
    assert lines.index("USER aurio") < next(i for i, line in enumerate(lines) if line.startswith("CMD "))
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert "/healthz" in dockerfile
    assert 'CMD ["gunicorn", "-c", "gunicorn.conf.py", "aurio.wsgi"]' in lines
    assert "collectstatic" in dockerfile  # whitenoise serves what the build collected
