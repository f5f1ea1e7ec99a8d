"""Who may open what: every URL pattern of the project, for five people.

The patterns come from the URL resolver, so a new view is covered the day it is added:
one missing from ``MATRIX`` below fails ``test_every_url_pattern_is_in_the_matrix``
("add it to the matrix"). Each pattern is requested, with its path filled with real
objects of the rep ``alice``, as anonymous, ``alice`` (the owner), ``bob`` (a teammate),
``mallory`` (an outsider rep) and ``maria`` (a manager), and the answer is checked
against its rule (CONTRACT.md section 6 for the API):

- ``LOGIN``: anonymous goes to the login page; any signed-in person may open it.
- ``OWN``: alice's object in the path; another rep gets 404 (the API: 403); a manager
  may open it.
- ``SELF``: alice's own setting (a token); everyone else, managers too, gets 404.
- ``MANAGER``: reports; reps are refused (403, or the login page), managers may.
- ``PUBLIC``: no login; the path carries the proof (a signed or secret token).
- ``ADMIN`` (every pattern under ``admin/``): anonymous and reps go to the admin login;
  a manager never gets a server error (which models a manager may edit is tested in
  ``test_admin.py``).
- ``API_*``: the same for the HTTP API, with a bearer token: 401 without one.

Besides the status, no answer to bob or mallory may contain alice's lead's email, so a
list, an export or a queue that leaks another rep's leads fails too. Every request runs
in a savepoint that is rolled back, so one request's side effects never change the next.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from cadences.models import Heartbeat, OutboundEmail
from cadences.outbox import unsubscribe_token
from leads import calendar
from leads.models import CaptureForm, Lead, LeadImport
from leads.services import api_token_create
from tests.factories import (
    AccountFactory,
    CadenceFactory,
    EnrolmentFactory,
    LeadFactory,
    SignalFactory,
    StepFactory,
    TaskFactory,
    TouchFactory,
)

ROLES = ("anonymous", "rep", "teammate", "outsider", "manager")
SECRET_EMAIL = "alice-only-lead@secret.example"  # must never reach bob or mallory

LOGIN, OWN, SELF, MANAGER, PUBLIC, LOGOUT, POLL = (
    "login",
    "own",
    "self",
    "manager",
    "public",
    "logout",
    "poll",
)
API_USER, API_OWN, API_MANAGER, API_PUBLIC, API_NOT_FOUND = (
    "api-user",
    "api-own",
    "api-manager",
    "api-public",
    "api-not-found",
)
ADMIN, ADMIN_PUBLIC = "admin", "admin-public"


@dataclasses.dataclass
class World:
    """Alice's objects that the paths point at, and everyone's API tokens."""

    people: dict[str, AbstractBaseUser | None]
    keys: dict[str, str]
    objects: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.objects[name]
        except KeyError:
            raise AttributeError(name) from None


Args = Callable[[World], dict[str, object]]


@dataclasses.dataclass(frozen=True)
class Entry:
    rule: str
    method: str = "get"
    args: Args = lambda world: {}


def lead(world: World) -> dict[str, object]:
    return {"pk": world.lead.pk}


def enrolment(world: World) -> dict[str, object]:
    return {"pk": world.lead.pk, "enrolment_pk": world.enrolment.pk}


def call_task(world: World) -> dict[str, object]:
    return {"task_id": world.call_task.pk}


def lead_import(world: World) -> dict[str, object]:
    return {"pk": world.lead_import.pk}


# One line per URL name (``namespace:name`` for the API). Other engineers add views in
# parallel: add yours here with the rule it must follow.
MATRIX: dict[str, Entry] = {
    # the rep's day
    "cadences-today": Entry(LOGIN),
    "cadences-hot": Entry(POLL),
    "cadences-hot-badge": Entry(POLL),
    "cadences-auto-cancel": Entry(OWN, "post", lambda w: {"task_id": w.auto_task.pk}),
    "cadences-outbox-resolve": Entry(OWN, "post", lambda w: {"email_id": w.unknown_email.pk}),
    "cadences-work-start": Entry(LOGIN),
    "cadences-work": Entry(OWN, "get", call_task),
    "cadences-work-log": Entry(OWN, "post", call_task),
    "cadences-work-email": Entry(OWN, "post", lambda w: {"task_id": w.email_task.pk}),
    "cadences-work-snooze": Entry(OWN, "post", call_task),
    "cadences-work-skip": Entry(OWN, "post", call_task),
    "cadences-mail-batch": Entry(LOGIN),
    "cadences-mail-batch-csv": Entry(LOGIN),
    "cadences-mail-batch-labels": Entry(LOGIN),
    "cadences-mail-batch-posted": Entry(LOGIN, "post"),
    # reports
    "cadences-reports": Entry(MANAGER),
    "cadences-report-stopped": Entry(MANAGER),
    "cadences-report": Entry(MANAGER, "get", lambda w: {"name": "touches-to-close"}),
    # leads
    "leads-list": Entry(LOGIN),
    "leads-create": Entry(LOGIN),
    "leads-export": Entry(LOGIN),
    "leads-export-touches": Entry(LOGIN),
    "leads-import": Entry(LOGIN),
    "leads-import-detail": Entry(OWN, "get", lead_import),
    "leads-import-map": Entry(OWN, "get", lead_import),
    "leads-import-progress": Entry(OWN, "get", lead_import),
    "leads-import-bad-rows": Entry(OWN, "get", lead_import),
    "leads-detail": Entry(OWN, "get", lead),
    "leads-edit": Entry(OWN, "get", lead),
    "leads-touch": Entry(OWN, "post", lead),
    "leads-status": Entry(OWN, "post", lead),
    "leads-enrol": Entry(OWN, "post", lead),
    "leads-enrolment-pause": Entry(OWN, "post", enrolment),
    "leads-enrolment-resume": Entry(OWN, "post", enrolment),
    "leads-enrolment-remove": Entry(OWN, "post", enrolment),
    "leads-profile": Entry(LOGIN),
    "leads-calendar-regenerate": Entry(LOGIN, "post"),
    "leads-token-create": Entry(LOGIN, "post"),
    "leads-token-revoke": Entry(SELF, "post", lambda w: {"token_pk": w.token.pk}),
    # public: the path is the proof
    "leads-calendar": Entry(PUBLIC, "get", lambda w: {"token": w.calendar_token}),
    "leads-unsubscribe": Entry(PUBLIC, "get", lambda w: {"token": unsubscribe_token(w.lead)}),
    "leads-capture": Entry(PUBLIC, "get", lambda w: {"public_key": w.capture_form.public_key}),
    "login": Entry(PUBLIC),
    "logout": Entry(LOGOUT, "post"),
    "healthz": Entry(PUBLIC),
    "readyz": Entry(PUBLIC),
    # the HTTP API
    "api:api-root": Entry(API_NOT_FOUND),  # nothing at the root: the docs are at /api/docs
    "api:openapi-json": Entry(API_PUBLIC),
    "api:openapi-view": Entry(API_PUBLIC),
    "api:lead_create": Entry(API_USER, "post"),
    "api:lead_read": Entry(API_OWN, "get", lambda w: {"id": w.lead.pk}),
    "api:lead_change": Entry(API_OWN, "patch", lambda w: {"id": w.lead.pk}),
    "api:touch_create": Entry(API_USER, "post"),
    "api:signal_create": Entry(API_USER, "post"),
    "api:queue_read": Entry(API_USER),
    "api:report_read": Entry(API_MANAGER, "get", lambda w: {"name": "touches-to-close"}),
    "api:no_such_endpoint": Entry(API_NOT_FOUND, "get", lambda w: {"rest": "nothing/here/"}),
    # Django admin: every pattern under admin/ follows ADMIN, except its login page
    "admin:login": Entry(ADMIN_PUBLIC),
    "admin:logout": Entry(ADMIN_PUBLIC, "post"),  # logging out is harmless for anyone
}


# --- the URL patterns, from the resolver ------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Pattern:
    route: str
    name: str  # with its namespace; "" when the pattern has none
    keys: tuple[str, ...]  # the path's parameters

    @property
    def key(self) -> str:
        return self.name or self.route

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("admin/")


def url_patterns(
    resolver: URLResolver | None = None, prefix: str = "", space: str = ""
) -> Iterator[Pattern]:
    """Every pattern, depth first, with its full route and namespaced name."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{space}{entry.namespace}:" if entry.namespace else space
            yield from url_patterns(entry, route, inner)
        elif isinstance(entry, URLPattern):
            keys = tuple(entry.pattern.regex.groupindex)
            name = f"{space}{entry.name}" if entry.name else ""
            yield Pattern(route=route, name=name, keys=keys)


