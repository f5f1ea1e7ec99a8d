"""The rep's pages: Today (the queue), work mode (one lead at a time), the hot-call poll.

Every action is a plain form that posts and redirects, so the flow works without
JavaScript; htmx (``hx-boost``) and the keyboard script only make it faster.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cadences import copy, outbox, scheduling, selectors, timeline
from cadences.forms import EmailForm, OutcomeForm, SkipForm, SnoozeForm
from cadences.models import OutboundEmail, Task
from cadences.outbox import suggested_asset
from cadences.queues import rep_day
from cadences.services import lead_timezone, rep_timezone, task_skip, task_snooze
from cadences.work import (
    EmailRefused,
    TaskClosed,
    auto_email_cancel,
    callback_choices,
    email_refusal,
    email_send_manual,
    sender_address,
    spoken_time,
    task_outcome_log,
)
from followup.roles import is_manager
from leads.touches import TouchRefused

OUTCOME_WORDS = {
    "connected": "connected",
    "voicemail": "voicemail",
    "no_answer": "no answer",
    "bad_number": "bad number",
    "meeting_booked": "meeting booked",
    "not_interested": "not interested",
    "done": "done",
}
TOUCH_OUTCOME_OF_DONE = {"mail": "sent", "sms": "sent", "social": "sent"}


def hot_poll_seconds() -> int:
    return int(getattr(settings, "FOLLOWUP_HOT_POLL_SECONDS", 10))


# --- Today ------------------------------------------------------------------------------


@login_required
@require_GET
def today(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    rep = selectors.rep_for_user(request.user, request.GET.get("rep"))
    day = _day_param(request)
    queue = selectors.today_queue(rep=rep, now=now, day=day)
    is_today = day is None or day == rep_day(rep, None, now).day
    if is_today:
        end = selectors.day_end(queue.day, queue.tz)
        queue.upcoming_auto = selectors.upcoming_auto_emails(rep=rep, before=end)
        queue.to_check = outbox.emails_to_check(rep=rep)
    context = {
        "nav": "today",
        "queue": queue,
        "rep": rep,
        "own": rep.pk == request.user.pk,
        "is_today": is_today,
        "hot": selectors.hot_from_queue(queue) if is_today else [],
        "hot_poll": hot_poll_seconds(),
        "rep_query": _rep_query(request, rep),
        "reps": selectors.reps_for_picker(request.user),
        "previous_day": queue.day - dt.timedelta(days=1),
        "next_day": queue.day + dt.timedelta(days=1),
        "first_pending": queue.order.next_pending_after(None),
        "active_tab": _active_tab(request, queue),
        "first_email": queue.first_pending_in("emails"),
    }
    if not queue.pending:
        counts = selectors.next_day_counts(rep=rep, now=now, day=queue.day)
        context["next_summary"] = _next_summary(counts)
    return _render(request, "cadences/today.html", context)


def _active_tab(request: HttpRequest, queue: selectors.TodayQueue) -> str:
    """The tab asked for, else the first with work left, else Calls."""
    names = [section.name for section in queue.sections]
    asked = request.GET.get("tab", "")
    if asked in names:
        return asked
    return next((section.name for section in queue.sections if section.pending), "calls")


def _day_param(request: HttpRequest) -> dt.date | None:
    text = request.GET.get("date", "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        messages.error(request, f"'{text}' is not a date (YYYY-MM-DD); showing today.")
        return None


def _rep_query(request: HttpRequest, rep: object) -> str:
    """The ``?rep=`` a manager keeps while looking at another rep's queue."""
    if rep.pk == request.user.pk:
        return ""
    return urlencode({"rep": rep.get_username()})


def _next_summary(counts: dict[str, int]) -> str:
    words = {"calls": ("call", "calls"), "emails": ("email", "emails"), "other": ("task", "tasks")}
    parts = [
        f"{n} {words[name][0] if n == 1 else words[name][1]}" for name, n in counts.items() if n
    ]
    if not parts:
        return "Nothing scheduled for tomorrow yet."
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Next: {joined} tomorrow."


