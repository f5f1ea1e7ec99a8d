"""Cadences, their steps, enrolments, the tasks they make due, the outbox, daily queues."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now

from leads.models import BuyingStage, Channel, Lead, LeadStatus


def default_exit_on() -> list[str]:
    return ["replied", "meeting_booked", "won", "lost", "unsubscribed", "bounced"]


EXIT_KINDS = (
    "replied",
    "meeting_booked",
    "won",
    "lost",
    "unsubscribed",
    "bounced",
    "not_interested",
    "connected",
    "bad_number",
)


class Cadence(models.Model):
    """A template: how many touches, how far apart, on which channels."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    business_days_only = models.BooleanField(default=True)
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO code whose public holidays are skipped"
    )
    min_gap_hours = models.PositiveIntegerField(
        default=20, help_text="No touch sooner than this after the lead's previous one"
    )
    exit_on = models.JSONField(default=default_exit_on, blank=True)
    on_complete_status = models.CharField(max_length=20, choices=LeadStatus.choices, blank=True)
    on_complete_cadence = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="fed_by"
    )
    pause_account_on_reply = models.BooleanField(
        default=True,
        help_text="A reply or meeting from one person pauses the others at the same account",
    )
    is_active = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Step(models.Model):
    class Mode(models.TextChoices):
        MANUAL = "manual", "Manual (rep's queue)"
        AUTO = "auto", "Automatic (worker sends)"

    cadence = models.ForeignKey(Cadence, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(help_text="1-based order in the cadence")
    channel = models.CharField(
        max_length=20, choices=[c for c in Channel.choices if c[0] != "meeting"]
    )
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.MANUAL)
    wait_days = models.PositiveIntegerField(default=0)
    wait_hours = models.PositiveIntegerField(default=0)
    window_start = models.TimeField(default=dt.time(9, 0))
    window_end = models.TimeField(default=dt.time(17, 0))
    title = models.CharField(max_length=200, blank=True)
    script = models.TextField(blank=True)
    questions = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    asset_stage = models.CharField(max_length=20, choices=BuyingStage.choices, blank=True)
    breakup = models.BooleanField(default=False, help_text="The 'dead horse' close")
    removed_at = models.DateTimeField(
        null=True, blank=True, help_text="Removed from the template; enrolments skip it"
    )

    class Meta:
        ordering = ["cadence", "position"]
        indexes = [models.Index(fields=["cadence", "position"], name="step_cadence_position")]

    def __str__(self) -> str:
        return f"{self.cadence} · step {self.position} ({self.channel})"

    @property
    def is_auto_email(self) -> bool:
        return self.channel == Channel.EMAIL and self.mode == self.Mode.AUTO

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.mode == self.Mode.AUTO and self.channel != Channel.EMAIL:
            errors["mode"] = "Only email steps can be automatic."
        if self.mode == self.Mode.AUTO and not (self.subject and self.body):
            errors["subject"] = "An automatic email needs a subject and a body."
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            errors["window_end"] = "The window must end after it starts."
        if errors:
            raise ValidationError(errors)


class StepVariant(models.Model):
    """An A/B variant of an email step's copy; each enrolment gets one."""

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=20, default="B")
    subject = models.CharField(max_length=300)
    body = models.TextField()

    class Meta:
        ordering = ["step", "label"]
        constraints = [
            models.UniqueConstraint(fields=["step", "label"], name="variant_label_unique")
        ]

    def __str__(self) -> str:
        return f"{self.step} variant {self.label}"


class Enrolment(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"
        EXITED = "exited", "Exited"

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="enrolments")
    cadence = models.ForeignKey(Cadence, on_delete=models.PROTECT, related_name="enrolments")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolments"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    exit_reason = models.CharField(max_length=200, blank=True)
    position = models.PositiveIntegerField(
        default=0, help_text="Position of the last step done (0: none yet)"
    )
    variant_seed = models.PositiveIntegerField(default=0, help_text="Picks A/B variants")
    started_at = models.DateTimeField(default=now)
    paused_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            # A lead runs a cadence once at a time; paused counts as running.
            models.UniqueConstraint(
                fields=["lead", "cadence"],
                condition=models.Q(status__in=["active", "paused"]),
                name="one_running_enrolment_per_lead_cadence",
            )
        ]
        indexes = [models.Index(fields=["status", "cadence"], name="enrolment_status_cadence")]

    def __str__(self) -> str:
        return f"{self.lead} in {self.cadence} ({self.status})"


