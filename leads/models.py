"""People and what happened with them: accounts, leads, touches, signals, reps' settings."""

from __future__ import annotations

import secrets
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower, Upper
from django.utils.timezone import now


def validate_iana_timezone(value: str) -> None:
    if not value:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin)") from None


class Channel(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MAIL = "mail", "Mail"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social"
    MEETING = "meeting", "Meeting"
    TASK = "task", "Task"


class Outcome(models.TextChoices):
    CONNECTED = "connected", "Connected"
    VOICEMAIL = "voicemail", "Voicemail"
    NO_ANSWER = "no_answer", "No answer"
    BAD_NUMBER = "bad_number", "Bad number"
    SENT = "sent", "Sent"
    REPLIED = "replied", "Replied"
    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    NOT_INTERESTED = "not_interested", "Not interested"
    BOUNCED = "bounced", "Bounced"


CONNECT_OUTCOMES = ("connected", "replied", "meeting_booked")


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    WORKING = "working", "Working"
    NURTURING = "nurturing", "Nurturing"
    MEETING = "meeting", "Meeting"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    UNRESPONSIVE = "unresponsive", "Unresponsive"


class BuyingStage(models.TextChoices):
    AWARENESS = "awareness", "Awareness"
    CONSIDERATION = "consideration", "Consideration"
    DECISION = "decision", "Decision"


class SignalKind(models.TextChoices):
    PRICING_PAGE_VISIT = "pricing_page_visit", "Pricing page visit"
    FORM_SUBMITTED = "form_submitted", "Form submitted"
    LINK_CLICKED = "link_clicked", "Link clicked"
    EMAIL_OPENED = "email_opened", "Email opened"
    REPLIED = "replied", "Replied"
    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    BOUNCED = "bounced", "Bounced"
    UNSUBSCRIBED = "unsubscribed", "Unsubscribed"


INTENT_SIGNALS = ("pricing_page_visit", "form_submitted", "link_clicked")


class Account(models.Model):
    """A company. Its leads are the buying committee: one conversation."""

    name = models.CharField(max_length=200)
    domain = models.CharField(max_length=200, blank=True, db_index=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="account_name_unique_ci"),
        ]
        indexes = [
            # name__iexact (every lead with a company) compiles to UPPER(name) on
            # PostgreSQL, which the LOWER() unique index cannot serve.
            models.Index(Upper("name"), name="account_name_upper"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Lead(models.Model):
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=200, blank=True)
    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="leads",
    )
    source = models.CharField(max_length=100, blank=True, db_index=True)
    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    stage = models.CharField(
        max_length=20, choices=BuyingStage.choices, default=BuyingStage.AWARENESS
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="leads")
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validate_iana_timezone], help_text="IANA name"
    )
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=100, blank=True)
    do_not_email = models.BooleanField(default=False)
    do_not_call = models.BooleanField(default=False)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    bounced_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    won_at = models.DateTimeField(null=True, blank=True, db_index=True)
    first_touched_at = models.DateTimeField(null=True, blank=True)
    last_touched_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    touch_count = models.PositiveIntegerField(default=0, help_text="Outbound touches so far")
    # Speed to lead, kept with each touch so the report reads leads, not 10M touches.
    first_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="First outbound touch at or after creation"
    )
    first_connect_at = models.DateTimeField(
        null=True, blank=True, help_text="First connecting touch at or after creation"
    )
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A lead's email is its identity for import and API: never two records.
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="lead_email_unique_ci"
            ),
            models.CheckConstraint(
                condition=~models.Q(email="", phone=""), name="lead_has_email_or_phone"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "status"], name="lead_owner_status"),
            models.Index(fields=["account"], name="lead_account"),
            # email__iexact (every API post, capture and match) compiles to UPPER(email);
            # the partial LOWER() unique index above cannot serve it: 2 s a lookup at 1M.
            models.Index(Upper("email"), name="lead_email_upper"),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.phone

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def email_stopped(self) -> bool:
        """True when no email may reach this lead, for good or by choice."""
        return bool(self.do_not_email or self.unsubscribed_at or self.bounced_at)

    def clean(self) -> None:
        if not self.email and not self.phone:
            raise ValidationError("A lead needs an email or a phone number.")


