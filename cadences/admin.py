"""Admin for cadences and what runs them: managers shape templates here and read the log.

Cadences and their steps are the managers' to edit (`cadences.admin_templates`: steps
inline in order, a timeline preview, a value check, clone/activate/export/import).
Enrolments and tasks are the engine's: their engine-owned fields are read-only. The
outbox, the engine's event log, the daily queues and the worker's heartbeat are
read-only altogether.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from cadences import admin_templates  # noqa: F401  (registers cadences, steps, variants)
from cadences.models import (
    DailyQueue,
    DecidedLeadDay,
    Enrolment,
    EnrolmentEvent,
    ForecastDay,
    Heartbeat,
    OutboundEmail,
    ReportSummary,
    StepResultDay,
    Task,
    TouchDay,
)
from cadences.services import (
    enrolment_exit,
    enrolment_pause,
    enrolment_refusal,
    enrolment_resume,
    enrolment_start,
    task_snooze,
)
from leads.admin import JoinedLabelsMixin, ReadOnlyAdminMixin, TeamMemberFilter


class EnrolmentStartForm(forms.ModelForm):
    """Refuses, with the engine's own reason, a lead that cannot start the cadence."""

    def clean(self) -> dict:
        cleaned = super().clean()
        lead, cadence = cleaned.get("lead"), cleaned.get("cadence")
        if lead and cadence:
            reason = enrolment_refusal(lead=lead, cadence=cadence)
            if reason:
                raise ValidationError(f"Cannot enrol: {reason}.")
            if not (cleaned.get("owner") or lead.owner_id):
                raise ValidationError("Cannot enrol: the lead has no owner; choose one.")
        return cleaned


class TaskChangeForm(forms.ModelForm):
    def clean_due_at(self) -> object:
        due_at = self.cleaned_data["due_at"]
        if "due_at" in self.changed_data and due_at <= timezone.now():
            raise ValidationError("Move a task to a time still ahead.")
        return due_at


class EnrolmentEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = EnrolmentEvent
    fields = ("occurred_at", "kind", "step_position", "message")
    readonly_fields = fields
    extra = 0


ENROLMENT_ENGINE_FIELDS = (
    "status",
    "exit_reason",
    "position",
    "variant_seed",
    "started_at",
    "paused_at",
    "ended_at",
)


@admin.register(Enrolment)
class EnrolmentAdmin(JoinedLabelsMixin, admin.ModelAdmin):
    list_display = (
        "lead",
        "cadence",
        "owner",
        "status",
        "position",
        "started_at",
        "ended_at",
        "exit_reason",
    )
    list_select_related = ("lead", "cadence", "owner")
    list_filter = (
        "status",
        "cadence",
        ("owner", TeamMemberFilter),
        ("started_at", admin.DateFieldListFilter),
    )
    search_fields = ("lead__email", "lead__first_name", "lead__last_name", "cadence__name")
    autocomplete_fields = ("lead", "owner")
    show_full_result_count = False
    inlines = (EnrolmentEventInline,)
    actions = ("pause_selected", "resume_selected", "exit_selected")

    def get_inlines(self, request: HttpRequest, obj: Enrolment | None) -> tuple:
        return self.inlines if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Enrolment | None = None) -> tuple:
        if obj is None:
            return ("lead", "cadence", "owner")
        return ("lead", "cadence", "owner", *ENROLMENT_ENGINE_FIELDS)

    def get_readonly_fields(self, request: HttpRequest, obj: Enrolment | None = None) -> tuple:
        # The engine moves an enrolment on; managers steer it with the actions.
        return () if obj is None else self.get_fields(request, obj)

    def get_form(self, request: HttpRequest, obj: Enrolment | None = None, **kwargs):
        if obj is None:
            kwargs["form"] = EnrolmentStartForm
        form = super().get_form(request, obj, **kwargs)
        if obj is None:
            form.base_fields["owner"].required = False
            form.base_fields["owner"].help_text = "Blank: the lead's owner."
        return form

    def save_model(self, request: HttpRequest, obj: Enrolment, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # Started like any enrolment: a variant seed, the log, its first step due now.
        owner = obj.owner if obj.owner_id else None
        started = enrolment_start(
            lead=obj.lead, cadence=obj.cadence, now=timezone.now(), owner=owner
        )
        for field in Enrolment._meta.concrete_fields:
            setattr(obj, field.attname, getattr(started, field.attname))
        obj._state.adding, obj._state.db = False, started._state.db

    def _each(self, request: HttpRequest, queryset: QuerySet[Enrolment], verb: str, act) -> None:
        now = timezone.now()
        enrolments = list(queryset)
        changed = sum(bool(act(enrolment, now)) for enrolment in enrolments)
        skipped = len(enrolments) - changed
        note = f" ({skipped} left as they were: not in a state to be {verb})" if skipped else ""
        self.message_user(request, f"{verb.capitalize()} {changed} enrolment(s){note}.")

    @admin.action(description="Pause selected enrolments", permissions=["change"])
    def pause_selected(self, request: HttpRequest, queryset: QuerySet[Enrolment]) -> None:
        reason = f"by {request.user.get_username()}"
        self._each(
            request,
            queryset,
            "paused",
            lambda e, now: enrolment_pause(enrolment=e, now=now, reason=reason),
        )

    @admin.action(description="Resume selected enrolments", permissions=["change"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Enrolment]) -> None:
        self._each(
            request, queryset, "resumed", lambda e, now: enrolment_resume(enrolment=e, now=now)
        )

    @admin.action(description="Exit selected enrolments", permissions=["change"])
    def exit_selected(self, request: HttpRequest, queryset: QuerySet[Enrolment]) -> None:
        reason = f"manager ({request.user.get_username()})"
        self._each(
            request,
            queryset,
            "exited",
            lambda e, now: enrolment_exit(enrolment=e, reason=reason, now=now),
        )


@admin.register(Task)
class TaskAdmin(JoinedLabelsMixin, admin.ModelAdmin):
    list_display = (
        "due_at",
        "lead",
        "rep",
        "kind",
        "channel",
        "mode",
        "status",
        "step",
        "status_reason",
    )
    list_select_related = ("lead", "rep", "step__cadence")
    list_filter = (
        "status",
        "kind",
        "channel",
        "mode",
        ("rep", TeamMemberFilter),
        ("step__cadence", admin.RelatedFieldListFilter),
        ("due_at", admin.DateFieldListFilter),
    )
    search_fields = ("lead__email", "lead__first_name", "lead__last_name", "title")
    autocomplete_fields = ("rep",)
    show_full_result_count = False
    form = TaskChangeForm
    fields = (
        ("lead", "rep"),
        ("kind", "channel", "mode"),
        ("enrolment", "step", "variant"),
        "title",
        ("due_at", "unmoved_due_at", "hot_date"),
        "due_reasons",
        ("status", "status_reason", "completed_at"),
        ("touch", "created_at"),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tasks come from cadences, reps' callbacks and intent signals, never by hand.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Task | None = None) -> tuple:
        # A manager may hand a pending task to another rep, or move it to a later time.
        editable = ("rep", "title", "due_at") if obj is not None and obj.is_pending else ()
        return tuple(name for name in flatten(self.fields) if name not in editable)

    def save_model(self, request: HttpRequest, task: Task, form, change: bool) -> None:
        moved_to = task.due_at if "due_at" in form.changed_data else None
        if moved_to:
            task.due_at = form.initial["due_at"]
        super().save_model(request, task, form, change)
        if moved_to:
            # A snooze: recorded on the enrolment's log, and no rule moves it back.
            reason = f"moved by {request.user.get_username()}"
            task_snooze(task=task, until=moved_to, reason=reason, now=timezone.now())


@admin.register(OutboundEmail)
class OutboundEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "lead",
        "to_email",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
    )
    list_select_related = ("lead",)
    list_filter = ("status", ("created_at", admin.DateFieldListFilter))
    search_fields = ("to_email", "subject", "message_id", "lead__email")
    show_full_result_count = False


@admin.register(EnrolmentEvent)
class EnrolmentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "enrolment", "kind", "step_position", "message")
    list_select_related = ("enrolment__lead", "enrolment__cadence")
    list_filter = ("kind", ("enrolment__cadence", admin.RelatedFieldListFilter))
    search_fields = ("message", "enrolment__lead__email")
    show_full_result_count = False


