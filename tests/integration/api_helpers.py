"""Builders shared by the HTTP API's tests."""

from __future__ import annotations

import datetime as dt
import json

from django.test import Client

from leads.services import api_token_create

UTC = dt.UTC
MONDAY_9_NY = "2027-03-01T14:00:00Z"  # 09:00 in New York, a business day


def client_for(user: object) -> Client:
    """A test client that sends a fresh API token of ``user`` with every request."""
    _, key = api_token_create(user=user, name="tests")
    return Client(headers={"Authorization": f"Bearer {key}"})


def post(client: Client, path: str, body: object) -> object:
    return client.post(path, data=json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: object) -> object:
    return client.patch(path, data=json.dumps(body), content_type="application/json")