def all_patterns() -> list[Pattern]:
    return list(url_patterns())


def entry_for(pattern: Pattern) -> Entry | None:
    if pattern.key in MATRIX:
        return MATRIX[pattern.key]
    if pattern.is_admin:
        return Entry(ADMIN, "get", admin_args)
    return None


def test_every_url_pattern_is_in_the_matrix():
    missing = [p.key for p in all_patterns() if entry_for(p) is None]

    assert missing == [], f"add it to the matrix in {__name__}: {missing}"


def test_the_matrix_names_only_patterns_that_exist():
    keys = {p.key for p in all_patterns()}

    assert sorted(set(MATRIX) - keys) == []


# --- admin paths: filled generically ---------------------------------------------------


def admin_args(world: World, pattern: Pattern | None = None) -> dict[str, object]:
    values: dict[str, object] = {}
    for key in pattern.keys if pattern else ():
        if key == "object_id":
            values[key] = admin_object_id(world, pattern)
        elif key == "app_label":
            values[key] = "leads"
        elif key == "content_type_id":
            values[key] = ContentType.objects.get_for_model(Lead).pk
        else:
            values[key] = 1  # a custom admin view's id: a missing row must be a 404
    return values


def admin_object_id(world: World, pattern: Pattern) -> object:
    if pattern.name == "admin:view_on_site":
        return world.lead.pk
    from django.apps import apps

    # "admin:leads_lead_change" -> leads.Lead: the first row, so the page really renders
    app_label, _, rest = pattern.name.removeprefix("admin:").partition("_")
    for model in apps.get_app_config(app_label).get_models() if app_label in _apps() else ():
        if rest.startswith(model._meta.model_name + "_"):
            row = model._default_manager.order_by("pk").first()
            return row.pk if row else 1
    return 1