class Task(models.Model):
    """One due action: a cadence step, a promised callback, or a hot call."""

    class Kind(models.TextChoices):
        STEP = "step", "Cadence step"
        CALLBACK = "callback", "Callback"
        HOT = "hot", "Hot lead"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    FINISHED = ("done", "skipped", "sent", "failed")

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="tasks")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks"
    )
    enrolment = models.ForeignKey(
        Enrolment, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.PROTECT, related_name="tasks"
    )
    variant = models.ForeignKey(
        StepVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.STEP)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    mode = models.CharField(max_length=10, choices=Step.Mode.choices, default=Step.Mode.MANUAL)
    title = models.CharField(max_length=200, blank=True)
    due_at = models.DateTimeField()
    due_reasons = models.JSONField(default=list, blank=True)
    unmoved_due_at = models.DateTimeField(null=True, blank=True)
    hot_date = models.DateField(null=True, blank=True, help_text="Rep-local day of a hot call")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=300, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    touch = models.OneToOneField(
        "leads.Touch",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="completed_task",
    )
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            # One task per enrolment step: a tick that runs twice cannot make two.
            models.UniqueConstraint(
                fields=["enrolment", "step"],
                condition=models.Q(kind="step"),
                name="one_task_per_enrolment_step",
            ),
            # At most one hot call per lead per (rep-local) day.
            models.UniqueConstraint(
                fields=["lead", "hot_date"],
                condition=models.Q(kind="hot"),
                name="one_hot_call_per_lead_day",
            ),
        ]
        indexes = [
            models.Index(
                fields=["rep", "due_at"],
                condition=models.Q(status="pending", mode="manual"),
                name="task_pending_manual_rep_due",
            ),
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="pending", mode="auto"),
                name="task_pending_auto_due",
            ),
            models.Index(fields=["rep", "completed_at"], name="task_rep_completed"),
            models.Index(fields=["lead", "status"], name="task_lead_status"),
            # Every tick asks which reps' tasks were created or finished since the last
            # one (queues._reps_changed_since); without these it reads the whole table.
            models.Index(fields=["created_at"], name="task_created"),
            models.Index(fields=["completed_at"], name="task_completed"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.channel} for {self.lead} at {self.due_at}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING


class OutboundEmail(models.Model):
    """The outbox: one row per automated email, whose status records what happened.

    The row is claimed with a compare-and-set on ``status`` and marked ``sending``
    just before its SMTP call, ``sent`` just after, so a crash leaves at most this one
    message uncertain; it then becomes ``unknown`` and is never resent blindly.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        RETRY = "retry", "Waiting to retry"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (check before resending)"
        CANCELLED = "cancelled", "Cancelled"

    task = models.OneToOneField(Task, on_delete=models.PROTECT, related_name="outbound_email")
    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="outbound_emails")
    to_email = models.EmailField()
    from_email = models.CharField(max_length=300)
    subject = models.CharField(max_length=300)
    body_text = models.TextField()
    message_id = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=now)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)
    sent_at = models.DateTimeField(null=True, blank=True)
    touch = models.OneToOneField(
        "leads.Touch", null=True, blank=True, on_delete=models.SET_NULL, related_name="email"
    )
    recorded = models.BooleanField(
        default=False, help_text="Its Touch is written and its cadence step finished"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["queued", "retry"]),
                name="outbox_ready",
            ),
            models.Index(
                fields=["lease_until"],
                condition=models.Q(status="sending"),
                name="outbox_sending_lease",
            ),
            models.Index(
                fields=["sent_at"],
                condition=models.Q(status="sent", recorded=False),
                name="outbox_sent_unrecorded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subject} → {self.to_email} ({self.status})"


class EnrolmentEvent(models.Model):
    """The engine's log: what it decided for an enrolment, and why."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField(default=now)
    kind = models.CharField(max_length=30)
    step_position = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["enrolment", "occurred_at"], name="event_enrolment")]

    def __str__(self) -> str:
        return self.message


