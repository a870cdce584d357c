"""`manage.py check --deploy` with the production environment of docker-compose.yml."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL", "ISC_"))}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS="isc.example.org",
        DJANGO_CSRF_TRUSTED_ORIGINS="https://isc.example.org",
        # `check --deploy` does not connect; the host need not exist.
        DATABASE_URL=f"postgres://isc:{secrets.token_urlsafe(16)}@postgres:5432/isc",
        ISC_DATA_DIR=str(tmp_path),
    )
    env.update(overrides)
    return env


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_environment_passes_check_deploy_without_warnings(tmp_path):
    result = deploy_check(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_with_the_built_in_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = deploy_check(env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_a_default_database_password_is_a_deploy_warning(tmp_path):
    result = deploy_check(production_env(tmp_path, DATABASE_URL="postgres://isc:isc@postgres:5432/isc"))
    assert result.returncode != 0
    assert "isc.W001" in result.stdout + result.stderr


def test_the_https_settings_can_be_relaxed_one_by_one(tmp_path):
    result = deploy_check(production_env(tmp_path, DJANGO_SECURE_HSTS_PRELOAD="0"))
    assert result.returncode != 0
    assert "security.W021" in result.stdout + result.stderr
