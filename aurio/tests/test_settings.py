"""Settings come from the environment; production settings pass `check --deploy`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aurio.env import envbool, envint
from aurio.logs import RedactTokens, redact

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "SECRET_KEY": "k3Jx9-production-like-secret-value-with-plenty-of-entropy-8c1f0e2a",
    "ALLOWED_HOSTS": "aurio.example.com",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_COOKIES": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "EMAIL_HOST": "smtp.example.com",
}


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    clean.update(env, AURIO_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="aurio.settings")
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120
    )


def test_production_settings_pass_the_deploy_check(tmp_path: Path) -> None:
    env = {**PRODUCTION, "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true", "SECURE_HSTS_PRELOAD": "true"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_without_subdomain_and_preload_only_those_two_warnings_remain(tmp_path: Path) -> None:
    """docs/operations.md explains W005 and W021: they are the owner's call, not aurio's."""
    result = manage("check", "--deploy", env=PRODUCTION, tmp_path=tmp_path)
    warnings = sorted(
        line.split(")")[0].split("(")[1] for line in result.stderr.splitlines() if "security.W" in line
    )
    assert warnings == ["security.W005", "security.W021"]


def test_without_an_smtp_server_emails_go_to_the_console_and_the_deploy_check_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_HOST"}
    result = manage("check", "--deploy", env=env, tmp_path=tmp_path)
    assert "aurio.W001" in result.stderr and "not sent" in result.stderr
    shown = manage(
        "shell", "-c", "from django.conf import settings; print(settings.MAILERS)", env=env, tmp_path=tmp_path
    )
    assert "console.EmailBackend" in shown.stdout, shown.stderr
    smtp = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.MAILERS)",
        env=PRODUCTION,
        tmp_path=tmp_path,
    )
    assert "smtp.EmailBackend" in smtp.stdout and "smtp.example.com" in smtp.stdout


def test_missing_secret_key_is_a_loud_error(tmp_path: Path) -> None:
    result = manage("check", env={}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text(PRODUCTION["SECRET_KEY"] + "\n")
    result = manage(
        "check",
        "--deploy",
        env={**PRODUCTION, "SECRET_KEY": "", "SECRET_KEY_FILE": str(secret)},
        tmp_path=tmp_path,
    )
    assert "SECRET_KEY is not set" not in result.stderr
    assert "W009" not in result.stderr


def test_bad_number_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    result = manage("check", env={**PRODUCTION, "AURIO_MAX_UPLOAD_BYTES": "lots"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "AURIO_MAX_UPLOAD_BYTES must be a whole number" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SECURE_COOKIES": "ture"},
            "SECURE_COOKIES must be true or false (true/1/yes/on or false/0/no/off), got 'ture'",
        ),
        ({"DEBUG": "maybe"}, "DEBUG must be true or false (true/1/yes/on or false/0/no/off), got 'maybe'"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be 'json' or 'text', got 'xml'"),
        ({"AURIO_MAX_ATTEMPTS": "0"}, "AURIO_MAX_ATTEMPTS must be at least 1, got '0'"),
        (
            {"AURIO_WORKER_HEARTBEAT_SECONDS": "-1"},
            "AURIO_WORKER_HEARTBEAT_SECONDS must be at least 1, got '-1'",
        ),
        ({"AURIO_MIN_FREE_BYTES": "-5"}, "AURIO_MIN_FREE_BYTES must be at least 0, got '-5'"),
        (
            {"LOG_LEVEL": "loud"},
            "LOG_LEVEL must be one of CRITICAL, DEBUG, ERROR, FATAL, INFO, NOTSET, WARN, WARNING, got 'LOUD'",
        ),
    ],
)
def test_a_value_the_settings_do_not_understand_stops_the_start(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """Never a silent default: SECURE_COOKIES=ture would leave cookies insecure."""
    result = manage("check", env={**PRODUCTION, **env}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *[(spelling, True) for spelling in ("true", "True", "1", "yes", "YES", "on", " On ")],
        *[(spelling, False) for spelling in ("false", "FALSE", "0", "no", "No", "off", "off\n")],
    ],
)
def test_yes_no_variables_take_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("AURIO_TEST_FLAG", value)
    assert envbool("AURIO_TEST_FLAG", "false") is expected
    assert envbool("AURIO_TEST_FLAG", "true") is expected


@pytest.mark.parametrize("level", ["warn", "WARNING", "debug", "Fatal", "NOTSET"])
def test_log_level_takes_any_of_pythons_level_names(tmp_path: Path, level: str) -> None:
    result = manage("check", env={**PRODUCTION, "LOG_LEVEL": level}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-1000:]


def test_an_empty_or_unset_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """`SECURE_COOKIES=` in an env file (or compose's `${VAR:-}`) is no value at all."""
    monkeypatch.setenv("AURIO_TEST_FLAG", " ")
    monkeypatch.setenv("AURIO_TEST_NUMBER", "")
    assert envbool("AURIO_TEST_FLAG", "true") is True
    assert envbool("AURIO_TEST_FLAG", "false") is False
    assert envint("AURIO_TEST_NUMBER", "7") == 7
    monkeypatch.delenv("AURIO_TEST_FLAG")
    assert envbool("AURIO_TEST_FLAG", "true") is True


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Not Found: /r/Q9U5qccPcC1SvV2CMfcA_CnR-sBTPLPG", "Not Found: /r/[token]"),
        (
            '"POST /api/v1/upload/Q9U5qccPcC1SvV2CMfcA_CnR-sBTPLPG HTTP/1.1"',
            '"POST /api/v1/upload/[token] HTTP/1.1"',
        ),
        ("GET /api/v1/videos/3f2a", "GET /api/v1/videos/3f2a"),
    ],
)
def test_tokens_are_redacted_from_log_lines(line: str, expected: str) -> None:
    assert redact(line) == expected


