"""Forms of the Reports pages: the period picker and the hand-back of stopped leads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import QueryDict
from django.utils import timezone

from cadences import scheduling
from cadences.models import Cadence
from cadences.reports import MAX_PERIOD_DAYS
from followup.roles import active_reps
from leads.models import Lead

DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Choice:
    """What the manager picked: a valid period and maybe one rep."""

    date_from: dt.date
    date_to: dt.date
    rep: AbstractBaseUser | None

    @property
    def query(self) -> str:
        params = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.rep is not None:
            params["rep"] = self.rep.get_username()
        return urlencode(params)


class PeriodForm(forms.Form):
    """``from``, ``to`` (inclusive dates) and ``rep``, the API's names, read from GET."""

    def __init__(self, data: QueryDict, *args: object, **kwargs: object) -> None:
        super().__init__(_with_defaults(data), *args, **kwargs)
        date = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
        self.fields["from"] = forms.DateField(label="From", widget=date)
        self.fields["to"] = forms.DateField(label="To", widget=date)
        self.fields["rep"] = forms.ModelChoiceField(
            queryset=active_reps().order_by("username"),
            to_field_name="username",
            required=False,
            empty_label="Whole team",
            label="Rep",
        )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean()
        date_from, date_to = cleaned.get("from"), cleaned.get("to")
        if date_from and date_to and date_from > date_to:
            self.add_error("from", "From is after to: pick a start on or before the end.")
        elif date_from and date_to and (date_to - date_from).days >= MAX_PERIOD_DAYS:
            self.add_error("from", f"Pick a period shorter than {MAX_PERIOD_DAYS} days.")
        return cleaned

    def choice(self) -> Choice | None:
        if not self.is_valid():
            return None
        data = self.cleaned_data
        return Choice(date_from=data["from"], date_to=data["to"], rep=data["rep"])


def _with_defaults(data: QueryDict) -> QueryDict:
    """The last 30 days up to today (in TIME_ZONE) unless the manager picked dates."""
    filled = data.copy()
    today = scheduling.local_date(timezone.now(), settings.TIME_ZONE)
    if not filled.get("to"):
        filled["to"] = today.isoformat()
    if not filled.get("from"):
        filled["from"] = (today - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat()
    return filled


class HandBackForm(forms.Form):
    """Put stopped leads back into a cadence in one action."""

    cadence = forms.ModelChoiceField(
        queryset=Cadence.objects.filter(is_active=True).order_by("name"),
        empty_label=None,
        label="Cadence",
    )
    leads = forms.ModelMultipleChoiceField(
        queryset=Lead.objects.all(),
        error_messages={"required": "Tick at least one lead to hand back."},
    )