class DailyQueue(models.Model):
    """A rep's queue for one rep-local date, assembled when the day begins."""

    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_queues"
    )
    date = models.DateField()
    assembled_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()
    calls_total = models.PositiveIntegerField(default=0)
    calls_done = models.PositiveIntegerField(default=0)
    emails_total = models.PositiveIntegerField(default=0)
    emails_done = models.PositiveIntegerField(default=0)
    other_total = models.PositiveIntegerField(default=0)
    other_done = models.PositiveIntegerField(default=0)
    rolled_over_calls = models.PositiveIntegerField(default=0)
    rolled_over_emails = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-date", "rep"]
        constraints = [
            models.UniqueConstraint(fields=["rep", "date"], name="one_queue_per_rep_day")
        ]

    def __str__(self) -> str:
        return f"Queue of {self.rep} for {self.date}"


class Heartbeat(models.Model):
    """When something last ran: the tick (for /readyz and worker_health)."""

    name = models.CharField(max_length=50, unique=True)
    at = models.DateTimeField()
    detail = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.at}"


class TouchDay(models.Model):
    """Touches per day (read in ``time_zone`` of its summary), channel, direction and outcome.

    Pre-aggregated for the channel mix: it counts the touches up to its summary's
    ``through_id``; the report reads any newer touch live, so it is never behind.
    """

    day = models.DateField()
    channel = models.CharField(max_length=20)
    direction = models.CharField(max_length=10)
    outcome = models.CharField(max_length=20, blank=True)
    n = models.PositiveBigIntegerField(default=0, help_text="How many touches")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "channel", "direction", "outcome"], name="one_touch_day_row"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.channel} {self.direction} {self.outcome}: {self.n}"


class ReportSummary(models.Model):
    """How far a pre-aggregated report table goes: the last row it counts, and when."""

    name = models.CharField(max_length=50, unique=True)
    through_id = models.BigIntegerField(default=0)
    time_zone = models.CharField(max_length=64, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # A snapshot made for one day (the load forecast's first day) is only read for it.
    as_of_day = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} through #{self.through_id}"


class ForecastDay(models.Model):
    """One rep's forecast load on one of their days, as the worker's last refresh made it.

    The load forecast's snapshot (``cadences.report_workload.forecast_days_refresh``):
    every active rep's 28 days from the ``TIME_ZONE`` day of the refresh, zeros included,
    so a rep without rows is one who was not an active rep then.
    """

    rep = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    calls = models.PositiveIntegerField(default=0)
    emails = models.PositiveIntegerField(default=0, help_text="Manual emails")
    auto_emails = models.PositiveIntegerField(default=0)
    other = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rep", "day"], name="one_forecast_day_row")]

    def __str__(self) -> str:
        return f"{self.rep_id} {self.day}: {self.calls} calls, {self.emails} emails"


class StepResultDay(models.Model):
    """Step tasks created on a day (read in ``time_zone`` of its summary), per step and
    variant, counted as the step-results report counts them.

    A snapshot rebuilt whole by the worker; the whole team's report sums the period's
    days while it is fresh (``cadences.report_summaries``).
    """

    day = models.DateField()
    step = models.ForeignKey(
        Step, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # As on the task: a deleted variant's counts go to the step's base copy.
    variant = models.ForeignKey(
        StepVariant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reached = models.PositiveIntegerField(default=0)
    on_time = models.PositiveIntegerField(default=0)
    responded = models.PositiveIntegerField(default=0)
    exited = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "step", "variant"], name="one_step_result_day_row"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} step #{self.step_id} variant #{self.variant_id}: {self.reached}"


class DecidedLeadDay(models.Model):
    """Leads decided on a day (read in ``time_zone`` of its summary) with the same shape:
    outbound touches before the decision, gaps under 1, 2, 4 and 7 days, won or not.

    A snapshot rebuilt whole by the worker, counted as the best-count report counts;
    the whole team's report sums the period's days while it is fresh.
    """

    day = models.DateField()
    touches = models.PositiveIntegerField()
    under_1d = models.PositiveIntegerField()
    under_2d = models.PositiveIntegerField()
    under_4d = models.PositiveIntegerField()
    under_7d = models.PositiveIntegerField()
    won = models.BooleanField()
    leads = models.PositiveIntegerField(help_text="How many leads have this shape")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "touches", "under_1d", "under_2d", "under_4d", "under_7d", "won"],
                name="one_decided_lead_day_row",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.touches} touches, won={self.won}: {self.leads}"
