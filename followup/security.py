"""Login protection: failed-login limits (django-axes) and who the client is.

The limits themselves are settings (``AXES_*`` in ``settings.py``): 5 failures per
username and client address, then 15 minutes' wait. This module adapts django-axes to
the project: a backend that leaves non-web logins alone, the client's address behind
the TLS proxy, and a lockout page that says in words what happened.

The Content-Security-Policy is a setting too (``CONTENT_SECURITY_POLICY``, django-csp).
"""

from __future__ import annotations

import ipaddress
import math

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

LOCKED_OUT_STATUS = 429


class LoginAttemptsBackend(AxesStandaloneBackend):
    """Refuse a login while its username and address are locked out; log no one in.

    Axes insists on the request, but only web logins pass one. A login without a
    request (Django's test client, a shell) did not come over the network, so there
    is nothing to rate-limit: it is left to the next backend instead of crashing.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: the TCP peer, or behind the TLS proxy the one it saw.

    With ``SECURE_SSL`` on, the app sits behind one reverse proxy that appends the
    peer it saw to ``X-Forwarded-For``. Only that last entry is trusted: the ones
    before it come from the client and could be forged to dodge the limits. None when
    there is no address (a login made in code, e.g. ``force_login``): axes stores the
    address in an ``inet`` column on PostgreSQL, which refuses anything else.
    """
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    if not getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    return _address(forwarded[-1]) or peer


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def lockout_message(request: HttpRequest | None = None) -> str:
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else 0
    wait = f"try again in {minutes} minutes" if minutes else "ask a manager to unlock it"
    return f"Too many failed logins for this username from your address: {wait}."


def login_locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """The login page again, with the reason, as 429 (axes' ``AXES_LOCKOUT_CALLABLE``)."""
    username = str((credentials or {}).get("username") or request.POST.get("username", ""))
    form = AuthenticationForm(request, initial={"username": username[:150]})
    messages.error(request, lockout_message(request))  # base.html shows it above the form
    context = {"form": form, "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=LOCKED_OUT_STATUS)
