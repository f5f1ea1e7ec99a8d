"""The forms managers edit cadences with in admin: each error names the field it is about.

A step shows only the fields of its channel (static/js/admin-steps.js hides the rest),
and the server agrees with the page: a call has no subject, body or automatic mode, so
whatever those hidden fields still hold is dropped on save rather than sent or checked.
Copy must render with a sample lead now, not fail weeks later in the worker.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.forms import BaseInlineFormSet
from django.utils import timezone

from cadences import scheduling
from cadences.copy import check_renders
from cadences.models import EXIT_KINDS, Cadence, Step, StepVariant
from leads.models import Channel

EXIT_CHOICES = [(kind, kind.replace("_", " ").capitalize()) for kind in EXIT_KINDS]
# Which channels use which copy fields; the page hides them for the other channels.
COPY_FIELDS = {Channel.EMAIL: ("subject", "body"), Channel.SMS: ("body",)}
MAX_IMPORT_BYTES = 1_000_000
AUTO_COPY_RULE = "An automatic email needs a subject and a body."


def render_problem(source: str) -> str | None:
    """Why `source` fails to render with a sample lead, rep and asset, or None."""
    if not source:
        return None
    try:
        return check_renders(source)
    except Exception as error:  # a filter failing on the sample data is the copy's fault
        return f"{type(error).__name__}: {error}"


def check_copy(form: forms.Form, cleaned: dict, names: tuple[str, ...]) -> None:
    for name in names:
        problem = render_problem(cleaned.get(name) or "")
        if problem:
            form.add_error(name, f"Does not render with a sample lead: {problem}.")


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

    def clean_holiday_country(self) -> str:
        code = self.cleaned_data["holiday_country"].strip().upper()
        if code:
            try:
                scheduling.validate_holiday_country(code)
            except ValueError:
                raise ValidationError(
                    f"'{code}' is not a country with known public holidays "
                    "(two-letter ISO code, e.g. US, DE, GB)."
                ) from None
        return code


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

    def clean(self) -> dict:
        cleaned = super().clean()
        channel = cleaned.get("channel")
        if channel:
            kept = COPY_FIELDS.get(channel, ())
            for name in ("subject", "body"):
                if name not in kept:
                    cleaned[name] = ""
            if channel != Channel.EMAIL:
                cleaned["mode"] = Step.Mode.MANUAL  # the page offers automatic for email only
        check_copy(self, cleaned, ("subject", "body"))
        if cleaned.get("mode") == Step.Mode.AUTO:
            for name in ("subject", "body"):
                if not (cleaned.get(name) or "").strip() and name not in self.errors:
                    self.add_error(name, AUTO_COPY_RULE)
        return cleaned

    def _update_errors(self, errors: ValidationError) -> None:
        # Step.clean() words the automatic-email rule on `subject` alone, even when only
        # the body is missing; clean() above has named the missing field already.
        if hasattr(errors, "error_dict"):
            kept = {
                name: [e for e in found if not (name == "subject" and AUTO_COPY_RULE in e.messages)]
                for name, found in errors.error_dict.items()
            }
            kept = {name: found for name, found in kept.items() if found}
            if not kept:
                return
            errors = ValidationError(kept)
        super()._update_errors(errors)


class StepVariantForm(forms.ModelForm):
    class Meta:
        model = StepVariant
        fields = ("step", "label", "subject", "body")

    def clean(self) -> dict:
        cleaned = super().clean()
        step = cleaned.get("step") or getattr(self.instance, "step", None)
        if step is not None and step.channel != Channel.EMAIL:
            raise ValidationError("A/B variants are for email steps only.")
        if cleaned.get("label", "").strip().upper() == "A":
            self.add_error("label", "'A' is the step's own subject and body; use B, C, ….")
        check_copy(self, cleaned, ("subject", "body"))
        return cleaned


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

    def delete_existing(self, obj: Step, commit: bool = True) -> None:
        """A step that tasks or touches point at is marked removed, never deleted.

        Its history (what was done at that step, the step results report) stays whole,
        and the engine skips a removed step for every enrolment still on its way.
        """
        if commit:
            step_remove(step=obj, now=timezone.now())


def step_remove(*, step: Step, now: dt.datetime) -> None:
    """Delete a step nothing points at; mark one with history removed instead."""
    if step.tasks.exists() or step.touches.exists():
        if step.removed_at is None:
            step.removed_at = now
            step.save(update_fields=["removed_at"])
        return
    step.delete()


class CadenceImportForm(forms.Form):
    file = forms.FileField(
        help_text="A cadence file in the JSON format of import_cadence / export_cadence."
    )
    activate = forms.BooleanField(
        required=False, help_text="Make the cadence active; a new one otherwise starts inactive."
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_IMPORT_BYTES:
            raise ValidationError(f"The file is larger than {MAX_IMPORT_BYTES // 1000} kB.")
        return upload


class EnrolInCadenceForm(forms.Form):
    cadence = forms.ModelChoiceField(
        queryset=Cadence.objects.filter(is_active=True).order_by("name"),
        empty_label=None,
        help_text="Only active cadences are offered.",
    )
