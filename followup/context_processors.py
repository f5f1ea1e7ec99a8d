from __future__ import annotations

from django.http import HttpRequest

from followup.roles import is_manager


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    return {"is_manager": bool(user and user.is_authenticated and is_manager(user))}
