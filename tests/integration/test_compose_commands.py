"""docker-compose.yml: its shape, and the exact commands its services run.

There is no Docker engine on CI machines, so the `web` and `worker` commands are run
here as plain processes against the local PostgreSQL, in a database made for the test.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
import yaml
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
TEST_KEY = "test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"
START_TIMEOUT = 120  # seconds: migrating a fresh database comes first
STOP_TIMEOUT = 60  # the worker's stop_grace_period


def test_compose_runs_a_database_the_web_app_a_worker_and_a_mail_catcher() -> None:
    assert set(SERVICES) == {"db", "web", "worker", "mail"}
    assert SERVICES["db"]["image"].startswith("postgres:")
    assert SERVICES["mail"]["image"].startswith("axllent/mailpit")
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["db"]["volumes"]
    assert "pgdata" in COMPOSE["volumes"]


def test_every_service_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
    assert SERVICES["db"]["healthcheck"]["test"][1] == "pg_isready"


def test_web_and_worker_share_the_image_and_the_env_file_and_restart() -> None:
    for name in ("web", "worker"):
        service = SERVICES[name]
        assert service["build"] == "."
        assert service["image"] == SERVICES["web"]["image"]
        assert service["env_file"] == ".env"
        assert service["restart"] == "unless-stopped"


def test_web_and_worker_wait_for_a_healthy_database_and_mail_catcher() -> None:
    for name in ("web", "worker"):
        depends_on = SERVICES[name]["depends_on"]
        assert depends_on["db"] == {"condition": "service_healthy"}, name
        assert depends_on["mail"] == {"condition": "service_healthy"}, name


def test_web_serves_port_8000_and_the_worker_gets_a_minute_to_stop() -> None:
    assert SERVICES["web"]["ports"] == ["8000:8000"]
    assert SERVICES["web"]["command"] == ["scripts/web.sh"]
    assert SERVICES["worker"]["command"] == ["python", "manage.py", "qcluster"]
    assert SERVICES["worker"]["stop_grace_period"] == "60s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def compose_database() -> Iterator[str]:
    """A fresh, empty database on the test cluster, as compose's `db` starts out.

    One per module (per xdist worker): the web test migrates it from empty, and the
    worker test, which needs it migrated, reuses it when it runs in the same process.
    """
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
    params = connection.settings_dict
    server = {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"] or 5432,
        "user": params["USER"],
        "password": params["PASSWORD"] or None,
    }
    name = f"followup_compose_{secrets.token_hex(4)}"
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    auth = quote(server["user"], safe="")
    if server["password"]:
        auth += ":" + quote(server["password"], safe="")
    try:
        yield f"postgres://{auth}@{server['host']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def service_env(database_url: str, **variables: str) -> dict[str, str]:
    # As in the image: `python` and `gunicorn` on PATH, settings only from variables.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {
        "PATH": path,
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": TEST_KEY,
        "DEBUG": "0",
        "DATABASE_URL": database_url,
        "EMAIL_URL": "consolemail://",
    }
    env.update(variables)
    return env


class Service:
    """One compose command run as a process, its output in a log file."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, ready: Any, what: str) -> None:
        """Until ready() is true; fails when the process dies or time runs out."""
        deadline = time.monotonic() + START_TIMEOUT
        while not ready():
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {START_TIMEOUT}s:\n{self.output()}")
            try:
                code = self.process.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            pytest.fail(f"exited with {code} before {what}:\n{self.output()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"did not stop within {STOP_TIMEOUT}s of SIGTERM:\n{self.output()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Any]:
    started: list[Service] = []

    def start(command: list[str], env: dict[str, str]) -> Service:
        service = Service(command, env, tmp_path / f"service-{len(started)}.log")
        started.append(service)
        return service

    yield start
    for service in started:
        service.kill()


def get(url: str, host: str) -> int:
    # Headers as a TLS-terminating proxy in front of compose would send them.
    request = urllib.request.Request(url, headers={"Host": host, "X-Forwarded-Proto": "https"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def test_the_web_command_migrates_and_serves_healthz_and_static_files(
    compose_database: str, start_service: Any
) -> None:
    port = free_port()
    env = service_env(
        compose_database,
        WEB_BIND=f"127.0.0.1:{port}",
        ALLOWED_HOSTS="crm.example.com",
        SECURE_SSL="1",
    )
    web = start_service(SERVICES["web"]["command"], env)
    base = f"http://127.0.0.1:{port}"

    web.wait_for(lambda: get(f"{base}/healthz", "crm.example.com") == 200, "200 from /healthz")

    assert get(f"{base}/static/css/followup.css", "crm.example.com") == 200
    healthcheck = SERVICES["web"]["healthcheck"]["test"][1:]
    checked = subprocess.run(healthcheck, cwd=BASE_DIR, env=env, timeout=30, capture_output=True)
    assert checked.returncode == 0, checked.stderr
    assert web.stop() == 0, web.output()


def test_the_worker_command_starts_the_cluster_and_stops_cleanly_on_sigterm(
    compose_database: str, start_service: Any
) -> None:
    env = service_env(compose_database)
    # In compose, web has migrated before the worker starts (depends_on web healthy);
    # here the web test may have run in another xdist worker, so migrate (or no-op).
    migrate = [sys.executable, "manage.py", "migrate", "--noinput"]
    migrated = subprocess.run(migrate, cwd=BASE_DIR, env=env, timeout=300, capture_output=True)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    worker = start_service(SERVICES["worker"]["command"], env)

    worker.wait_for(lambda: "running." in worker.output(), "'Q Cluster ... running.' log line")

    healthcheck = SERVICES["worker"]["healthcheck"]["test"][1:]
    checked = subprocess.run(healthcheck, cwd=BASE_DIR, env=env, timeout=60, capture_output=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert worker.process.poll() is None, worker.output()
    assert worker.stop() == 0, worker.output()
    assert "has stopped." in worker.output()
