"""The browser's CSV import: upload, fix the column mapping, watch it run, read the result.

The import itself runs in the worker (django-q2) through the same service as
``manage.py import_leads``; these pages only store the file, queue the task, and read
the progress the task writes to its ``LeadImport`` row. The progress page polls a
partial every second (htmx) and, being read from the row, survives a reload.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cadences.models import Cadence
from followup.roles import active_reps, is_manager
from leads.exports import csv_response
from leads.importing import ImportFailed, import_preview, import_start, import_upload
from leads.lead_csv import COLUMNS
from leads.models import LeadImport

MAX_UPLOAD = 50 * 1024 * 1024
RECENT = 10


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8, comma or semicolon separated, with a header row; up to 50 MB.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(
                "The file is larger than 50 MB: split it and import each part."
            )
        return upload


class MappingForm(forms.Form):
    """One select per column of the file, then the defaults for the whole import."""

    owner = forms.ModelChoiceField(
        queryset=None,
        required=False,
        empty_label="Route automatically (routing rules, then rotation)",
        label="Owner for rows without one",
    )
    cadence = forms.ModelChoiceField(
        queryset=Cadence.objects.all(), required=False, empty_label="No cadence"
    )
    source = forms.CharField(max_length=100, required=False, label="Source for rows without one")
    strict = forms.BooleanField(
        required=False, label="All or nothing: import nothing if any row is bad"
    )

    def __init__(self, *args, job: LeadImport, owners: QuerySet, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owners
        choices = [("", "— ignore —"), *((c, c) for c in COLUMNS)]
        for index, name in enumerate(job.header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                choices=choices, required=False, label=name or f"column {index + 1}"
            )
            self.initial.setdefault(f"col_{index}", job.mapping[index])
        self.column_count = len(job.header)

    def column_fields(self) -> list[forms.BoundField]:
        return [self[f"col_{i}"] for i in range(self.column_count)]

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"col_{i}") or "" for i in range(self.column_count)]


def _owner_choices(user: AbstractBaseUser) -> QuerySet:
    """A manager picks any active rep; a rep owns what they import (or routes it)."""
    reps = active_reps()
    return reps if is_manager(user) else reps.filter(id=user.pk)


def _import_for(request: HttpRequest, pk: int) -> LeadImport:
    job = LeadImport.objects.select_related("created_by", "cadence", "default_owner").filter(pk=pk)
    job = job.first()
    if job is None or not (job.created_by_id == request.user.pk or is_manager(request.user)):
        raise Http404("no such import")
    return job


def _recent(user: AbstractBaseUser) -> QuerySet:
    imports = LeadImport.objects.select_related("created_by").defer("errors", "notes")
    if not is_manager(user):
        imports = imports.filter(created_by=user)
    return imports[:RECENT]


@login_required
@require_http_methods(["GET", "POST"])
def import_new(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = import_upload(user=request.user, filename=upload.name, chunks=upload.chunks())
        except ImportFailed as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("leads-import-map", pk=job.pk)
    context = {"form": form, "imports": _recent(request.user), "nav": "leads"}
    return render(request, "leads/import_new.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def import_map(request: HttpRequest, pk: int) -> HttpResponse:
    job = _import_for(request, pk)
    if job.status != LeadImport.Status.DRAFT:
        return redirect("leads-import-detail", pk=job.pk)
    owners = _owner_choices(request.user)
    form = MappingForm(request.POST or None, job=job, owners=owners)
    if request.method == "POST" and form.is_valid():
        try:
            _start(job, form)
        except ImportFailed as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("leads-import-detail", pk=job.pk)
    context = {"job": job, "form": form, "preview": import_preview(job), "nav": "leads"}
    return render(request, "leads/import_map.html", context)


def _start(job: LeadImport, form: MappingForm) -> None:
    owner = form.cleaned_data["owner"]
    import_start(
        job=job,
        mapping=form.mapping(),
        owner=owner,
        route=owner is None,
        cadence=form.cleaned_data["cadence"],
        source=form.cleaned_data["source"].strip(),
        strict=form.cleaned_data["strict"],
    )


@login_required
@require_GET
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _import_for(request, pk)
    if job.status == LeadImport.Status.DRAFT:
        return redirect("leads-import-map", pk=job.pk)
    return render(request, "leads/import_detail.html", {"job": job, "nav": "leads"})


@login_required
@require_GET
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress partial, polled every second by the detail page until it is finished."""
    return render(request, "leads/import_progress.html", {"job": _import_for(request, pk)})


@login_required
@require_GET
def import_bad_rows(request: HttpRequest, pk: int) -> HttpResponse:
    job = _import_for(request, pk)
    stem = job.filename.rsplit(".", 1)[0] or "import"
    return csv_response(f"{stem}-bad-rows.csv", ["line", "reason"], job.errors)
