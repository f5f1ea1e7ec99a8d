"""Admin for cadence templates: a cadence's page edits its steps and shows their effect.

Steps are edited inline in order (positions, with ↑/↓ from static/js/admin-steps.js),
each with the fields of its channel; errors name the field. Below them, the timeline
preview and value check (`cadences.admin_preview`) follow the edits before saving.
Actions clone, activate, deactivate and export cadences; a page imports a cadence file
with the same code as the `import_cadence` command. Saving re-times the pending tasks
of enrolments in flight, and a step with history is marked removed, never deleted.
"""

from __future__ import annotations

import copy
import io
import zipfile

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.text import slugify

from cadences import scheduling
from cadences.admin_forms import (
    CadenceForm,
    CadenceImportForm,
    StepForm,
    StepFormSet,
    StepVariantForm,
    step_remove,
)
from cadences.admin_preview import Timeline, cadence_timeline, sample_start
from cadences.cadence_format import CadenceFormatError, dumps_cadence
from cadences.models import Cadence, Enrolment, Step, StepVariant
from cadences.services import cadence_calendar, cadence_retime_pending
from cadences.template_services import (
    cadence_clone,
    cadence_import,
    cadences_activate,
    cadences_deactivate,
)
from followup import audit
from leads.admin import JoinedLabelsMixin, related_count
from leads.forms import timezone_names
from leads.models import Channel

PREVIEW_PARAMS = ("start", "tz", "lead")


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
# Fields shown for some channels only; admin-steps.js hides them for the others.
STEP_SCRIPTS = ("js/admin-steps.js",)