def _apps() -> set[str]:
    from django.apps import apps

    return {config.label for config in apps.get_app_configs()}


# --- the world ------------------------------------------------------------------------


@pytest.fixture
def world(rep, teammate, outsider, manager) -> World:
    now = timezone.now()
    alice_lead = LeadFactory(owner=rep, email=SECRET_EMAIL, account=AccountFactory())
    LeadFactory(owner=outsider)
    LeadFactory(owner=teammate)
    cadence = CadenceFactory(name="Matrix cadence")
    manual_email = StepFactory(cadence=cadence, position=1, channel="email")
    auto_1 = StepFactory(cadence=cadence, position=2, channel="email", mode="auto")
    auto_2 = StepFactory(cadence=cadence, position=3, channel="email", mode="auto")
    for step in (auto_1, auto_2):
        step.subject, step.body = "Hello", "Hi {{ lead.first_name }}"
        step.save()
    enrolment = EnrolmentFactory(lead=alice_lead, cadence=cadence)
    due = now - dt.timedelta(minutes=5)
    common = {"lead": alice_lead, "rep": rep, "due_at": due}
    call_task = TaskFactory(kind="callback", channel="call", **common)
    email_task = TaskFactory(enrolment=enrolment, step=manual_email, channel="email", **common)
    auto_task = TaskFactory(
        enrolment=enrolment, step=auto_1, channel="email", mode="auto", **common
    )
    sent_task = TaskFactory(
        enrolment=enrolment, step=auto_2, channel="email", mode="auto", status="sent", **common
    )
    unknown_email = OutboundEmail.objects.create(
        task=sent_task,
        lead=alice_lead,
        to_email=alice_lead.email,
        from_email="alice@example.com",
        subject="Hello",
        body_text="Hi",
        message_id="<matrix@followup.test>",
        status="unknown",
    )
    TouchFactory(lead=alice_lead, rep=rep)
    SignalFactory(lead=alice_lead)
    TaskFactory(lead=LeadFactory(owner=outsider), rep=outsider)
    Heartbeat.objects.create(name="tick", at=now)
    token, _ = api_token_create(user=rep, name="alice's")
    objects = {
        "lead": alice_lead,
        "enrolment": enrolment,
        "call_task": call_task,
        "email_task": email_task,
        "auto_task": auto_task,
        "unknown_email": unknown_email,
        "token": token,
        "calendar_token": calendar.rep_profile_for(rep).calendar_token,
        "capture_form": CaptureForm.objects.create(name="Matrix form", source="web"),
        "lead_import": LeadImport.objects.create(
            created_by=rep, filename="leads.csv", upload=b"email\nx@example.com\n", size=22
        ),
    }
    people = {
        "anonymous": None,
        "rep": rep,
        "teammate": teammate,
        "outsider": outsider,
        "manager": manager,
    }
    keys = {role: api_token_create(user=user)[1] for role, user in people.items() if user}
    return World(people=people, keys=keys, objects=objects)


# --- the check ---------------------------------------------------------------------------


