"""Server time and query count of the rep's pages (Django test client), and each report."""

from __future__ import annotations

import datetime as dt
import importlib
import inspect
import time
from collections.abc import Callable

from django.conf import settings
from django.test import Client
from django.test.utils import override_settings
from django.urls import NoReverseMatch, reverse

from bench.engine_bench import Context, repeat_in_rollback
from bench.harness import NOT_BUILT, Result, Target, counting_queries, plural

PAGE_TARGET = Target(100, "max", "< 100 ms, ≤ 12 queries")
MAX_QUERIES = 12
REPORT_DAYS = 90
REFRESH_TARGET = Target(60, "max", "< 60 s")


def _busiest_rep():
    """The rep with the fullest queue today: the page's worst everyday case."""
    from django.contrib.auth import get_user_model
    from django.db.models import F

    from cadences.models import DailyQueue

    queue = (
        DailyQueue.objects.annotate(items=F("calls_total") + F("emails_total") + F("other_total"))
        .order_by("-items", "rep_id")
        .first()
    )
    users = get_user_model().objects
    return (users.get(id=queue.rep_id), queue.items) if queue else (None, 0)


def pages(ctx: Context) -> list[Result]:
    from leads.models import Lead

    rep, items = _busiest_rep()
    lead = Lead.objects.filter(owner=rep).order_by("-touch_count", "id").first() if rep else None
    wanted = [
        ("cadences-today", [], f"Today page (/) of a rep with {items} queue items"),
        ("leads-detail", [lead.id if lead else 0], "lead page (/leads/<id>/)"),
    ]
    if lead is not None:
        wanted[1] = (
            *wanted[1][:2],
            f"lead page (/leads/<id>/), a lead with {lead.touch_count} touches",
        )
    client = Client()
    if rep is not None:
        _log_in(client, rep)
    results = []
    for name, args, title in wanted:
        result = Result(title, unit="ms", target=PAGE_TARGET)
        try:
            path = reverse(name, args=args)
        except NoReverseMatch:
            result.status = NOT_BUILT
            result.notes.append(f"no URL named {name!r} yet")
        else:
            _time_page(client, path, result, ctx)
        results.append(result)
    return results


def _log_in(client: Client, user) -> None:
    """A session for ``user``, made directly: ``force_login`` fires the login signal, and
    the login-attempt log refuses the test client's missing client address."""
    from importlib import import_module

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    session = import_module(settings.SESSION_ENGINE).SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key


def _page_settings() -> override_settings:
    # The test client's host, and plain static storage: the manifest storage of
    # DEBUG-off needs collectstatic, which a benchmark should not depend on.
    storages = {**settings.STORAGES}
    storages["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    return override_settings(
        ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"], STORAGES=storages
    )


def _time_page(client: Client, path: str, result: Result, ctx: Context) -> None:
    import time_machine

    with _page_settings(), time_machine.travel(ctx.now + dt.timedelta(minutes=5), tick=True):
        with counting_queries() as counted:
            response = client.get(path)
        queries = counted.value
        if response.status_code != 200:
            result.status = "error"
            result.notes.append(f"HTTP {response.status_code} for {path}")
            return
        for i in range(2 + 10 * ctx.repetitions):
            started = time.perf_counter()
            client.get(path)
            if i >= 2:
                result.samples.append((time.perf_counter() - started) * 1000)
    result.notes.append(f"{plural(queries, 'query')}, {len(response.content) // 1024} KB")
    result.extra_checks.append(("queries", queries <= MAX_QUERIES))


# --- reports -------------------------------------------------------------------------


def _reports_module():
    try:
        return importlib.import_module("cadences.reports")
    except ModuleNotFoundError as exc:
        if exc.name != "cadences.reports":
            raise
        return None


def reports(ctx: Context) -> list[Result]:
    module = _reports_module()
    if module is None or not hasattr(module, "report_json"):
        result = Result("reports (cadences.reports.report_json)", status=NOT_BUILT)
        return [result]
    date_to = ctx.now.date()
    date_from = date_to - dt.timedelta(days=REPORT_DAYS)
    takes_now = "now" in inspect.signature(module.report_json).parameters
    results = [_summaries_refresh(ctx)]
    for name in getattr(module, "REPORTS", {}):
        result = Result(
            f"report {name}, last {REPORT_DAYS} days, whole team",
            target=Target(2, "max", "< 2 s"),
        )
        run = _report_call(module, name, date_from, date_to, ctx.now if takes_now else None)
        try:
            result.samples, _, queries = repeat_in_rollback(run, repetitions=ctx.repetitions)
        except Exception as exc:  # a broken report is a row, not the end of the run
            result.status = "error"
            result.notes.append(f"{type(exc).__name__}: {exc}"[:200])
        else:
            result.notes.append(plural(queries, "query"))
        results.append(result)
    return results


def _summaries_refresh(ctx: Context) -> Result:
    """The worker's hourly refresh of every report summary, run once and committed so
    the reports timed after it read the snapshots, as they would in production."""
    from cadences import report_summaries

    result = Result("report summaries refresh (the worker, hourly)", target=REFRESH_TARGET)
    started = time.perf_counter()
    try:
        with counting_queries() as counted:
            report_summaries.refresh_all(now=ctx.now)
    except Exception as exc:  # a broken refresh is a row; the reports then compute live
        result.status = "error"
        result.notes.append(f"{type(exc).__name__}: {exc}"[:200])
    else:
        result.samples.append(time.perf_counter() - started)
        result.notes.append(plural(counted.value, "query"))
    return result


def _report_call(module, name, date_from, date_to, now) -> Callable[[], object]:
    if now is None:
        return lambda: module.report_json(name, date_from, date_to, None)
    return lambda: module.report_json(name, date_from, date_to, None, now=now)