def test_log_filter_redacts_arguments_too() -> None:
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "%s: %s",
        ("Not Found", "/r/abcdefghijklmnopqrstuvwx"),
        None,
    )
    RedactTokens().filter(record)
    assert record.getMessage() == "Not Found: /r/[token]"


def test_every_environment_variable_is_documented_in_env_example() -> None:
    import re

    sources = [
        ROOT / "aurio" / "settings.py",
        ROOT / "gunicorn.conf.py",
        *ROOT.glob("*/management/commands/*.py"),
    ]
    pattern = re.compile(r'(?:env(?:bool|int|list|secret|choice)|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"')
    used = {name for path in sources for name in pattern.findall(path.read_text())}
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert used, "the pattern found no variables; the test is broken"
    assert used <= documented, f"undocumented: {sorted(used - documented)}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AURIO_STORAGE": "ftp"}, "AURIO_STORAGE must be 'local' or 's3'"),
        ({"AURIO_STORAGE": "s3"}, "AURIO_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
    ],
)
def test_storage_choice_is_checked(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = manage("check", env={**PRODUCTION, **env}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr


def test_content_security_policy_allows_the_buckets_origin_for_media(tmp_path: Path) -> None:
    env = {**PRODUCTION, "AURIO_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b"}
    code = "from django.conf import settings; print(settings.SECURE_CSP['media-src'][-1])"
    for endpoint, origin in (("http://minio:9000/", "http://minio:9000"), ("", "https://*.amazonaws.com")):
        result = manage("shell", "-c", code, env={**env, "AWS_S3_ENDPOINT_URL": endpoint}, tmp_path=tmp_path)
        assert result.stdout.strip().splitlines()[-1] == origin, result.stderr
    local = manage("shell", "-c", code, env=PRODUCTION, tmp_path=tmp_path)
    assert local.stdout.strip().splitlines()[-1] == "blob:"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ACCESS_LOG": "ture"}, "ACCESS_LOG must be true or false"),
        ({"WEB_THREADS": "eight"}, "WEB_THREADS must be a whole number, got 'eight'"),
        ({"WEB_IDLE_TIMEOUT": "30s"}, "WEB_IDLE_TIMEOUT must be a number, got '30s'"),
        ({"WEB_IDLE_TIMEOUT": "nan"}, "WEB_IDLE_TIMEOUT must be a number of at least 0.1, got 'nan'"),
        ({"WEB_IDLE_TIMEOUT": "0"}, "WEB_IDLE_TIMEOUT must be a number of at least 0.1, got '0'"),
        ({"WEB_THREADS": "0"}, "WEB_THREADS must be at least 1, got '0'"),
        ({"WEB_MIN_UPLOAD_RATE": "-5"}, "WEB_MIN_UPLOAD_RATE must be a number of at least 0, got '-5'"),
    ],
)
def test_gunicorns_settings_refuse_what_they_do_not_understand(env: dict[str, str], message: str) -> None:
    """gunicorn.conf.py reads the environment with the same helpers: ACCESS_LOG=yes
    used to turn access logs off without a word."""
    check = [str(Path(sys.executable).with_name("gunicorn")), "--check-config", "-c", "gunicorn.conf.py"]
    base = {**os.environ, "SECRET_KEY": "gunicorn-check"}
    refused = subprocess.run(
        [*check, "aurio.wsgi"], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0
    assert message in refused.stderr
    accepted = subprocess.run(
        [*check, "aurio.wsgi"],
        cwd=ROOT,
        env={**base, "ACCESS_LOG": "yes"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert accepted.returncode == 0, accepted.stderr[-1000:]
