"""Admin for leads and the people who work them: what a manager uses from day one.

Managers are staff in the `managers` group (permissions from migration 0003), not
superusers. Rows that the engine, reps or other systems write (touches, signals,
counters, timestamps) are shown read-only: history feeds the reports, so nobody
edits it by hand. Every changelist selects its related rows up front, so its
query count does not grow with the page (tests/integration/test_admin.py).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.db import models
from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.forms import BaseInlineFormSet, Field
from django.http import HttpRequest
from django.utils import timezone

from cadences.models import Enrolment
from cadences.services import lead_status_set, stop_channel
from cadences.team import time_off_apply
from followup import audit
from followup.roles import MANAGERS, REPS
from leads.admin_actions import enrol_in_cadence, reassign_leads
from leads.models import (
    Account,
    ApiToken,
    Asset,
    Lead,
    LeadStatus,
    RepProfile,
    Signal,
    Tag,
    TimeOff,
    Touch,
)
from leads.services import api_token_create, api_token_revoke, rep_profiles_ensure

admin.site.site_header = "followup admin"
admin.site.site_title = "followup admin"
admin.site.index_title = "Cadences, leads and the team"

User = get_user_model()
RECENT_TOUCHES = 20
# "calendly.com/ann" typed by a manager means https, as browsers assume.
HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


class ReadOnlyAdminMixin:
    """For rows the engine or another system writes: readable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class JoinedLabelsMixin:
    """Joins `list_select_related` into every queryset of the admin, not just the list.

    Autocomplete results print `str(obj)`, which for steps, tasks and enrolments names
    a related row. (Joining in `get_queryset` alone would not do: a changelist whose
    queryset already selects related rows skips `list_select_related`.)
    """

    list_select_related: tuple[str, ...] = ()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related(*self.list_select_related)


class TeamMemberFilter(admin.RelatedFieldListFilter):
    """Filter by rep or manager; API service accounts and the superuser stay out of the list."""

    def field_choices(self, field, request: HttpRequest, model_admin) -> list[tuple]:
        team = User.objects.filter(groups__name__in=[REPS, MANAGERS]).values("pk")
        ordering = self.field_admin_ordering(field, request, model_admin) or ("username",)
        return field.get_choices(
            include_blank=False, ordering=ordering, limit_choices_to={"pk__in": team}
        )


def related_count(model: type[Model], fk: str, **filters: object) -> Coalesce:
    """A correlated COUNT: evaluated only for the rows on the page, not the whole table."""
    rows = (
        model.objects.filter(**{fk: OuterRef("pk")}, **filters)
        .order_by()
        .values(fk)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "lead_count", "created_at")
    search_fields = ("name", "domain")
    readonly_fields = ("created_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Account]:
        return super().get_queryset(request).annotate(lead_count=related_count(Lead, "account"))

    @admin.display(description="leads", ordering="lead_count")
    def lead_count(self, account: Account) -> int:
        return account.lead_count


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "lead_count")
    search_fields = ("name",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tag]:
        return (
            super()
            .get_queryset(request)
            .annotate(lead_count=related_count(Lead.tags.through, "tag"))
        )

    @admin.display(description="leads", ordering="lead_count")
    def lead_count(self, tag: Tag) -> int:
        return tag.lead_count


class RecentTouchesFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[Touch]:
        # Only the latest: a lead worked for a year can have hundreds of touches.
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset()[:RECENT_TOUCHES]
        return self._recent


class RecentTouchInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Touch
    fk_name = "lead"
    formset = RecentTouchesFormSet
    fields = ("occurred_at", "channel", "direction", "outcome", "rep", "automated", "subject")
    readonly_fields = fields
    ordering = ("-occurred_at", "-id")
    extra = 0
    show_change_link = True
    verbose_name_plural = f"recent touches (latest {RECENT_TOUCHES})"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Touch]:
        return super().get_queryset(request).select_related("rep")


class LeadEnrolmentInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Enrolment
    fields = ("cadence", "owner", "status", "position", "started_at", "ended_at", "exit_reason")
    readonly_fields = fields
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Enrolment]:
        return super().get_queryset(request).select_related("cadence", "owner")


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "email",
        "phone",
        "account",
        "owner",
        "status",
        "stage",
        "source",
        "touch_count",
        "last_touched_at",
        "created_at",
    )
    list_select_related = ("account", "owner")
    list_filter = (
        "status",
        "stage",
        ("owner", TeamMemberFilter),
        "source",
        "tags",
        "do_not_email",
        "do_not_call",
        # A date filter, not date_hierarchy: the hierarchy scans every lead for its dates.
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("first_name", "last_name", "email", "phone", "account__name", "title")
    autocomplete_fields = ("account", "owner")
    filter_horizontal = ("tags",)
    show_full_result_count = False
    readonly_fields = (
        "created_at",
        "updated_at",
        "touch_count",
        "first_touched_at",
        "last_touched_at",
        "last_outbound_at",
        "status_changed_at",
        "won_at",
        "unsubscribed_at",
        "bounced_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    ("first_name", "last_name"),
                    "title",
                    ("email", "phone"),
                    "account",
                    "owner",
                    "timezone",
                )
            },
        ),
        ("Pipeline", {"fields": ("status", "stage", "source", "tags", "notes")}),
        ("Consent", {"fields": (("do_not_email", "do_not_call"), "unsubscribed_at", "bounced_at")}),
        (
            "Postal address (for mailed touches)",
            {
                "classes": ("collapse",),
                "fields": (
                    "address_line1",
                    "address_line2",
                    ("city", "region", "postal_code"),
                    "country",
                ),
            },
        ),
        (
            "History (kept by the engine)",
            {
                "fields": (
                    ("created_at", "updated_at"),
                    "touch_count",
                    ("first_touched_at", "last_touched_at", "last_outbound_at"),
                    ("status_changed_at", "won_at"),
                )
            },
        ),
    )
    inlines = (LeadEnrolmentInline, RecentTouchInline)
    actions = (enrol_in_cadence,)

    def has_enrol_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("cadences.add_enrolment")

    def save_model(self, request: HttpRequest, lead: Lead, form, change: bool) -> None:
        """Save the edit; a new status and a new do-not-contact flag go through the engine.

        So a lead marked won here is stamped `won_at` and leaves its cadences, exactly
        as when a rep marks it won in the app.
        """
        status = lead.status
        if "status" in form.changed_data:
            lead.status = form.initial.get("status") or LeadStatus.NEW
        # The audit log's "before" status and owner, as the form found them.
        before = {"status": lead.status, "owner_id": form.initial.get("owner", lead.owner_id)}
        super().save_model(request, lead, form, change)
        now = timezone.now()
        lead_status_set(lead=lead, status=status, at=now)
        for flag, channel in (("do_not_call", "call"), ("do_not_email", "email")):
            if flag in form.changed_data and getattr(lead, flag):
                stop_channel(lead=lead, channel=channel, reason=flag.replace("_", " "), at=now)
        if change:
            audit.lead_changed(lead=lead, before=before, at=now)


@admin.register(Touch)
class TouchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "occurred_at",
        "lead",
        "channel",
        "direction",
        "outcome",
        "rep",
        "automated",
        "source",
    )
    list_select_related = ("lead", "rep")
    list_filter = (
        "channel",
        "outcome",
        "direction",
        "automated",
        "source",
        ("rep", TeamMemberFilter),
        ("occurred_at", admin.DateFieldListFilter),
    )
    search_fields = ("lead__email", "lead__first_name", "lead__last_name", "subject")
    show_full_result_count = False


@admin.register(Signal)
class SignalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("occurred_at", "kind", "lead", "lead_email")
    list_select_related = ("lead",)
    list_filter = ("kind", ("occurred_at", admin.DateFieldListFilter))
    search_fields = ("lead_email", "lead__email", "lead__first_name", "lead__last_name")
    show_full_result_count = False


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "buying_stages", "is_active", "url")
    list_filter = ("kind", "is_active", "for_awareness", "for_consideration", "for_decision")
    list_editable = ("is_active",)
    search_fields = ("title", "summary", "url")
    formfield_overrides = HTTPS_URLS
    fieldsets = (
        (None, {"fields": ("title", "kind", "url", "summary", "is_active")}),
        (
            "Fits the buying stages",
            {"fields": (("for_awareness", "for_consideration", "for_decision"),)},
        ),
    )

    @admin.display(description="stages")
    def buying_stages(self, asset: Asset) -> str:
        return ", ".join(asset.stages) or "—"


REP_SETTINGS_FIELDS = (
    "timezone",
    ("call_capacity", "email_capacity"),
    "holiday_country",
    "signature",
    "booking_url",
)


@admin.register(RepProfile)
class RepProfileAdmin(admin.ModelAdmin):
    """The team's settings on one page; capacities are edited right in the list."""

    list_display = (
        "user",
        "timezone",
        "call_capacity",
        "email_capacity",
        "holiday_country",
        "booking_url",
    )
    list_editable = ("call_capacity", "email_capacity")
    list_select_related = ("user",)
    list_filter = ("holiday_country", "timezone")
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user",)
    formfield_overrides = HTTPS_URLS
    # calendar_token is a secret feed key: never shown here.
    fields = ("user", *REP_SETTINGS_FIELDS)


