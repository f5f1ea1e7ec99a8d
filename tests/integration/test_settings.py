"""Settings parsing: every variable of CONTRACT.md section 1, good values and bad.

The rules are tested with plain dicts through ``followup.config``; start-up itself is
tested as ops meet it, by running ``manage.py check`` in a child process.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from followup import config
from followup.config import ConfigError

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"


def refused(call) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("word", ["1", "true", "Yes", " on "])
def test_debug_accepts_the_usual_words_for_true(word: str) -> None:
    assert config.read_bool({"DEBUG": word}, "DEBUG", False) is True


@pytest.mark.parametrize("word", ["0", "false", "NO", "off", ""])
def test_debug_accepts_the_usual_words_for_false(word: str) -> None:
    assert config.read_bool({"DEBUG": word}, "DEBUG", True) is False


def test_a_bad_boolean_is_refused_naming_the_variable() -> None:
    error = refused(lambda: config.read_bool({"DEBUG": "maybe"}, "DEBUG", False))
    assert error.variable == "DEBUG"
    assert "'maybe'" in str(error)


def test_q_workers_defaults_to_two() -> None:
    assert config.read_int({}, "Q_WORKERS", 2, minimum=1) == 2


def test_q_workers_that_is_not_a_whole_number_is_refused() -> None:
    error = refused(lambda: config.read_int({"Q_WORKERS": "two"}, "Q_WORKERS", 2, minimum=1))
    assert error.variable == "Q_WORKERS"
    assert str(error) == "Q_WORKERS: 'two' is not a whole number"


def test_q_workers_below_one_is_refused() -> None:
    error = refused(lambda: config.read_int({"Q_WORKERS": "0"}, "Q_WORKERS", 2, minimum=1))
    assert error.variable == "Q_WORKERS"


def test_allowed_hosts_is_a_comma_separated_list() -> None:
    env = {"ALLOWED_HOSTS": " crm.example.com, .example.org ,,"}
    hosts = config.read_list(env, "ALLOWED_HOSTS", ["localhost"])
    assert hosts == ["crm.example.com", ".example.org"]
    assert config.read_list({}, "ALLOWED_HOSTS", ["localhost", "127.0.0.1"]) == [
        "localhost",
        "127.0.0.1",
    ]


def test_time_zone_must_be_an_iana_name() -> None:
    assert config.read_timezone({"TIME_ZONE": "Europe/Berlin"}, "TIME_ZONE", "UTC") == (
        "Europe/Berlin"
    )
    error = refused(lambda: config.read_timezone({"TIME_ZONE": "Mars/Base"}, "TIME_ZONE", "UTC"))
    assert error.variable == "TIME_ZONE"


def test_default_database_is_sqlite_under_var_with_wal_and_immediate_transactions(
    tmp_path: Path,
) -> None:
    database = config.read_database({}, tmp_path)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "var" / "followup.sqlite3")
    assert (tmp_path / "var").is_dir()
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert "busy_timeout=" in database["OPTIONS"]["init_command"]


def test_postgres_url_is_parsed_into_a_django_database(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgres://crm:s3cret@db.internal:5433/followup"}
    database = config.read_database(env, tmp_path)
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        "followup",
        "crm",
        "s3cret",
    )
    assert (database["HOST"], database["PORT"]) == ("db.internal", 5433)
    assert database["CONN_HEALTH_CHECKS"] is True
    # followup.prepared's hot queries may be prepared; Django's own never are.
    assert database["OPTIONS"]["prepare_threshold"] == 5


def test_an_unknown_database_scheme_is_refused(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "mysql://crm@db/followup"}
    error = refused(lambda: config.read_database(env, tmp_path))
    assert error.variable == "DATABASE_URL"
    assert "mysql" in str(error)


def test_email_defaults_to_the_console() -> None:
    email = config.read_email({})
    assert email["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"


def test_smtp_email_url_names_host_and_port() -> None:
    email = config.read_email({"EMAIL_URL": "smtp://mail:1025"})
    assert email["EMAIL_BACKEND"] == "followup.mail.SMTPBackend"
    assert (email["EMAIL_HOST"], email["EMAIL_PORT"]) == ("mail", 1025)


@pytest.mark.parametrize("url", ["notaurl", "smtp://", "http://mail:25"])
def test_a_malformed_email_url_is_refused(url: str) -> None:
    error = refused(lambda: config.read_email({"EMAIL_URL": url}))
    assert error.variable == "EMAIL_URL"


def test_the_development_key_is_refused_with_debug_off() -> None:
    error = refused(lambda: config.read_secret_key({}, debug=False))
    assert error.variable == "SECRET_KEY"
    assert config.read_secret_key({}, debug=True) == config.DEV_SECRET_KEY


def test_a_short_secret_key_is_refused() -> None:
    error = refused(lambda: config.read_secret_key({"SECRET_KEY": "short"}, debug=False))
    assert error.variable == "SECRET_KEY"
    assert config.read_secret_key({"SECRET_KEY": GOOD_KEY}, debug=False) == GOOD_KEY


@pytest.mark.parametrize("key", ["k" * 60, "abcdefghij" * 4 + "klmnopqrs"])
def test_a_key_that_check_deploy_would_call_weak_is_refused_at_start_up(key: str) -> None:
    error = refused(lambda: config.read_secret_key({"SECRET_KEY": key}, debug=False))
    assert error.variable == "SECRET_KEY"
    assert "use at least 50 random characters" in str(error)


def test_the_weakest_key_start_up_accepts_passes_check_deploy(settings) -> None:
    from django.core.checks.security.base import check_secret_key

    settings.SECRET_KEY = config.read_secret_key({"SECRET_KEY": "abcde" * 10}, debug=False)

    assert check_secret_key(None) == []


def manage_check(**variables: str) -> subprocess.CompletedProcess[str]:
    # A clean environment, so the developer's or CI's own variables cannot mask a failure.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    env.update({"SECRET_KEY": GOOD_KEY}, **variables)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_start_up_with_good_settings_passes_the_system_check() -> None:
    result = manage_check(Q_WORKERS="4", TIME_ZONE="America/Chicago", EMAIL_URL="smtp://mail:1025")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("Q_WORKERS", "two"),
        ("DATABASE_URL", "mysql://crm@db/followup"),
        ("EMAIL_URL", "notaurl"),
        ("TIME_ZONE", "Mars/Base"),
        ("SECRET_KEY", ""),
    ],
)
def test_start_up_with_a_bad_value_stops_with_one_line_naming_the_variable(
    variable: str, value: str
) -> None:
    result = manage_check(**{variable: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def variables_read_by_settings() -> set[str]:
    source = "".join(
        (BASE_DIR / "followup" / name).read_text() for name in ("settings.py", "config.py")
    )
    # ENV.get("X"), read_bool(ENV, "X", ...) in settings.py; env.get("X") in config.py
    return set(re.findall(r'\b(?:ENV|env)(?:\.get\(|, )"([A-Z][A-Z0-9_]*)"', source))


def test_every_variable_the_settings_read_is_in_env_example_and_readme() -> None:
    variables = variables_read_by_settings()
    contract = {"DATABASE_URL", "EMAIL_URL", "DEFAULT_FROM_EMAIL", "SECRET_KEY", "DEBUG"}
    contract |= {"ALLOWED_HOSTS", "TIME_ZONE", "Q_WORKERS"}
    assert contract <= variables  # the pattern above still finds what settings read
    env_example = (BASE_DIR / ".env.example").read_text()
    readme = (BASE_DIR / "README.md").read_text()
    listed = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", env_example, flags=re.MULTILINE))
    tabled = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", readme, flags=re.MULTILINE))
    assert variables - listed == set(), ".env.example misses these"
    assert variables - tabled == set(), "README.md's variable table misses these"
