"""Read the process environment into settings values, failing loudly and clearly.

Kept apart from ``settings.py`` so that every rule can be tested with a plain dict,
and so that a bad value stops start-up with one line naming the variable instead of
a traceback (see ``settings.py``).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_DISTINCT = 5
DEV_SECRET_KEY = "dev-insecure-followup-key-change-me-0123456789abcdefghijklmnopqrstuv"

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql", "postgis"}
EMAIL_SCHEMES = {
    "smtp",
    "smtps",
    "smtp+tls",
    "smtp+ssl",
    "consolemail",
    "filemail",
    "memorymail",
    "dummymail",
}


DJANGO_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
SMTP_BACKEND = "followup.mail.SMTPBackend"


class ConfigError(Exception):
    """A variable holds a value we cannot use. ``str()`` is the one-line message."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def read_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(name, f"{raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def read_int(env: Mapping[str, str], name: str, default: int, *, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"{raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(name, f"{value} is below the minimum of {minimum}")
    return value


def read_list(env: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def read_timezone(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip() or default
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            name, f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)"
        ) from None
    return value


def read_database(env: Mapping[str, str], base_dir: Path) -> dict[str, Any]:
    default = f"sqlite:///{base_dir / 'var' / 'followup.sqlite3'}"
    url = env.get("DATABASE_URL", "").strip() or default
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise ConfigError(
            "DATABASE_URL",
            f"unknown database scheme {scheme or url!r} (use sqlite:///path or postgres://...)",
        )
    try:
        config = environ.Env.db_url_config(url)
    except (ImproperlyConfigured, ValueError) as exc:
        raise ConfigError("DATABASE_URL", str(exc)) from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        return sqlite_database(config)
    config.setdefault("CONN_MAX_AGE", 60)
    config["CONN_HEALTH_CHECKS"] = True
    # Lets followup.prepared run the API's hot queries as prepared statements. Django
    # binds every other query on the client, and psycopg never prepares those.
    config.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
    return config


def sqlite_database(config: dict[str, Any]) -> dict[str, Any]:
    name = config.get("NAME") or ""
    if name and name != ":memory:":
        Path(name).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web app read while the worker writes; IMMEDIATE takes the write
    # lock at BEGIN so two writers queue on busy_timeout instead of failing with
    # "database is locked" halfway through a transaction.
    config["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        " PRAGMA busy_timeout=20000; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    return config


def read_email(env: Mapping[str, str]) -> dict[str, Any]:
    url = env.get("EMAIL_URL", "").strip() or "consolemail://"
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in EMAIL_SCHEMES:
        raise ConfigError(
            "EMAIL_URL",
            f"{url!r} is not a mail URL (use smtp://host:port, smtp+tls://user:pass@host:587"
            " or consolemail://)",
        )
    try:
        config = environ.Env.email_url_config(url)
    except (ImproperlyConfigured, ValueError) as exc:
        raise ConfigError("EMAIL_URL", str(exc)) from None
    if scheme.startswith("smtp") and not config.get("EMAIL_HOST"):
        raise ConfigError("EMAIL_URL", f"{url!r} names no host")
    # django-environ reports absent parts as None; Django's defaults are better.
    config = {key: value for key, value in config.items() if value is not None}
    if config.get("EMAIL_BACKEND") == DJANGO_SMTP_BACKEND:
        config["EMAIL_BACKEND"] = SMTP_BACKEND  # knows a lost reply from a failed send
    config["EMAIL_TIMEOUT"] = 20
    return config


def read_secret_key(env: Mapping[str, str], debug: bool) -> str:
    key = env.get("SECRET_KEY", "").strip() or DEV_SECRET_KEY
    if not debug and key == DEV_SECRET_KEY:
        raise ConfigError(
            "SECRET_KEY",
            "is the development key while DEBUG is off; set a long random SECRET_KEY",
        )
    # The rule of Django's `check --deploy` (security.W009), so a key start-up accepts
    # never fails that check: 50 characters or more, at least 5 different ones.
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_DISTINCT:
        raise ConfigError(
            "SECRET_KEY",
            f"is {len(key)} characters with {len(set(key))} different ones; use at least"
            f" {SECRET_KEY_MIN_LENGTH} random characters (at least {SECRET_KEY_MIN_DISTINCT}"
            " different), e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(50))'",
        )
    return key