@admin.register(TimeOff)
class TimeOffAdmin(admin.ModelAdmin):
    list_display = ("rep", "starts_on", "ends_on", "note")
    list_select_related = ("rep",)
    list_filter = (("rep", TeamMemberFilter),)
    search_fields = ("rep__username", "rep__first_name", "rep__last_name", "note")
    autocomplete_fields = ("rep",)
    date_hierarchy = "starts_on"

    def save_model(self, request: HttpRequest, obj: TimeOff, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _apply_time_off(request, obj.rep)


def _apply_time_off(request: HttpRequest, rep: Model) -> None:
    """The rep's manual steps due while away move to the first working day back."""
    moved = time_off_apply(rep=rep, now=timezone.now())
    if moved:
        messages.info(request, f"Moved {moved} pending step(s) of {rep} past the time off.")


class TokenStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        if self.value() == "active":
            return queryset.filter(revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made by `api_token_create`, shown once, and revoked, never deleted.

    `key_hash` appears nowhere: not in lists, forms or pages.
    """

    list_display = ("prefix", "name", "user", "created_at", "last_used_at", "revoked_at", "active")
    list_select_related = ("user",)
    list_filter = (TokenStateFilter, "user")
    search_fields = ("prefix", "name", "user__username")
    autocomplete_fields = ("user",)
    actions = ("revoke_selected",)

    def get_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("user", "name")
        return ("user", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ApiToken | None = None) -> tuple:
        if obj is None:
            return ()
        return ("user", "prefix", "created_at", "last_used_at", "revoked_at")

    def has_delete_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs) -> Field:
        # A manager may issue tokens for the team, not act as a superuser through the API.
        if db_field.name == "user" and not request.user.is_superuser:
            kwargs["queryset"] = User.objects.filter(is_superuser=False)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token, key = api_token_create(user=obj.user, name=obj.name)
        # The admin goes on with `obj` (log entry, redirect): make it the saved token.
        for field in ApiToken._meta.concrete_fields:
            setattr(obj, field.attname, getattr(token, field.attname))
        obj._state.adding, obj._state.db = False, token._state.db
        messages.warning(
            request,
            f"API token for {token.user}: {key} — copy it now. It is shown only this once; "
            "only its hash is kept.",
        )

    @admin.display(boolean=True, description="active")
    def active(self, token: ApiToken) -> bool:
        return token.is_active

    @admin.action(description="Revoke selected tokens", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"Revoked {len(tokens)} token(s).", messages.SUCCESS)


class RepProfileInline(admin.StackedInline):
    model = RepProfile
    can_delete = False
    fields = REP_SETTINGS_FIELDS
    formfield_overrides = HTTPS_URLS
    verbose_name = verbose_name_plural = "rep settings"


class TimeOffInline(admin.TabularInline):
    model = TimeOff
    fields = ("starts_on", "ends_on", "note")
    extra = 0


PRIVILEGED_USER_FIELDS = ("is_superuser", "user_permissions", "last_login", "date_joined")


admin.site.unregister(User)


@admin.register(User)
class TeamUserAdmin(DjangoUserAdmin):
    """Django's user admin with the rep's settings and time off inline.

    Managers may add reps and edit them, but not grant superuser status or single
    permissions, not put anyone in a group other than `reps` or `managers`, and not
    change (or reset the password of) a superuser.
    """

    actions = (reassign_leads,)

    def get_inlines(self, request: HttpRequest, obj: Model | None) -> tuple:
        return (RepProfileInline, TimeOffInline) if obj is not None else ()

    def has_reassign_permission(self, request: HttpRequest) -> bool:
        perms = ("leads.change_lead", "cadences.change_enrolment", "cadences.change_task")
        return request.user.has_perms(perms)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        rep_profiles_ensure()  # a user just put in the reps group joins the rotation
        if any(fs.model is TimeOff and fs.has_changed() for fs in formsets):
            _apply_time_off(request, form.instance)

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> tuple:
        fields = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser:
            return fields
        return (*fields, *PRIVILEGED_USER_FIELDS)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def formfield_for_manytomany(self, db_field, request: HttpRequest, **kwargs) -> Field:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = Group.objects.filter(name__in=[REPS, MANAGERS])
        return super().formfield_for_manytomany(db_field, request, **kwargs)


from leads import admin_intake  # noqa: F401,E402
