"""Logging in: failed logins are limited, sessions end, passwords are checked, tokens hashed."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse

from followup.security import client_ip
from leads.models import ApiToken
from leads.services import api_token_create, hash_api_key

PASSWORD = "pw-for-tests-1"  # tests/factories.py
LOGIN = "/login/"
START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=dt.UTC)


def attempt(client: Client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=ip)


def fail(client: Client, username: str, times: int, ip: str = "198.51.100.7") -> list[int]:
    return [attempt(client, username, "wrong", ip).status_code for _ in range(times)]


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_a_right_password_logs_in(client, rep, clock):
    response = attempt(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert response.url == reverse("cadences-today")


def test_the_fifth_failure_locks_the_username_at_that_address_with_a_clear_message(
    client, rep, clock
):
    statuses = fail(client, "alice", 5)

    assert statuses == [200, 200, 200, 200, 429]
    locked = attempt(client, "alice", PASSWORD)
    assert locked.status_code == 429  # even the right password, while locked
    assert "Too many failed logins for this username from your address" in locked.text
    assert "try again in 15 minutes" in locked.text
    assert "_auth_user_id" not in client.session


def test_the_lock_lifts_after_fifteen_minutes(client, rep, clock):
    fail(client, "alice", 5)

    clock.shift(dt.timedelta(minutes=14))
    assert attempt(client, "alice", PASSWORD).status_code == 429
    clock.shift(dt.timedelta(minutes=16))  # the try above, while locked, restarted the wait
    assert attempt(client, "alice", PASSWORD).status_code == 302


def test_another_address_and_another_username_are_not_locked(client, rep, teammate, clock):
    fail(client, "alice", 5, ip="198.51.100.7")

    assert attempt(Client(), "alice", PASSWORD, ip="203.0.113.9").status_code == 302
    assert attempt(Client(), "bob", PASSWORD, ip="198.51.100.7").status_code == 302


def test_a_success_clears_the_count_of_failures(client, rep, clock):
    fail(client, "alice", 4)
    assert attempt(client, "alice", PASSWORD).status_code == 302
    client.logout()

    assert fail(client, "alice", 4) == [200, 200, 200, 200]


def test_the_admin_login_is_limited_too(client, manager, clock):
    url = reverse("admin:login")
    for _ in range(5):
        response = client.post(url, {"username": "maria", "password": "wrong"})

    assert response.status_code == 429
    right = client.post(url, {"username": "maria", "password": PASSWORD})
    assert right.status_code == 429


def test_unknown_usernames_are_limited_like_real_ones(client, db, clock):
    # Otherwise the limit would tell an attacker which usernames exist.
    assert fail(client, "nobody", 5) == [200, 200, 200, 200, 429]


def test_behind_the_tls_proxy_the_address_is_the_one_the_proxy_appended(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    request = RequestFactory().post(
        LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7"
    )

    # "1.2.3.4" came from the client and could be anything: it must not move the limit.
    assert client_ip(request) == "198.51.100.7"


def test_a_garbage_forwarded_header_falls_back_to_the_peer_and_no_address_is_none(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    garbage = RequestFactory().post(LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="x, y")
    nothing = RequestFactory().post(LOGIN, REMOTE_ADDR="")

    assert client_ip(garbage) == "10.0.0.2"
    assert client_ip(nothing) is None


def test_without_a_proxy_forwarded_headers_are_ignored(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    request = RequestFactory().post(LOGIN, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert client_ip(request) == "10.0.0.2"


def test_a_forged_forwarded_header_does_not_dodge_the_limit_behind_the_proxy(
    client, rep, settings, clock
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    for n in range(5):
        client.post(
            LOGIN,
            {"username": "alice", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 198.51.100.7",
        )

    again = client.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.7",
    )
    assert again.status_code == 429


# --- sessions ----------------------------------------------------------------------------


def test_the_session_cookie_ends_with_the_browser_and_is_http_only(client, rep, clock):
    attempt(client, "alice", PASSWORD)

    cookie = client.cookies["sessionid"]
    assert cookie["httponly"]
    assert not cookie["expires"] and not cookie["max-age"]  # a browser-session cookie
    assert cookie["samesite"] == "Lax"


def test_a_session_ends_twelve_hours_after_login_even_if_the_browser_stays_open(client, rep, clock):
    attempt(client, "alice", PASSWORD)
    assert client.get(reverse("leads-list")).status_code == 200

    clock.shift(dt.timedelta(hours=12, minutes=1))

    response = client.get(reverse("leads-list"))
    assert response.status_code == 302
    assert response.url.startswith(LOGIN)


# --- passwords and API tokens ------------------------------------------------------------


@pytest.mark.parametrize("weak", ["short1", "password123", "12345678901", "alice2027"])
def test_weak_passwords_are_refused(weak, rep):
    rep.first_name, rep.last_name = "Alice", "Smith"
    with pytest.raises(ValidationError):
        validate_password(weak, user=rep)


def test_a_long_unusual_password_is_accepted(rep):
    validate_password("correct horse battery staple 42", user=rep)


def test_an_api_token_is_stored_only_as_its_hash(rep):
    token, key = api_token_create(user=rep, name="dialer")

    stored = ApiToken.objects.values().get(id=token.id)
    assert key not in [str(value) for value in stored.values()]
    assert stored["key_hash"] == hash_api_key(key) != key
    assert stored["prefix"] == key[:10]


def test_a_new_token_is_shown_once_on_the_profile_page_and_never_again(client, rep):
    client.force_login(rep)

    created = client.post(reverse("leads-token-create"), {"name": "dialer"})

    token = ApiToken.objects.get(user=rep)
    keys = set(re.findall(r"fu_[A-Za-z0-9_-]{40,}", created.text))
    assert [hash_api_key(key) for key in keys] == [token.key_hash]
    assert "no-cache" in created["Cache-Control"]
    later = client.get(reverse("leads-profile"))
    assert token.prefix in later.text  # recognisable by its prefix only
    assert not keys & set(re.findall(r"fu_[A-Za-z0-9_-]{40,}", later.text))


def test_a_revoked_token_no_longer_opens_the_api(rep):
    token, key = api_token_create(user=rep)
    client = Client(headers={"Authorization": f"Bearer {key}"})
    assert client.get("/api/queue/").status_code == 200

    token.revoked_at = START
    token.save()

    assert client.get("/api/queue/").status_code == 401
