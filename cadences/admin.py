"""Admin for cadences and what runs them: managers shape templates here and read the log.

Cadences and their steps are the managers' to edit. Enrolments and tasks are the
engine's: their engine-owned fields are read-only. The outbox, the engine's event
log, the daily queues and the worker's heartbeat are read-only altogether.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest

from cadences.models import (
    EXIT_KINDS,
    Cadence,
    DailyQueue,
    Enrolment,
    EnrolmentEvent,
    Heartbeat,
    OutboundEmail,
    Step,
    StepVariant,
    Task,
)
from leads.admin import JoinedLabelsMixin, ReadOnlyAdminMixin, TeamMemberFilter, related_count

EXIT_CHOICES = [(kind, kind.replace("_", " ").capitalize()) for kind in EXIT_KINDS]


class CadenceForm(forms.ModelForm):
    exit_on = forms.MultipleChoiceField(
        choices=EXIT_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="A touch outcome, signal or lead status that ends the enrolment.",
    )

    class Meta:
        model = Cadence
        fields = (
            "name",
            "description",
            "is_active",
            "business_days_only",
            "holiday_country",
            "min_gap_hours",
            "exit_on",
            "pause_account_on_reply",
            "on_complete_status",
            "on_complete_cadence",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        # Keep kinds an imported file set that this list does not know, rather than drop them.
        unknown = [k for k in self.initial.get("exit_on") or [] if k not in EXIT_KINDS]
        self.fields["exit_on"].choices = [*EXIT_CHOICES, *((k, k) for k in unknown)]


class StepForm(forms.ModelForm):
    questions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Questions for the rep to ask, one per line.",
    )

    class Meta:
        model = Step
        fields = (
            "cadence",
            "position",
            "channel",
            "mode",
            "wait_days",
            "wait_hours",
            "window_start",
            "window_end",
            "title",
            "script",
            "questions",
            "subject",
            "body",
            "asset_stage",
            "breakup",
        )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        questions = self.initial.get("questions")
        if isinstance(questions, list):
            self.initial["questions"] = "\n".join(questions)

    def clean_questions(self) -> list[str]:
        lines = self.cleaned_data["questions"].splitlines()
        return [line.strip() for line in lines if line.strip()]


class StepFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        seen: set[int] = set()
        for form in self.forms:
            kept = getattr(form, "cleaned_data", None) and not self._should_delete_form(form)
            if not kept or form.instance.removed_at:
                continue
            position = form.cleaned_data.get("position")
            if position in seen:
                raise ValidationError(f"Two steps have position {position}: give each its own.")
            seen.add(position)


STEP_FIELDSETS = (
    (
        None,
        {
            "fields": (
                ("position", "channel", "mode"),
                ("wait_days", "wait_hours"),
                ("window_start", "window_end"),
                "title",
            )
        },
    ),
    (
        "Copy and script",
        {"fields": ("subject", "body", "script", "questions", ("asset_stage", "breakup"))},
    ),
)


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    fieldsets = (*STEP_FIELDSETS, ("Removed", {"fields": ("removed_at",)}))
    readonly_fields = ("removed_at",)
    ordering = ("position",)
    extra = 0
    show_change_link = True  # A/B variants are edited on the step's own page.


@admin.register(Cadence)
class CadenceAdmin(admin.ModelAdmin):
    form = CadenceForm
    list_display = (
        "name",
        "is_active",
        "step_count",
        "running_enrolments",
        "business_days_only",
        "holiday_country",
        "min_gap_hours",
        "on_complete_cadence",
        "updated_at",
    )
    list_select_related = ("on_complete_cadence",)
    list_filter = ("is_active", "business_days_only", "holiday_country")
    search_fields = ("name", "description")
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "description", "is_active")}),
        ("Timing", {"fields": ("business_days_only", "holiday_country", "min_gap_hours")}),
        (
            "Exit and completion",
            {
                "fields": (
                    "exit_on",
                    "pause_account_on_reply",
                    ("on_complete_status", "on_complete_cadence"),
                )
            },
        ),
        ("History", {"fields": (("created_at", "updated_at"),)}),
    )
    inlines = (StepInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cadence]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                step_count=related_count(Step, "cadence", removed_at__isnull=True),
                running=related_count(Enrolment, "cadence", status__in=["active", "paused"]),
            )
        )

    @admin.display(description="steps", ordering="step_count")
    def step_count(self, cadence: Cadence) -> int:
        return cadence.step_count

    @admin.display(description="running enrolments", ordering="running")
    def running_enrolments(self, cadence: Cadence) -> int:
        return cadence.running


class StepVariantInline(admin.TabularInline):
    model = StepVariant
    fields = ("label", "subject", "body")
    extra = 0


@admin.register(Step)
class StepAdmin(JoinedLabelsMixin, admin.ModelAdmin):
    form = StepForm
    list_display = (
        "cadence",
        "position",
        "channel",
        "mode",
        "wait_days",
        "wait_hours",
        "title",
        "removed_at",
    )
    list_select_related = ("cadence",)
    list_filter = ("cadence", "channel", "mode")
    search_fields = ("cadence__name", "title", "subject")
    ordering = ("cadence__name", "position")
    fieldsets = ((None, {"fields": ("cadence",)}), *STEP_FIELDSETS)
    readonly_fields = ("removed_at",)
    inlines = (StepVariantInline,)


@admin.register(StepVariant)
class StepVariantAdmin(JoinedLabelsMixin, admin.ModelAdmin):
    list_display = ("step", "label", "subject")
    list_select_related = ("step__cadence",)
    list_filter = ("step__cadence",)
    search_fields = ("subject", "step__cadence__name")
    autocomplete_fields = ("step",)


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

    def get_readonly_fields(self, request: HttpRequest, obj: Enrolment | None = None) -> tuple:
        # The engine moves an enrolment on; a new one starts active at step 0 and the
        # next tick makes its first step due. Who works it is changed by reassigning.
        if obj is None:
            return ENROLMENT_ENGINE_FIELDS
        return ("lead", "cadence", "owner", *ENROLMENT_ENGINE_FIELDS)


TASK_ENGINE_FIELDS = (
    "status",
    "status_reason",
    "due_reasons",
    "unmoved_due_at",
    "completed_at",
    "touch",
    "created_at",
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
    autocomplete_fields = ("lead", "rep", "enrolment", "step", "variant")
    raw_id_fields = ("touch",)
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Task | None = None) -> tuple:
        # A manager may hand a task to another rep or move it; what it is stays fixed.
        if obj is None:
            return TASK_ENGINE_FIELDS
        fixed = ("lead", "enrolment", "step", "variant", "kind", "channel", "mode", "hot_date")
        return (*fixed, *TASK_ENGINE_FIELDS)


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
