"""Admin for what the project package owns: the audit log, read-only for managers."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest

from leads.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Nobody adds, edits or deletes entries, superusers included: a log one can edit
    proves nothing. Managers see it through their ``view_auditentry`` permission."""

    list_display = ("at", "actor_name", "action", "target_repr", "via")
    list_filter = ("action",)
    search_fields = ("actor_name", "target_repr", "target_id", "via")
    date_hierarchy = "at"
    readonly_fields = [field.name for field in AuditEntry._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