@login_required
@require_POST
def outbox_resolve(request: HttpRequest, email_id: int) -> HttpResponse:
    """The rep says whether an interrupted email went out (it is never resent blindly)."""
    row = get_object_or_404(
        OutboundEmail.objects.select_related("task__rep"), id=email_id, status="unknown"
    )
    if row.task.rep_id != request.user.pk and not is_manager(request.user):
        raise Http404
    went_out = request.POST.get("went_out") == "yes"
    outbox.outbox_resolve_unknown(row=row, went_out=went_out, now=timezone.now())
    messages.success(
        request, "Recorded as sent." if went_out else "Queued to go out again with the next tick."
    )
    return redirect(_today_url(row.task.rep, request))


@login_required
@require_POST
def auto_cancel(request: HttpRequest, task_id: int) -> HttpResponse:
    tasks = Task.objects.filter(id=task_id, mode="auto").select_related("lead", "step")
    if not is_manager(request.user):
        tasks = tasks.filter(rep=request.user)
    task = tasks.first()
    if task is None:
        raise Http404("No such email")
    if auto_email_cancel(task=task, at=timezone.now(), reason="cancelled by rep"):
        messages.success(request, f"Cancelled the automated email to {task.lead}.")
    else:
        messages.warning(request, f"The email to {task.lead} has already gone or is being sent.")
    return redirect(_today_url(task.rep, request))


def _today_url(rep: object, request: HttpRequest) -> str:
    url = reverse("cadences-today")
    query = _rep_query(request, rep)
    return f"{url}?{query}" if query else url


# --- hot leads, live --------------------------------------------------------------------


@require_GET
def hot(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=286)  # htmx: stop polling, the session has ended
    rep = selectors.rep_for_user(request.user, request.GET.get("rep"))
    calls = selectors.hot_calls(rep=rep, now=timezone.now())
    return render(
        request, "cadences/_hot_poll.html", {"hot": calls, "own": rep.pk == request.user.pk}
    )


