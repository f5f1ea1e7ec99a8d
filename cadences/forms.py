"""Forms of the work screen. Times typed by a rep are read in the lead's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from cadences import scheduling
from cadences.work import CallbackChoice

NOTES_LIMIT = 10_000
BODY_LIMIT_BYTES = 50 * 1024
REASON_LIMIT = 300
CALL_OUTCOMES = (
    ("connected", "Connected"),
    ("voicemail", "Voicemail"),
    ("no_answer", "No answer"),
    ("bad_number", "Bad number"),
    ("meeting_booked", "Meeting booked"),
    ("not_interested", "Not interested"),
)
OTHER_OUTCOMES = (("done", "Done"),)
LOCAL_INPUT = "%Y-%m-%dT%H:%M"


def local_datetime_field(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        input_formats=[LOCAL_INPUT, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_INPUT),
    )


class LeadLocalForm(forms.Form):
    """A form whose typed datetimes are wall-clock times in the lead's zone."""

    def __init__(self, *args: object, tz: str, now: dt.datetime, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.tz, self.now = tz, now

    def full_clean(self) -> None:
        # DateTimeField makes naive input aware in the *current* zone: make that the lead's.
        with timezone.override(ZoneInfo(self.tz)):
            super().full_clean()


def notes_field() -> forms.CharField:
    return forms.CharField(
        label="Notes",
        required=False,
        max_length=NOTES_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What did you learn?"}),
        error_messages={"max_length": "Notes are limited to 10,000 characters."},
    )


class OutcomeForm(LeadLocalForm):
    outcome = forms.ChoiceField(choices=CALL_OUTCOMES + OTHER_OUTCOMES)
    notes = notes_field()
    callback = forms.ChoiceField(
        label="I'll call back",
        required=False,
        choices=(
            ("next_day", "next business day 8:30"),
            ("two_days", "in 2 business days 8:30"),
            ("custom", "at a time I pick"),
            ("none", "no callback"),
        ),
    )
    callback_at = local_datetime_field("Call back at (lead's time)")
    next = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self, *args: object, channel: str, choices: list[CallbackChoice], **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = CALL_OUTCOMES if channel == "call" else OTHER_OUTCOMES
        self.choices = {choice.key: choice for choice in choices}

    def clean(self) -> dict:
        cleaned = super().clean()
        if cleaned.get("outcome") != "voicemail":
            cleaned["callback_at"] = None
            return cleaned
        pick = cleaned.get("callback") or "none"
        if pick == "none":
            cleaned["callback_at"] = None
        elif pick in self.choices:
            cleaned["callback_at"] = self.choices[pick].at
        elif cleaned.get("callback_at") is None and "callback_at" not in self.errors:
            self.add_error("callback_at", "Pick the time you will call back.")
        at = cleaned.get("callback_at")
        if at is not None and at <= self.now:
            self.add_error("callback_at", "The callback time must be in the future.")
        return cleaned


class SnoozeForm(LeadLocalForm):
    until = forms.ChoiceField(
        label="Snooze until",
        choices=(
            ("1h", "in 1 hour"),
            ("3h", "in 3 hours"),
            ("next_day", "next business day 9:00 (lead's time)"),
            ("custom", "a time I pick"),
        ),
        initial="1h",
        widget=forms.RadioSelect,
    )
    until_at = local_datetime_field("Until (lead's time)")
    reason = forms.CharField(
        label="Reason",
        max_length=REASON_LIMIT,
        widget=forms.TextInput(attrs={"placeholder": "e.g. asked to call after lunch"}),
    )
    next = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict:
        cleaned = super().clean()
        pick = cleaned.get("until")
        if pick == "1h":
            cleaned["until_at"] = self.now + dt.timedelta(hours=1)
        elif pick == "3h":
            cleaned["until_at"] = self.now + dt.timedelta(hours=3)
        elif pick == "next_day":
            cleaned["until_at"] = self._next_business_morning()
        elif pick == "custom" and cleaned.get("until_at") is None and "until_at" not in self.errors:
            self.add_error("until_at", "Pick the time to snooze until.")
        at = cleaned.get("until_at")
        if at is not None and at <= self.now:
            self.add_error("until_at", "Snooze until a time in the future.")
        return cleaned

    def _next_business_morning(self) -> dt.datetime:
        day = scheduling.Calendar().add_business_days(scheduling.local_date(self.now, self.tz), 1)
        return dt.datetime.combine(day, dt.time(9), tzinfo=ZoneInfo(self.tz)).astimezone(dt.UTC)


class SkipForm(forms.Form):
    reason = forms.CharField(
        label="Why skip it?",
        max_length=REASON_LIMIT,
        widget=forms.TextInput(attrs={"placeholder": "e.g. already spoke at the trade show"}),
    )
    next = forms.IntegerField(required=False, widget=forms.HiddenInput)


def one_line(value: str) -> None:
    # A CR or LF in a header would let the text add headers of its own.
    if "\r" in value or "\n" in value:
        raise ValidationError("The subject must be a single line.")


class EmailForm(forms.Form):
    subject = forms.CharField(
        max_length=REASON_LIMIT,
        validators=[one_line],
        error_messages={"max_length": "The subject is limited to 300 characters."},
    )
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 12}), strip=False)
    action = forms.ChoiceField(
        choices=(("send", "Send"), ("elsewhere", "Sent elsewhere")), initial="send"
    )
    next = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        if len(body.encode("utf-8")) > BODY_LIMIT_BYTES:
            raise ValidationError("The email body is limited to 50 KB.")
        if not body.strip():
            raise ValidationError("Write something to send.")
        return body
