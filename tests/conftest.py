"""Shared fixtures: the four people of the access rules, a real SMTP sink, Chromium."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message

import pytest
from django.db import connection

from tests.factories import ManagerFactory, RepFactory

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(autouse=True)
def _fast_hasher(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def rep(db):
    return RepFactory(username="alice", profile={"timezone": "America/New_York"})


@pytest.fixture
def teammate(db):
    return RepFactory(username="bob", profile={"timezone": "America/New_York"})


@pytest.fixture
def outsider(db):
    return RepFactory(username="mallory", profile={"timezone": "Europe/London"})


@pytest.fixture
def manager(db):
    return ManagerFactory(username="maria")


def on_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def postgres_only(db) -> None:
    if not on_postgres():
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it receives, for tests."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Message] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_with: tuple[int, str] | None = None  # e.g. (451, "try later")
    delay_seconds: float = 0.0  # a slow peer, so a test can stop a worker mid-send
    # A peer that stops answering: after EHLO (before any message) or after the message's
    # DATA (it has the message, which may go out, but the client hears nothing in time).
    stall_seconds: float = 0.0
    stall_in: str = "DATA"  # or "EHLO"
    stalled: list[Message] = field(default_factory=list)  # taken during a DATA stall
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:
        if self.stall_seconds and self.stall_in == "EHLO":
            await asyncio.sleep(self.stall_seconds)
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if self.stall_seconds and self.stall_in == "DATA":
            stalled = message_from_bytes(envelope.original_content)
            with self.lock:  # the peer has it and passes it on: it went out, unconfirmed
                self.stalled.append(stalled)
                self.messages.append(stalled)
                self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            await asyncio.sleep(self.stall_seconds)  # cancelled when the client hangs up
            return "250 OK (too late)"
        if self.refuse_with:
            code, text = self.refuse_with
            return f"{code} {text}"
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content))
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def smtp_sink(settings) -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    settings.EMAIL_BACKEND = "followup.mail.SMTPBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    try:
        yield sink
    finally:
        controller.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true a test skipped for want of PostgreSQL or Chromium fails the run."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and call.when in ("setup", "call"):
        reason = str(report.longrepr)
        if "PostgreSQL" in reason or "Chromium" in reason:
            if "PostgreSQL" in reason and not _ci_has_pg():
                return
            report.outcome = "failed"
            report.longrepr = f"skipped under CI, which must prove everything: {reason}"


def _ci_has_pg() -> bool:
    # In CI the suite runs twice: on PostgreSQL and on SQLite. A PostgreSQL-only test
    # skipped in the SQLite run is expected; the PostgreSQL run must run it.
    return os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))
