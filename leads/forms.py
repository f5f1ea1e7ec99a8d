"""Forms of the lead pages. They check input; the services in ``leads`` and ``cadences`` write.

Plain forms rather than ModelForms for leads: creating a lead must go through
``lead_upsert`` (match by email, never a duplicate), which a ModelForm's own
uniqueness check would pre-empt with a less useful message.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row, Submit
from django import forms
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from cadences import scheduling
from cadences.models import Cadence
from followup.roles import active_reps
from leads.models import (
    BuyingStage,
    Channel,
    LeadStatus,
    Outcome,
    RepProfile,
    Tag,
    validate_iana_timezone,
)
from leads.selectors import SORTS

NOTES_MAX = 10_000
NAME_MAX = 100
REASON_MAX = 200
SIGNATURE_MAX = 2000
# A touch logged a minute "in the future" is a clock that runs fast, not a mistake.
CLOCK_SLACK = dt.timedelta(minutes=2)
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def timezone_names() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def split_tags(text: str) -> list[str]:
    return [name.strip() for name in text.replace(";", ",").split(",") if name.strip()]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format=LOCAL_INPUT, **kwargs)


class LocalTimeForm(forms.Form):
    """Reads and shows its date-times in ``tz`` (the rep's), whatever the server's zone."""

    def __init__(self, *args: object, tz: str = "UTC", **kwargs: object) -> None:
        self.tz = tz
        super().__init__(*args, **kwargs)

    def full_clean(self) -> None:
        # DateTimeField makes naive input aware in the *current* zone.
        with timezone.override(zoneinfo.ZoneInfo(self.tz)):
            super().full_clean()


# --- leads -------------------------------------------------------------------------


class LeadForm(forms.Form):
    first_name = forms.CharField(max_length=NAME_MAX, required=False)
    last_name = forms.CharField(max_length=NAME_MAX, required=False)
    email = forms.EmailField(max_length=254, required=False)
    phone = forms.CharField(max_length=40, required=False)
    title = forms.CharField(max_length=200, required=False)
    company = forms.CharField(max_length=200, required=False)
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        required=False,
        validators=[validate_iana_timezone],
        help_text="IANA name, e.g. America/New_York. Blank: the owner's.",
        widget=forms.TextInput(attrs={"list": "tz-names", "autocomplete": "off"}),
    )
    stage = forms.ChoiceField(choices=BuyingStage.choices, initial=BuyingStage.AWARENESS)
    source = forms.CharField(max_length=100, required=False)
    tags = forms.CharField(max_length=500, required=False, help_text="Separated by commas")
    city = forms.CharField(max_length=100, required=False)
    region = forms.CharField(max_length=100, required=False)
    country = forms.CharField(max_length=100, required=False)
    do_not_email = forms.BooleanField(required=False)
    do_not_call = forms.BooleanField(required=False)
    notes = forms.CharField(
        max_length=NOTES_MAX, required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    owner = forms.ModelChoiceField(
        queryset=active_reps(),
        required=False,
        empty_label="Next rep in rotation",
        help_text="Managers only.",
    )
    cadence = forms.ModelChoiceField(
        queryset=Cadence.objects.filter(is_active=True),
        required=False,
        empty_label="Do not enrol now",
        label="Enrol in cadence",
    )

    LEAD_FIELDS = (
        "first_name",
        "last_name",
        "email",
        "phone",
        "title",
        "timezone",
        "stage",
        "source",
        "city",
        "region",
        "country",
        "do_not_email",
        "do_not_call",
        "notes",
    )

    def __init__(
        self, *args: object, can_assign: bool = False, creating: bool = True, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        if not can_assign:
            del self.fields["owner"]
        if not creating:
            del self.fields["cadence"]
            if "owner" in self.fields:
                self.fields["owner"].empty_label = "Keep the current owner"
        self.helper = FormHelper()
        self.helper.layout = self._layout()
        self.helper.add_input(Submit("save", "Create lead" if creating else "Save"))

    def _layout(self) -> Layout:
        pairs = [
            ("first_name", "last_name"),
            ("email", "phone"),
            ("title", "company"),
            ("timezone", "stage"),
            ("source", "tags"),
        ]
        rows = [Row(*(Column(name, css_class="col-md-6") for name in pair)) for pair in pairs]
        place = Row(*(Column(name, css_class="col-md-4") for name in ("city", "region", "country")))
        rest = [
            name
            for name in (
                "do_not_email",
                "do_not_call",
                "notes",
                "owner",
                "cadence",
            )
            if name in self.fields
        ]
        return Layout(*rows, place, *rest)

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        if not cleaned.get("email") and not cleaned.get("phone") and not self.errors:
            raise forms.ValidationError("A lead needs an email or a phone number.")
        return cleaned

    def lead_values(self) -> dict[str, object]:
        return {name: self.cleaned_data[name] for name in self.LEAD_FIELDS}

    def tag_names(self) -> list[str]:
        return split_tags(self.cleaned_data.get("tags", ""))

    def add_service_errors(self, fields: dict[str, str]) -> None:
        """Show a service's refusal (``LeadRefused.fields``) on the fields it names."""
        for name, message in fields.items():
            self.add_error(name if name in self.fields else None, message)


def lead_initial(lead: object) -> dict[str, object]:
    initial = {name: getattr(lead, name) for name in LeadForm.LEAD_FIELDS}
    initial["company"] = lead.account.name if lead.account else ""
    initial["tags"] = ", ".join(tag.name for tag in lead.tags.all())
    return initial


class LeadStatusForm(forms.Form):
    status = forms.ChoiceField(choices=LeadStatus.choices)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.form_show_labels = False


class TouchForm(LocalTimeForm):
    """A touch made outside the queue: a call from a mobile, a LinkedIn message, a letter."""

    channel = forms.ChoiceField(choices=Channel.choices, initial=Channel.CALL)
    outcome = forms.ChoiceField(choices=[("", "—"), *Outcome.choices], required=False)
    occurred_at = forms.DateTimeField(
        label="When", widget=LocalDateTimeInput(), input_formats=[LOCAL_INPUT]
    )
    notes = forms.CharField(
        max_length=NOTES_MAX, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    callback_at = forms.DateTimeField(
        label="Promised callback",
        required=False,
        widget=LocalDateTimeInput(),
        input_formats=[LOCAL_INPUT],
        help_text="For a voicemail: when you said you would call back.",
    )

    def __init__(self, *args: object, now: dt.datetime, **kwargs: object) -> None:
        self.now = now
        super().__init__(*args, **kwargs)
        zone = zoneinfo.ZoneInfo(self.tz)
        self.fields["occurred_at"].initial = now.astimezone(zone).strftime(LOCAL_INPUT)
        for name in ("occurred_at", "callback_at"):
            self.fields[name].help_text = (
                f"{self.fields[name].help_text} Your time ({self.tz})."
            ).strip()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.layout = Layout(
            Row(Column("channel", css_class="col-6"), Column("outcome", css_class="col-6")),
            "occurred_at",
            "callback_at",
            "notes",
        )

    def clean_occurred_at(self) -> dt.datetime:
        occurred_at = self.cleaned_data["occurred_at"]
        if occurred_at > self.now + CLOCK_SLACK:
            raise forms.ValidationError("A touch cannot happen in the future.")
        return occurred_at

    def clean_callback_at(self) -> dt.datetime | None:
        callback_at = self.cleaned_data.get("callback_at")
        if callback_at is not None and callback_at <= self.now:
            raise forms.ValidationError("The callback must be in the future.")
        return callback_at

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        if cleaned.get("callback_at") and cleaned.get("channel") != Channel.CALL:
            self.add_error("callback_at", "A callback goes with a call.")
        return cleaned

    def add_service_errors(self, fields: dict[str, str]) -> None:
        for name, message in fields.items():
            self.add_error(name if name in self.fields else None, message)


# --- enrolments ------------------------------------------------------------------------


class EnrolForm(forms.Form):
    cadence = forms.ModelChoiceField(queryset=Cadence.objects.filter(is_active=True))
    reason = forms.CharField(max_length=REASON_MAX, required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False


class EnrolmentActionForm(forms.Form):
    """Pause, resume or remove: the reason goes on the lead's timeline."""

    reason = forms.CharField(max_length=REASON_MAX, required=False)


# --- the lead list ---------------------------------------------------------------------


SORT_CHOICES = [(key, key) for key in SORTS]


class LeadFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    status = forms.ChoiceField(choices=[("", "Any status"), *LeadStatus.choices], required=False)
    stage = forms.ChoiceField(choices=[("", "Any stage"), *BuyingStage.choices], required=False)
    owner = forms.ModelChoiceField(queryset=active_reps(), required=False, empty_label="Any owner")
    cadence = forms.ModelChoiceField(
        queryset=Cadence.objects.all(), required=False, empty_label="Any cadence"
    )
    tag = forms.ModelChoiceField(queryset=Tag.objects.all(), required=False, empty_label="Any tag")
    overdue = forms.BooleanField(required=False, label="Overdue only")
    sort = forms.ChoiceField(choices=SORT_CHOICES, required=False)

    def __init__(self, *args: object, can_filter_owner: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not can_filter_owner:
            del self.fields["owner"]
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select form-select-sm"

    def value_of(self, name: str) -> object:
        """The field's clean value, or empty when it was missing or invalid."""
        self.is_valid()
        return self.cleaned_data.get(name) or None


# --- the rep's profile ------------------------------------------------------------------


class RepProfileForm(forms.ModelForm):
    booking_url = forms.URLField(
        label="Booking URL",
        required=False,
        assume_scheme="https",
        help_text="Meeting booking link for emails",
    )

    class Meta:
        model = RepProfile
        fields = [
            "timezone",
            "holiday_country",
            "call_capacity",
            "email_capacity",
            "signature",
            "booking_url",
        ]
        labels = {"timezone": "Time zone"}
        widgets = {
            "timezone": forms.TextInput(attrs={"list": "tz-names", "autocomplete": "off"}),
            "signature": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args: object, can_set_capacity: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if not can_set_capacity:
            # Disabled fields ignore posted values: a rep cannot raise their own capacity.
            for name in ("call_capacity", "email_capacity"):
                self.fields[name].disabled = True
                self.fields[name].help_text += " (set by your manager)"
        self.fields["signature"].validators.append(MaxLengthValidator(SIGNATURE_MAX))
        self.helper = FormHelper()
        self.helper.add_input(Submit("save", "Save settings"))

    def clean_holiday_country(self) -> str:
        code = self.cleaned_data["holiday_country"].strip().upper()
        if code:
            try:
                scheduling.validate_holiday_country(code)
            except ValueError:
                raise forms.ValidationError(f"'{code}' is not a known country code.") from None
        return code


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="What it is for",
        widget=forms.TextInput(attrs={"placeholder": "Token name, e.g. dialer"}),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.form_show_labels = False