@admin.register(DailyQueue)
class DailyQueueAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "date",
        "rep",
        "calls_progress",
        "emails_progress",
        "other_progress",
        "rolled_over_calls",
        "rolled_over_emails",
        "refreshed_at",
    )
    list_select_related = ("rep",)
    list_filter = (("rep", TeamMemberFilter),)
    search_fields = ("rep__username", "rep__first_name", "rep__last_name")
    date_hierarchy = "date"

    @admin.display(description="calls")
    def calls_progress(self, queue: DailyQueue) -> str:
        return f"{queue.calls_done}/{queue.calls_total}"

    @admin.display(description="emails")
    def emails_progress(self, queue: DailyQueue) -> str:
        return f"{queue.emails_done}/{queue.emails_total}"

    @admin.display(description="other")
    def other_progress(self, queue: DailyQueue) -> str:
        return f"{queue.other_done}/{queue.other_total}"


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """When the worker's tick last ran: the first place to look when nothing goes out."""

    list_display = ("name", "at", "detail")
    search_fields = ("name",)


@admin.register(ReportSummary)
class ReportSummaryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """How fresh each pre-aggregated report table is; the worker refreshes them hourly."""

    list_display = ("name", "through_id", "time_zone", "refreshed_at", "as_of_day")


@admin.register(TouchDay)
class TouchDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Touches per day, channel and outcome, as the channel-mix report reads them."""

    list_display = ("day", "channel", "direction", "outcome", "n")
    list_filter = ("channel", "direction", "outcome")
    date_hierarchy = "day"
    show_full_result_count = False


@admin.register(ForecastDay)
class ForecastDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Each rep's forecast load per day, as the worker's last refresh made it (the team's
    load-forecast report reads it)."""

    list_display = ("rep", "day", "calls", "emails", "auto_emails", "other")
    list_select_related = ("rep",)
    date_hierarchy = "day"
    show_full_result_count = False


@admin.register(StepResultDay)
class StepResultDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Step tasks per day created, step and variant, as the step-results report reads them."""

    list_display = ("day", "step", "variant", "reached", "on_time", "responded", "exited")
    list_select_related = ("step__cadence", "variant__step__cadence")
    date_hierarchy = "day"
    show_full_result_count = False


@admin.register(DecidedLeadDay)
class DecidedLeadDayAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Decided leads per day and shape, as the best-count report reads them."""

    list_display = (
        "day",
        "touches",
        "under_1d",
        "under_2d",
        "under_4d",
        "under_7d",
        "won",
        "leads",
    )
    list_filter = ("won",)
    date_hierarchy = "day"
    show_full_result_count = False