def clients_for(world: World) -> dict[tuple[str, bool], Client]:
    """One browser and one API client per person, made once: a new Client loads every
    middleware again (whitenoise scans the static files), which costs a third of a second."""
    clients = {}
    for role, user in world.people.items():
        browser = Client()
        if user is not None:
            browser.force_login(user)
        token = {"Authorization": f"Bearer {world.keys[role]}"} if user else {}
        clients[(role, False)], clients[(role, True)] = browser, Client(headers=token)
    return clients


def request(world: World, client: Client, pattern: Pattern, entry: Entry):
    args = entry.args(world, pattern) if entry.args is admin_args else entry.args(world)
    url = reverse(pattern.name, kwargs=args) if pattern.name else "/" + pattern.route
    is_api = entry.rule.startswith("api")
    body = {"content_type": "application/json", "data": "{}"} if is_api else {}
    cookies = SimpleCookie(client.cookies)
    try:
        if entry.method == "get":
            return client.get(url)
        return getattr(client, entry.method)(url, **body)
    finally:
        client.cookies = cookies  # a logout or a new session must not carry over


def to_login(response, login: str = "/login/") -> bool:
    return response.status_code == 302 and response.url.startswith(login)


def allowed(response) -> bool:
    refused = response.status_code in (401, 403, 404, 405) or to_login(response)
    return not refused and response.status_code < 500


def verdict(rule: str, role: str, response) -> str | None:
    """None when the answer is right for this rule and person, else what was wrong."""
    status = response.status_code
    anonymous, other_rep = role == "anonymous", role in ("teammate", "outsider")
    if status >= 500:
        return f"server error {status}"
    if rule == API_NOT_FOUND:  # no token needed to learn there is nothing here
        return None if status == 404 else f"got {status}, not 404"
    if rule in (PUBLIC, API_PUBLIC):
        return None if allowed(response) else f"public page refused ({status})"
    if rule == LOGOUT:
        return None if to_login(response) else f"logout went to {status}"
    if rule == POLL and anonymous:
        return None if status == 286 else f"anonymous poll got {status}, not 286 (stop)"
    if rule in (LOGIN, OWN, SELF, MANAGER, POLL) and anonymous:
        return None if to_login(response) else f"no login asked ({status})"
    if rule in (ADMIN, ADMIN_PUBLIC):
        return admin_verdict(rule, role, response)
    if rule.startswith("api") and anonymous:
        return None if status == 401 else f"API without a token got {status}, not 401"
    expected_ok = {
        LOGIN: True,
        POLL: True,
        OWN: not other_rep,
        SELF: role == "rep",
        MANAGER: role == "manager",
        API_USER: True,
        API_OWN: not other_rep,
        API_MANAGER: role == "manager",
    }[rule]
    if expected_ok:
        return None if allowed(response) else f"refused ({status})"
    if rule in (OWN, SELF):
        return None if status == 404 else f"another's object answered {status}, not 404"
    if rule == MANAGER:
        return None if status == 403 or to_login(response) else f"a rep got {status}"
    return None if status == 403 else f"API answered {status}, not 403"


def admin_verdict(rule: str, role: str, response) -> str | None:
    if rule == ADMIN_PUBLIC or role == "manager":
        return None  # no server error (checked above); permissions: test_admin.py
    if to_login(response, "/admin/login/"):
        return None
    return f"admin page not refused ({response.status_code})"


def leaks(role: str, response) -> bool:
    if role not in ("teammate", "outsider") or response.status_code >= 300:
        return False
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return SECRET_EMAIL.encode() in body


def test_every_url_pattern_answers_each_person_as_its_rule_says(world, capsys):
    failures, checked = [], 0
    patterns = all_patterns()
    clients = clients_for(world)
    for pattern in patterns:
        entry = entry_for(pattern)
        assert entry is not None, pattern.key  # test_every_url_pattern_is_in_the_matrix
        for role in ROLES:
            with transaction.atomic():
                client = clients[(role, entry.rule.startswith("api"))]
                response = request(world, client, pattern, entry)
                problem = verdict(entry.rule, role, response)
                if problem is None and leaks(role, response):
                    problem = "shows alice's lead to another rep"
                transaction.set_rollback(True)
            checked += 1
            if problem:
                failures.append(f"{entry.method.upper()} {pattern.key} as {role}: {problem}")

    admin = sum(p.is_admin for p in patterns)
    with capsys.disabled():
        print(
            f"\naccess matrix: {len(patterns)} URL patterns ({len(patterns) - admin} app and "
            f"API, {admin} admin) x {len(ROLES)} people = {checked} requests checked"
        )
    assert failures == [], "\n".join(failures)
    assert checked == len(patterns) * len(ROLES)
