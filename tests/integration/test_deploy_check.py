"""Production settings: `check --deploy` is clean, and the security headers are really sent.

Both run in a fresh process with the variables production sets (DEBUG off, a real
SECRET_KEY, SECURE_SSL=1 behind the TLS proxy), because settings are read at start-up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
# As `python -c "import secrets; print(secrets.token_urlsafe(50))"` makes: 50+ characters.
PRODUCTION_KEY = "k3#Vq8!zR2@mW7^pL5&xN9*cT1(hB4)yF6_dJ0+sGe8Ua2Xi7Ko3Zr5Qw9Pn1Ld4"
HOST = "crm.example.com"

HEADERS_SCRIPT = """
import json, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client(HTTP_HOST="crm.example.com")
plain = client.get("/login/")
secure = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = secure.cookies.get("csrftoken")
print(json.dumps({
    "plain_status": plain.status_code,
    "plain_location": plain.get("Location", ""),
    "status": secure.status_code,
    "headers": dict(secure.headers),
    "csrf_cookie_secure": bool(cookie and cookie["secure"]),
}))
"""


def production_env(tmp_path: Path) -> dict[str, str]:
    # A clean environment, so the developer's or CI's own variables cannot mask a failure.
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "followup.settings",
        "DEBUG": "0",
        "SECRET_KEY": PRODUCTION_KEY,
        "SECURE_SSL": "1",
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_when_tls_is_off_so_the_test_above_proves_something(tmp_path):
    env = {**production_env(tmp_path), "SECURE_SSL": "0"}

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout  # no HSTS


@pytest.fixture(scope="module")
def production_answer(tmp_path_factory) -> dict:
    env = production_env(tmp_path_factory.mktemp("headers"))
    # The manifest storage of DEBUG off needs collected files: our own, in a temporary
    # directory, so the answer depends on no other test or earlier `make run`.
    env["STATIC_ROOT"] = str(tmp_path_factory.mktemp("static"))
    collected = run(["manage.py", "collectstatic", "--noinput", "--verbosity", "0"], env)
    assert collected.returncode == 0, collected.stderr
    result = run(["-c", HEADERS_SCRIPT], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_plain_http_is_redirected_to_https(production_answer):
    assert production_answer["plain_status"] == 301
    assert production_answer["plain_location"] == f"https://{HOST}/login/"


def test_https_answers_carry_hsts_frame_referrer_and_sniffing_headers(production_answer):
    headers = production_answer["headers"]

    assert production_answer["status"] == 200
    assert headers["Strict-Transport-Security"] == ("max-age=31536000; includeSubDomains; preload")
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert production_answer["csrf_cookie_secure"]


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = [part.strip().split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def test_the_content_security_policy_allows_no_inline_or_eval_scripts(production_answer):
    policy = csp_directives(production_answer["headers"]["Content-Security-Policy"])

    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    # Only style attributes may be inline (progress bars); never <style> elements.
    assert "'unsafe-inline'" not in policy["style-src"] + policy["style-src-elem"]


def test_every_page_in_the_test_settings_sends_the_policy_too(client, rep):
    client.force_login(rep)

    response = client.get("/leads/")

    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_secure_cookie_settings_follow_secure_ssl():
    # The test run is plain HTTP; production flips these with SECURE_SSL=1 (above).
    assert settings.SESSION_COOKIE_HTTPONLY
    assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE
    assert settings.X_FRAME_OPTIONS == "DENY"


# --- what the policy would break: nothing inline in our templates -----------------------

TEMPLATES = sorted((BASE_DIR / "templates").rglob("*.html"))
INLINE = {
    "inline <script>": re.compile(
        r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"
    ),
    "event handler attribute": re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
    "<style> element": re.compile(r"<style\b", re.IGNORECASE),
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(BASE_DIR)))
def test_no_template_has_inline_script_handlers_or_style_elements(template):
    text = template.read_text()

    found = [what for what, pattern in INLINE.items() if pattern.search(text)]

    assert found == [], f"{template.name}: move it to static/ (CSP refuses it): {found}"


def bare_env(tmp_path: Path) -> dict[str, str]:
    """A fresh checkout's shell: no SECRET_KEY, DEBUG off."""
    env = production_env(tmp_path)
    del env["SECRET_KEY"]
    return env


def test_every_model_change_has_its_migration_even_without_a_secret_key(tmp_path):
    result = run(["manage.py", "makemigrations", "--check", "--dry-run"], bare_env(tmp_path))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "No changes detected" in result.stdout


def test_a_command_that_serves_still_refuses_to_start_without_a_secret_key(tmp_path):
    result = run(["manage.py", "check"], bare_env(tmp_path))

    assert result.returncode != 0
    assert "SECRET_KEY: is the development key while DEBUG is off" in result.stderr