class Touch(models.Model):
    """One contact with a lead, made by a rep, the cadence, or logged by another system."""

    class Direction(models.TextChoices):
        OUTBOUND = "outbound", "Outbound"
        INBOUND = "inbound", "Inbound"

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="touches")
    # PROTECT: a rep who made touches is history; they leave by being made inactive.
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="touches",
    )
    channel = models.CharField(max_length=20, choices=Channel.choices)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.OUTBOUND
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices, blank=True)
    occurred_at = models.DateTimeField(default=now)
    notes = models.TextField(blank=True)
    automated = models.BooleanField(default=False)
    task = models.ForeignKey(
        "cadences.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="touches"
    )
    step = models.ForeignKey(
        "cadences.Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="touches"
    )
    enrolment = models.ForeignKey(
        "cadences.Enrolment",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="touches",
    )
    asset = models.ForeignKey(
        "leads.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="touches"
    )
    callback_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    source = models.CharField(max_length=20, default="ui", help_text="ui, api, cadence, import")
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["lead", "occurred_at"], name="touch_lead_time"),
            models.Index(fields=["rep", "occurred_at"], name="touch_rep_time"),
            models.Index(fields=["occurred_at"], name="touch_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.outcome or ''} {self.occurred_at:%Y-%m-%d}"

    @property
    def is_outbound(self) -> bool:
        return self.direction == self.Direction.OUTBOUND


class Signal(models.Model):
    """Something a lead did that a system told us about: a visit, a reply, a bounce."""

    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.PROTECT, related_name="signals"
    )
    lead_email = models.EmailField(blank=True, help_text="As received, kept for unknown leads")
    kind = models.CharField(max_length=30, choices=SignalKind.choices)
    occurred_at = models.DateTimeField(default=now)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["lead", "occurred_at"], name="signal_lead_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class Asset(models.Model):
    """Content a touch can carry so it adds value: a case study, a guide, a video."""

    class Kind(models.TextChoices):
        CASE_STUDY = "case_study", "Case study"
        GUIDE = "guide", "Guide"
        ARTICLE = "article", "Article"
        VIDEO = "video", "Video"
        WEBINAR = "webinar", "Webinar"
        CALCULATOR = "calculator", "ROI calculator"

    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ARTICLE)
    url = models.URLField(max_length=500)
    summary = models.TextField(blank=True)
    for_awareness = models.BooleanField(default=False)
    for_consideration = models.BooleanField(default=False)
    for_decision = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title

    @property
    def stages(self) -> list[str]:
        return [s for s in BuyingStage.values if getattr(self, f"for_{s}")]


class RepProfile(models.Model):
    """A rep's working settings: where their day is, how much it can hold."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rep_profile"
    )
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validate_iana_timezone], help_text="IANA name"
    )
    call_capacity = models.PositiveIntegerField(default=50, help_text="Calls per day")
    email_capacity = models.PositiveIntegerField(default=50, help_text="Manual emails per day")
    holiday_country = models.CharField(
        max_length=2, blank=True, help_text="ISO country code for public holidays"
    )
    signature = models.TextField(blank=True)
    booking_url = models.URLField(blank=True, help_text="Meeting booking link for emails")
    calendar_token = models.CharField(max_length=64, blank=True, db_index=True)
    last_assigned_at = models.DateTimeField(
        null=True, blank=True, help_text="When routing last gave this rep a new lead"
    )
    routing_seq = models.PositiveBigIntegerField(
        default=0, help_text="Round-robin order: the rep with the lowest goes next"
    )

    class Meta:
        indexes = [
            # The routing rotation (leads.services.next_owner) walks it in this order.
            models.Index(fields=["routing_seq", "user"], name="repprofile_rotation"),
        ]

    def __str__(self) -> str:
        return f"Settings of {self.user}"

    def new_calendar_token(self) -> str:
        self.calendar_token = secrets.token_urlsafe(32)
        return self.calendar_token


class TimeOff(models.Model):
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="time_off"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="time_off_ordered"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rep} off {self.starts_on} to {self.ends_on}"


class ApiToken(models.Model):
    """A bearer token for the HTTP API. Only its hash is stored; it is shown once."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise it")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- lead intake: routing, web capture, suppression, CSV imports ----------------------


