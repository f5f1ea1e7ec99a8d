"""Admin for lead intake: routing rules, web capture forms, the suppression list, imports."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from followup.roles import active_reps
from leads.capture import capture_url, snippet
from leads.models import CaptureForm, LeadImport, RoutingRule, Suppression


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "priority",
        "source",
        "tag",
        "cadence",
        "owner",
        "pool_names",
        "is_active",
    )
    list_display_links = ("name",)
    list_editable = ("priority", "is_active")
    list_filter = ("is_active",)
    list_select_related = ("cadence", "owner")
    ordering = ("priority", "id")
    search_fields = ("name", "source", "tag")
    filter_horizontal = ("pool",)
    fieldsets = (
        (None, {"fields": ("name", "priority", "is_active")}),
        ("Which leads", {"fields": ("source", "tag")}),
        ("Where they go", {"fields": ("cadence", "owner", "pool")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("pool")

    @admin.display(description="pool")
    def pool_names(self, rule: RoutingRule) -> str:
        return ", ".join(sorted(u.get_username() for u in rule.pool.all()))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "owner":
            kwargs["queryset"] = active_reps()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "pool":
            kwargs["queryset"] = active_reps()
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(CaptureForm)
class CaptureFormAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "cadence", "is_active", "form_url")
    list_filter = ("is_active",)
    list_select_related = ("cadence",)
    search_fields = ("name", "source")
    readonly_fields = ("public_key", "form_url", "embed_snippet", "created_at")
    fields = ("name", "source", "cadence", "is_active", *readonly_fields)

    @admin.display(description="form URL")
    def form_url(self, form: CaptureForm) -> str:
        return capture_url(form) if form.pk else "(saved forms get one)"

    @admin.display(description="embeddable HTML")
    def embed_snippet(self, form: CaptureForm) -> str:
        if not form.pk:
            return "Save the form to get its HTML."
        return format_html(
            "<p>Paste this into a page of your site; set <code>next</code> to your own "
            "thank-you page, or leave it empty for ours.</p>"
            '<textarea readonly rows="16" cols="90" style="font-family: monospace">{}</textarea>',
            snippet(form),
        )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "reason", "created_at")
    search_fields = ("email", "domain", "reason")
    fields = ("email", "domain", "reason", "created_at")
    readonly_fields = ("created_at",)


@admin.register(LeadImport)
class LeadImportAdmin(admin.ModelAdmin):
    """Imports are written by the import pages and the worker: read here, deletable."""

    list_display = (
        "filename",
        "created_by",
        "status",
        "created",
        "updated",
        "skipped",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("created_by",)
    search_fields = ("filename", "created_by__username")
    exclude = ("errors", "notes", "header", "mapping")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).defer("errors", "notes")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