class StepInline(admin.StackedInline):
    model = Step
    form = StepForm
    formset = StepFormSet
    fieldsets = (*STEP_FIELDSETS, ("Removed", {"fields": ("removed_at",)}))
    readonly_fields = ("removed_at",)
    ordering = ("position",)
    extra = 0
    show_change_link = True  # A/B variants are edited on the step's own page.
    classes = ("cadence-steps",)

    def get_formset(self, request: HttpRequest, obj: Cadence | None = None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        # Admin refuses to delete a step that tasks protect; StepFormSet.delete_existing
        # marks such a step removed instead, so there is nothing to refuse.
        formset.form = type("StepInlineForm", (formset.form,), {"hand_clean_DELETE": _keep})
        return formset


def _keep(form: forms.ModelForm) -> None:
    return None


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
    actions = ("clone_selected", "activate_selected", "deactivate_selected", "export_selected")

    class Media:
        js = ("js/htmx-2.0.11.min.js", *STEP_SCRIPTS)

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

    def get_urls(self) -> list:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path("import/", view(self.import_view), name="{}_{}_import".format(*info)),
            path(
                "<path:object_id>/preview/",
                view(self.preview_view),
                name="{}_{}_preview".format(*info),
            ),
            *super().get_urls(),
        ]

    # --- saving ---------------------------------------------------------------------

    def save_model(self, request: HttpRequest, obj: Cadence, form, change: bool) -> None:
        # The audit log's "before": the database still holds it until this save.
        form.audit_before = audit.cadence_snapshot(obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # After the inlines: the entry holds the steps as saved with the cadence.
        audit.cadence_changed(cadence=form.instance, before=getattr(form, "audit_before", None))
        if not change:
            return
        # Enrolments in flight follow the edit: pending steps re-timed, removed ones skipped.
        moved = cadence_retime_pending(cadence=form.instance, now=timezone.now())
        if moved:
            self.message_user(
                request, f"{moved} pending task(s) re-timed to follow the edited steps."
            )

    # --- the timeline preview and value check -----------------------------------------

    def render_change_form(
        self, request: HttpRequest, context: dict, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and obj.pk:
            # A form sent back with errors previews what was typed, not what is saved.
            edited = request.method == "POST"
            context.update(self._preview_context(request, obj, request.POST, edited=edited))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The preview panel for the saved steps (GET) or the edits on the page (POST)."""
        cadence = self.get_object(request, unquote(object_id))
        if cadence is None:
            raise Http404("No such cadence.")
        if not self.has_view_permission(request, cadence):
            raise PermissionDenied
        edited = request.method == "POST" and self.has_change_permission(request, cadence)
        params = request.POST if request.method == "POST" else request.GET
        context = {
            **self.admin_site.each_context(request),
            **self._preview_context(request, cadence, params, edited=edited),
            "opts": self.opts,
            "original": cadence,
            "title": f"Timeline of {cadence}",
        }
        partial = request.headers.get("HX-Request") == "true"
        template = "_preview.html" if partial else "preview.html"
        return TemplateResponse(request, f"admin/cadences/cadence/{template}", context)

    def _preview_context(
        self, request: HttpRequest, cadence: Cadence, params: QueryDict, *, edited: bool
    ) -> dict:
        if edited:
            cadence = copy.copy(cadence)  # the edits are applied to this copy, in memory only
        values = {name: _param(params, name) for name in PREVIEW_PARAMS}
        start, problems = sample_start(**values, now=timezone.now())
        steps, variants = self._steps_for_preview(request, cadence, edited=edited)
        calendar = _preview_calendar(cadence, problems)
        timeline: Timeline = cadence_timeline(
            steps,
            calendar=calendar,
            min_gap_hours=cadence.min_gap_hours,
            start=start,
            variants=variants,
        )
        return {
            "timeline": timeline,
            "preview_problems": [*problems, *timeline.problems],
            "preview_values": values,
            "preview_url": reverse("admin:cadences_cadence_preview", args=[cadence.pk]),
            "tz_names": timezone_names(),
        }

    def _steps_for_preview(
        self, request: HttpRequest, cadence: Cadence, *, edited: bool
    ) -> tuple[list[Step], dict[int, list[StepVariant]]]:
        variants: dict[int, list[StepVariant]] = {}
        for variant in StepVariant.objects.filter(step__cadence=cadence).order_by("label"):
            variants.setdefault(variant.step_id, []).append(variant)
        if not edited:
            return list(cadence.steps.filter(removed_at__isnull=True)), variants
        return self._edited_steps(request, cadence), variants

    def _edited_steps(self, request: HttpRequest, cadence: Cadence) -> list[Step]:
        """The steps as typed on the page, unsaved: what is valid is applied, nothing kept."""
        CadenceForm(request.POST, instance=cadence).is_valid()  # fills `cadence` in memory
        inline = StepInline(self.model, self.admin_site)
        formset_class = inline.get_formset(request, cadence)
        formset = formset_class(
            request.POST, instance=cadence, prefix=formset_class.get_default_prefix()
        )
        steps = []
        for form in formset.forms:
            if form.instance.pk is None and not form.has_changed():
                continue
            form.is_valid()  # applies each valid field to form.instance, saves nothing
            if formset._should_delete_form(form) or form.instance.removed_at:
                continue
            steps.append(form.instance)
        return steps

    # --- actions ------------------------------------------------------------------------

    @admin.action(description="Clone selected cadences (as inactive copies)", permissions=["add"])
    def clone_selected(self, request: HttpRequest, queryset: QuerySet[Cadence]) -> None:
        for cadence in queryset.select_related("on_complete_cadence"):
            try:
                clone = cadence_clone(cadence=cadence, now=timezone.now())
            except CadenceFormatError as error:
                self.message_user(request, f"Could not clone '{cadence}': {error}", messages.ERROR)
            else:
                self.message_user(
                    request, f"Cloned '{cadence}' as '{clone}' (inactive).", messages.SUCCESS
                )

    @admin.action(description="Activate selected cadences", permissions=["change"])
    def activate_selected(self, request: HttpRequest, queryset: QuerySet[Cadence]) -> None:
        before = audit.cadence_snapshots(queryset)
        activated, empty = cadences_activate(cadences=queryset)
        audit.cadences_changed(model=Cadence, before=before)
        self.message_user(request, f"Activated {activated} cadence(s).", messages.SUCCESS)
        for cadence in empty:
            self.message_user(
                request, f"'{cadence}' has no steps, so it stays inactive.", messages.WARNING
            )

    @admin.action(description="Deactivate selected cadences", permissions=["change"])
    def deactivate_selected(self, request: HttpRequest, queryset: QuerySet[Cadence]) -> None:
        before = audit.cadence_snapshots(queryset)
        count = cadences_deactivate(cadences=queryset)
        audit.cadences_changed(model=Cadence, before=before)
        self.message_user(
            request,
            f"Deactivated {count} cadence(s); leads already in them carry on to the end.",
            messages.SUCCESS,
        )

    @admin.action(description="Export selected cadences as JSON", permissions=["view"])
    def export_selected(self, request: HttpRequest, queryset: QuerySet[Cadence]) -> HttpResponse:
        cadences = list(queryset.select_related("on_complete_cadence"))
        if len(cadences) == 1:
            response = HttpResponse(dumps_cadence(cadences[0]), content_type="application/json")
            filename = f"{_file_stem(cadences[0])}.json"
        else:
            response = HttpResponse(_zip_of(cadences), content_type="application/zip")
            filename = "cadences.zip"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a cadence file: created or updated as by `import_cadence`, or unchanged."""
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = CadenceImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = cadence_import(
                    content=form.cleaned_data["file"].read(),
                    activate=form.cleaned_data["activate"],
                    now=timezone.now(),
                )
            except CadenceFormatError as error:
                form.add_error("file", f"Nothing was changed. {error}")
            else:
                count = len(result.spec.steps)
                outcome = "created" if result.created else "updated"
                self.message_user(
                    request,
                    f"Imported '{result.cadence}': {count} step(s), {outcome}.",
                    messages.SUCCESS,
                )
                url = reverse("admin:cadences_cadence_change", args=[result.cadence.pk])
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "form": form,
            "title": "Import a cadence from a JSON file",
        }
        return TemplateResponse(request, "admin/cadences/cadence/import.html", context)


def _param(params: QueryDict, name: str) -> str:
    # On the cadence page the inputs are prefixed, so they never clash with its fields.
    return params.get(f"preview_{name}") or params.get(name) or ""


def _preview_calendar(cadence: Cadence, problems: list[str]) -> scheduling.Calendar:
    calendar = cadence_calendar(cadence)
    if calendar.holiday_country:
        try:
            scheduling.validate_holiday_country(calendar.holiday_country)
        except ValueError:
            problems.append(
                f"Holiday country '{calendar.holiday_country}' is unknown: "
                "previewed without public holidays."
            )
            return scheduling.Calendar(business_days_only=cadence.business_days_only)
    return calendar


def _file_stem(cadence: Cadence) -> str:
    return slugify(cadence.name) or f"cadence-{cadence.pk}"


def _zip_of(cadences: list[Cadence]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for cadence in cadences:
            archive.writestr(f"{_file_stem(cadence)}-{cadence.pk}.json", dumps_cadence(cadence))
    return buffer.getvalue()


class StepVariantInline(admin.TabularInline):
    model = StepVariant
    form = StepVariantForm
    fields = ("label", "subject", "body")
    extra = 0
    verbose_name = "A/B variant"
    verbose_name_plural = "A/B variants (the step's own subject and body are variant A)"


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

    class Media:
        js = STEP_SCRIPTS

    def get_inlines(self, request: HttpRequest, obj: Step | None) -> tuple:
        # Each enrolment gets one variant of an email step's copy (services._variant_for).
        return self.inlines if obj is not None and obj.channel == Channel.EMAIL else ()

    def get_deleted_objects(self, objs, request: HttpRequest) -> tuple:
        # A step its tasks protect is marked removed rather than deleted: nothing blocks it.
        deleted, counts, perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: Step) -> None:
        step_remove(step=obj, now=timezone.now())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Step]) -> None:
        now = timezone.now()
        for step in queryset:
            step_remove(step=step, now=now)


@admin.register(StepVariant)
class StepVariantAdmin(JoinedLabelsMixin, admin.ModelAdmin):
    form = StepVariantForm
    list_display = ("step", "label", "subject")
    list_select_related = ("step__cadence",)
    list_filter = ("step__cadence",)
    search_fields = ("subject", "step__cadence__name")
    autocomplete_fields = ("step",)