class RoutingRule(models.Model):
    """Where a new lead goes: the first active rule (by priority) matching its source and tags."""

    name = models.CharField(max_length=100)
    priority = models.PositiveIntegerField(default=100, help_text="Lower runs first")
    source = models.CharField(
        max_length=100, blank=True, help_text="This lead source exactly (any case); blank: any"
    )
    tag = models.CharField(
        max_length=60, blank=True, help_text="Match leads carrying this tag (any case); blank: any"
    )
    cadence = models.ForeignKey(
        "cadences.Cadence",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="routing_rules",
        help_text="Enrol matching leads in this cadence",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="routing_rules_owned",
        help_text="A fixed owner; leave blank to rotate among the pool",
    )
    pool = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="routing_pools",
        help_text="Reps who take turns (active reps not on time off)",
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        help_text="The pool's last pick: the next lead goes to the one after",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


def new_capture_key() -> str:
    return secrets.token_urlsafe(18)


class CaptureForm(models.Model):
    """A web form on a site without a backend, posting leads to /capture/<public_key>/."""

    name = models.CharField(max_length=100)
    public_key = models.CharField(max_length=40, unique=True, default=new_capture_key)
    source = models.CharField(max_length=100, blank=True, help_text="Source stamped on its leads")
    cadence = models.ForeignKey(
        "cadences.Cadence",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="capture_forms",
        help_text="Default cadence when no routing rule names one",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Suppression(models.Model):
    """An email address or a whole domain that no import, form or API call may add back."""

    email = models.CharField(max_length=254, blank=True, help_text="Lower case")
    domain = models.CharField(max_length=200, blank=True, help_text="Lower case, e.g. example.com")
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(~models.Q(email="") & models.Q(domain=""))
                | (models.Q(email="") & ~models.Q(domain="")),
                name="suppression_email_xor_domain",
            ),
            models.UniqueConstraint(
                fields=["email"], condition=~models.Q(email=""), name="suppression_email_unique"
            ),
            models.UniqueConstraint(
                fields=["domain"], condition=~models.Q(domain=""), name="suppression_domain_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.email or f"@{self.domain}"

    def clean(self) -> None:
        self.email = self.email.strip().lower()
        self.domain = self.domain.strip().lower().lstrip("@")
        if bool(self.email) == bool(self.domain):
            raise ValidationError("Give an email address or a domain, not both.")


class LeadImportManager(models.Manager):
    """Never load the uploaded file with the row: it is up to 50 MB and read in windows."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().defer("upload")


class LeadImport(models.Model):
    """A CSV import from the browser: its file, its settings, and its progress for the page.

    The file is kept in the database, not on disk: the web and worker containers share
    the database but no volume, and the worker reads the file back in 1 MB windows.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Waiting for the column mapping"
        QUEUED = "queued", "Queued"
        CHECKING = "checking", "Checking rows"
        IMPORTING = "importing", "Importing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lead_imports"
    )
    created_at = models.DateTimeField(default=now)
    filename = models.CharField(max_length=255)
    upload = models.BinaryField(editable=False)
    size = models.PositiveBigIntegerField(default=0)
    delimiter = models.CharField(max_length=1, default=",")
    header = models.JSONField(default=list, blank=True, help_text="The file's column names")
    mapping = models.JSONField(default=list, blank=True, help_text="Lead field per column")
    default_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    route = models.BooleanField(default=False, help_text="Owner and cadence from routing rules")
    cadence = models.ForeignKey(
        "cadences.Cadence", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=100, blank=True)
    strict = models.BooleanField(default=False, help_text="All or nothing")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[line, reason] per bad row")
    notes = models.JSONField(default=list, blank=True, help_text="Unknown columns, refusals")
    failure = models.CharField(max_length=500, blank=True, help_text="Why nothing was imported")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = LeadImportManager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, self.rows_done * 100 // self.rows_total)


# --- audit log ---------------------------------------------------------------------------


class AuditEntry(models.Model):
    """Who changed what, with the values before and after (``followup.audit``).

    Read-only in admin, for managers. The actor's name is copied in, so the entry
    reads the same after the user is renamed; the target is named, not a foreign key,
    so an entry outlives any row it speaks of.
    """

    at = models.DateTimeField(default=now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_entries",
    )
    actor_name = models.CharField(max_length=150, blank=True, help_text="Blank: the system")
    action = models.CharField(max_length=50, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    via = models.CharField(max_length=200, blank=True, help_text="Request path or command")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.action} {self.target_repr}"