@require_GET
def hot_badge(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponse(status=286)
    count = len(selectors.hot_calls(rep=request.user, now=timezone.now()))
    return render(request, "cadences/_hot_badge.html", {"count": count})


# --- work mode ----------------------------------------------------------------------------


@login_required
@require_GET
def work_start(request: HttpRequest) -> HttpResponse:
    rep = selectors.rep_for_user(request.user, request.GET.get("rep"))
    first = selectors.queue_order(rep=rep, now=timezone.now()).next_pending_after(None)
    if first is None:
        messages.info(request, "Nothing left to work today.")
        return redirect(_today_url(rep, request))
    return redirect("cadences-work", task_id=first)


@login_required
@require_GET
def work(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for_user(request.user, task_id)
    return _render_work(request, task)


@login_required
@require_POST
def work_log(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for_user(request.user, task_id)
    now = timezone.now()
    form = OutcomeForm(request.POST, **_outcome_form_kwargs(task, now))
    if not form.is_valid():
        return _render_work(request, task, outcome_form=form)
    outcome = form.cleaned_data["outcome"]
    try:
        task_outcome_log(
            task=task,
            rep=request.user,
            outcome=_touch_outcome(task, outcome),
            now=now,
            notes=form.cleaned_data["notes"],
            callback_at=form.cleaned_data["callback_at"],
        )
    except TaskClosed as exc:
        messages.info(request, str(exc))
    except TouchRefused as exc:
        for name, message in exc.fields.items():
            form.add_error(name if name in form.fields else None, message)
        return _render_work(request, task, outcome_form=form)
    else:
        messages.success(request, _logged_message(task, outcome, form.cleaned_data["callback_at"]))
    return _go_next(request, task, form.cleaned_data.get("next"))


def _touch_outcome(task: Task, outcome: str) -> str:
    if outcome == "done":
        return TOUCH_OUTCOME_OF_DONE.get(task.channel, "")
    return outcome


def _logged_message(task: Task, outcome: str, callback_at: dt.datetime | None) -> str:
    text = f"Logged {OUTCOME_WORDS.get(outcome, outcome)} for {task.lead}."
    if callback_at:
        tz = lead_timezone(task.lead)
        text += f" Callback set for {spoken_time(callback_at, tz=tz, now=timezone.now())}"
        text += " (their time)."
    return text


@login_required
@require_POST
def work_email(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for_user(request.user, task_id)
    if task.channel != "email":
        raise Http404("Not an email task")
    form = EmailForm(request.POST)
    refusal = email_refusal(task.lead)
    if refusal:
        form.is_valid()  # keep what the rep wrote on the page; nothing is sent or logged
        form.add_error(None, refusal)
        return _render_work(request, task, email_form=form)
    if not form.is_valid():
        return _render_work(request, task, email_form=form)
    deliver = form.cleaned_data["action"] == "send"
    asset = _asset_in(task, form.cleaned_data["body"])
    try:
        email_send_manual(
            task=task,
            rep=request.user,
            subject=form.cleaned_data["subject"],
            body=form.cleaned_data["body"],
            now=timezone.now(),
            deliver=deliver,
            asset=asset,
        )
    except TaskClosed as exc:
        messages.info(request, str(exc))
    except EmailRefused as exc:
        form.add_error(None, str(exc))
        return _render_work(request, task, email_form=form)
    else:
        verb = "Sent" if deliver else "Logged as sent elsewhere:"
        messages.success(request, f"{verb} “{form.cleaned_data['subject']}” to {task.lead}.")
    return _go_next(request, task, form.cleaned_data.get("next"))


def _asset_in(task: Task, body: str) -> object | None:
    """The suggested asset when the email carries its link: the lead has now had it."""
    asset = _suggested(task)
    return asset if asset and asset.url in body else None


@login_required
@require_POST
def work_snooze(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for_user(request.user, task_id)
    now = timezone.now()
    form = SnoozeForm(request.POST, prefix="snooze", tz=lead_timezone(task.lead), now=now)
    if not form.is_valid():
        return _render_work(request, task, snooze_form=form)
    if not task.is_pending:
        messages.info(request, "This task was already worked.")
        return _go_next(request, task, form.cleaned_data.get("next"))
    until = form.cleaned_data["until_at"]
    task_snooze(task=task, until=until, reason=form.cleaned_data["reason"], now=now)
    when = spoken_time(until, tz=lead_timezone(task.lead), now=now)
    messages.success(request, f"Snoozed {task.lead} until {when} (their time).")
    return _go_next(request, task, form.cleaned_data.get("next"))


@login_required
@require_POST
def work_skip(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for_user(request.user, task_id)
    form = SkipForm(request.POST, prefix="skip")
    if not form.is_valid():
        return _render_work(request, task, skip_form=form)
    if task_skip(task=task, reason=form.cleaned_data["reason"], at=timezone.now()):
        messages.success(request, f"Skipped this step for {task.lead}.")
    else:
        messages.info(request, "This task was already worked.")
    return _go_next(request, task, form.cleaned_data.get("next"))


def _go_next(request: HttpRequest, task: Task, prefer: int | None) -> HttpResponse:
    """One request logs and moves on: to the next pending item of the same queue."""
    order = selectors.queue_order(rep=task.rep, now=timezone.now())
    following = order.next_pending_after(task.id, prefer=prefer)
    if following is None:
        messages.info(request, "That was the last one in today's queue. Well done.")
        return redirect(_today_url(task.rep, request))
    return redirect("cadences-work", task_id=following)


# --- the work screen ----------------------------------------------------------------------


def _outcome_form_kwargs(task: Task, now: dt.datetime) -> dict[str, object]:
    tz = lead_timezone(task.lead)
    return {"channel": task.channel, "tz": tz, "now": now, "choices": _choices(task, now)}


def _choices(task: Task, now: dt.datetime) -> list:
    country = task.step.cadence.holiday_country if task.step else ""
    return callback_choices(tz=lead_timezone(task.lead), now=now, holiday_country=country)


def _suggested(task: Task) -> object | None:
    if not hasattr(task, "_suggested_asset"):
        stage = (task.step.asset_stage if task.step else "") or task.lead.stage
        task._suggested_asset = suggested_asset(task.lead, stage)
    return task._suggested_asset


def _render_work(
    request: HttpRequest,
    task: Task,
    *,
    outcome_form: OutcomeForm | None = None,
    email_form: EmailForm | None = None,
    snooze_form: SnoozeForm | None = None,
    skip_form: SkipForm | None = None,
) -> HttpResponse:
    """The work screen; a form passed in (bound, with its errors) replaces the blank one."""
    now = timezone.now()
    order = selectors.queue_order(rep=task.rep, now=now)
    previous, following, position = order.neighbours(task.id)
    initial = {"next": order.next_pending_after(task.id)}
    tz = lead_timezone(task.lead)
    context = {
        "nav": "today",
        "queue_position": position,
        "queue_total": len(order.ids),
        "queue_pending": len(order.pending_ids()),
        "previous_id": previous,
        "next_id": following,
        "next_pending": initial["next"],
        "rep_query": _rep_query(request, task.rep),
        **_lead_context(task, now),
        "outcome_form": outcome_form
        or OutcomeForm(
            initial={**initial, "callback": "next_day"}, **_outcome_form_kwargs(task, now)
        ),
        "snooze_form": snooze_form or SnoozeForm(initial=initial, prefix="snooze", tz=tz, now=now),
        "skip_form": skip_form or SkipForm(initial=initial, prefix="skip"),
        "show_snooze": snooze_form is not None,
        "show_skip": skip_form is not None,
        "sender": sender_address(request.user),
    }
    if task.channel == "email":
        context["email_refusal"] = email_refusal(task.lead)
        context["email_form"] = email_form or _composer(request, task, initial)
    return _render(request, "cadences/work.html", context)


def _lead_context(task: Task, now: dt.datetime) -> dict[str, object]:
    """What the rep needs to make this touch count: who, when, what so far, what to bring."""
    lead = task.lead
    tz = lead_timezone(lead)
    lead_now = now.astimezone(ZoneInfo(tz))
    callbacks = selectors.pending_callbacks(lead, exclude_task=task)
    return {
        "task": task,
        "lead": lead,
        "step": task.step,
        "tz": tz,
        "lead_clock": f"{lead_now:%a %H:%M}",
        "lead_today": lead_now.date().isoformat(),
        "in_calling_hours": selectors.calling_hours_now(tz, now),
        "step_label": selectors.step_label(
            task,
            task.enrolment.cadence.name if task.enrolment_id else None,
            task.step.position if task.step else None,
            selectors.cadence_length(task),
        ),
        "touch_number": lead.touch_count + 1,
        "due_text": _local_text(task.due_at, tz),
        "callback_texts": [_local_text(callback.due_at, tz) for callback in callbacks],
        "timeline": timeline.lead_timeline(lead),
        "colleagues": timeline.account_colleagues(lead),
        "asset": _suggested(task),
        "asset_stage": (task.step.asset_stage if task.step else "") or lead.stage,
        "choices": _choices(task, now),
        **_reason(task, now),
    }


def _local_text(at: dt.datetime, tz: str) -> str:
    """A lead-local time as text ("Tue 4 Mar 08:30"); templates would convert a datetime."""
    local = at.astimezone(ZoneInfo(tz))
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _reason(task: Task, now: dt.datetime) -> dict[str, str]:
    """The queue's reason badge for this task, as the Today page shows it."""
    candidate = scheduling.QueueCandidate(
        task_id=task.id,
        channel=task.channel,
        kind=task.kind,
        step_position=task.step.position if task.step else None,
        due_at=task.due_at,
        status=task.status,
    )
    reason = scheduling.queue_reason(candidate, rep_day(task.rep, None, now).start)
    return {"reason": reason, "reason_label": selectors.REASON_LABELS.get(reason, reason)}


def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """Render with the viewer's zone active, so timeline times read as their own clock."""
    with timezone.override(ZoneInfo(rep_timezone(request.user))):
        return render(request, template, context)


def _composer(request: HttpRequest, task: Task, initial: dict) -> EmailForm:
    """The step's copy rendered for this lead; on a template error, an empty composer."""
    source = task.variant or task.step
    subject, body = "", ""
    if source is not None and (source.subject or source.body):
        try:
            subject, body = copy.render_email(
                subject=source.subject,
                body=source.body,
                lead=task.lead,
                rep=request.user,
                asset=_suggested(task),
            )
        except copy.CopyError as exc:
            messages.error(request, f"The step's email template does not render ({exc}).")
    return EmailForm(initial={**initial, "subject": subject, "body": body, "action": "send"})


# --- managers -------------------------------------------------------------------------------


@login_required
@user_passes_test(is_manager)
def reports(request: HttpRequest) -> HttpResponse:
    return render(request, "cadences/reports.html", {"nav": "reports"})
