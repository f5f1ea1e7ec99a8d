"""The HTTP API (CONTRACT.md section 6), mounted at ``/api/``.

Schema at ``/api/openapi.json``, browsable docs at ``/api/docs``. The docs' Swagger UI
is served from django-ninja's own static files ("ninja" is in INSTALLED_APPS, served by
whitenoise like ours), never from a CDN: the app must work without internet access.

Every error is JSON: 400 ``{"error", "fields"}`` for bad input (django-ninja's 422 is
turned into it, naming the fields), else ``{"error"}``.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI, Router
from ninja.errors import HttpError, ValidationError

from cadences.api import router as cadences_router
from followup.api_base import ApiError, BearerToken
from leads.api import router as leads_router

logger = logging.getLogger(__name__)

api = NinjaAPI(
    title="followup API",
    version="1",
    description=(
        "Leads, touches, signals, queues and reports. Send `Authorization: Bearer TOKEN` "
        "(`manage.py create_api_token USERNAME`). Timestamps are ISO 8601 with an offset."
    ),
    auth=BearerToken(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("", leads_router)
api.add_router("", cadences_router)

# Last, so it only catches what no operation matched: a JSON 404, not the HTML page.
fallback = Router()


@fallback.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", auth=None, include_in_schema=False
)
def no_such_endpoint(request: HttpRequest, rest: str) -> HttpResponse:
    raise ApiError(404, f"no endpoint /api/{rest} (API paths end with a slash)")


api.add_router("", fallback)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    body: dict[str, object] = {"error": exc.message}
    if exc.fields is not None:
        body["fields"] = exc.fields
    response = api.create_response(request, body, status=exc.status)
    if exc.retry_after:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(ValidationError)
def _invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = fields_from_errors(exc.errors)
    body = {"error": "invalid input: " + ", ".join(fields), "fields": fields}
    return api.create_response(request, body, status=400)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:  # django-ninja's only 400: a body that is not JSON
        body = {"error": "the body is not valid JSON", "fields": {"body": "not valid JSON"}}
        return api.create_response(request, body, status=400)
    message = "a valid API token is required" if exc.status_code == 401 else str(exc)
    return api.create_response(request, {"error": message}, status=exc.status_code)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return api.create_response(request, {"error": "not found"}, status=404)


@api.exception_handler(Exception)
def _crash(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return api.create_response(request, {"error": "internal error"}, status=500)


SOURCES = ("body", "query", "path", "header", "cookie", "form", "file")


def fields_from_errors(errors: list[dict]) -> dict[str, str]:
    """django-ninja's error list as ``{"field": "message"}``: ``tags[0]``, ``from``, …"""
    fields: dict[str, str] = {}
    for error in errors:
        fields.setdefault(_field_name(list(error.get("loc", ()))), _message(error))
    return fields


def _field_name(loc: list) -> str:
    if loc and loc[0] in SOURCES:
        source, loc = loc[0], loc[1:]
        if source == "body" and loc:
            loc = loc[1:]  # the operation's parameter name ("payload"), not the client's
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def _message(error: dict) -> str:
    kind = error.get("type")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    return str(error.get("msg", "invalid")).removeprefix("Value error, ")
