"""Admin actions a manager runs over the team: enrol leads in bulk, hand leads on.

Both ask first on an intermediate page (which cadence; which rep, and how much moves)
and then call one service: `enrolment_start_many`, `leads_reassign`.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from cadences.admin_forms import EnrolInCadenceForm
from cadences.services import enrolment_start_many
from cadences.team import leads_reassign, reassign_counts
from followup.roles import active_reps

MAX_REFUSALS_SHOWN = 200
SAMPLE_LEADS_SHOWN = 20


def _action_context(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> dict:
    """What the intermediate page posts back so the changelist runs the action again."""
    return {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "action": request.POST.get("action", ""),
        "select_across": request.POST.get("select_across", "0"),
        "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "queryset": queryset,
    }


@admin.action(description="Enrol in cadence…", permissions=["enrol"])
def enrol_in_cadence(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Choose an active cadence, then enrol every selected lead that can start it."""
    confirmed = "confirm" in request.POST
    form = EnrolInCadenceForm(request.POST if confirmed else None)
    context = _action_context(modeladmin, request, queryset)
    if confirmed and form.is_valid():
        cadence = form.cleaned_data["cadence"]
        leads = queryset.select_related("owner__rep_profile", "account")
        started, refused = enrolment_start_many(leads=leads, cadence=cadence, now=timezone.now())
        modeladmin.message_user(
            request,
            f"Enrolled {len(started)} lead(s) in '{cadence}'; {len(refused)} refused.",
            messages.SUCCESS if started else messages.WARNING,
        )
        context.update(
            title=f"Enrolled in {cadence}",
            cadence=cadence,
            started=len(started),
            refused=refused[:MAX_REFUSALS_SHOWN],
            refused_count=len(refused),
        )
        return TemplateResponse(request, "admin/leads/lead/enrol_result.html", context)
    count = queryset.count()
    context.update(
        title="Enrol leads in a cadence",
        form=form,
        count=count,
        sample=list(queryset.select_related("owner")[:SAMPLE_LEADS_SHOWN]),
    )
    return TemplateResponse(request, "admin/leads/lead/enrol.html", context)


class ReassignForm(forms.Form):
    to_rep = forms.ModelChoiceField(
        queryset=active_reps(),
        label="Hand them to",
        empty_label=None,
        help_text="Active reps only.",
    )

    def __init__(self, *args: object, from_rep: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_rep"].queryset = active_reps().exclude(pk=from_rep.pk)


@admin.action(description="Reassign leads to another rep…", permissions=["reassign"])
def reassign_leads(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponse | None:
    """Move one rep's leads, running enrolments and pending tasks to another, at once."""
    reps = list(queryset[:2])
    if len(reps) != 1:
        modeladmin.message_user(
            request, "Select exactly one rep to hand leads from.", messages.WARNING
        )
        return None
    from_rep = reps[0]
    confirmed = "confirm" in request.POST
    form = ReassignForm(request.POST if confirmed else None, from_rep=from_rep)
    if confirmed and form.is_valid():
        to_rep = form.cleaned_data["to_rep"]
        moved = leads_reassign(from_rep=from_rep, to_rep=to_rep, now=timezone.now())
        modeladmin.message_user(
            request,
            f"Moved {moved.leads} lead(s), {moved.enrolments} running enrolment(s) and "
            f"{moved.tasks} pending task(s) from {from_rep} to {to_rep}.",
            messages.SUCCESS,
        )
        return None
    context = _action_context(modeladmin, request, queryset)
    context.update(
        title=f"Reassign the leads of {from_rep}",
        form=form,
        from_rep=from_rep,
        counts=reassign_counts(from_rep=from_rep),
    )
    return TemplateResponse(request, "admin/leads/reassign.html", context)
