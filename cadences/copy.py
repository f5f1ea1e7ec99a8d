"""Cadence copy: render subjects and bodies safely, and check that they add value.

Copy is written by managers in Django's template language. It renders in a sandbox:
an engine with no loaders, no extra libraries, and plain dicts for ``lead``, ``rep``
and ``asset``, so a template cannot reach the database, settings or files. A
variable that does not exist is an error, never a silently empty string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    VariableDoesNotExist,
    defaultfilters,
    defaulttags,
)


class CopyError(Exception):
    """The copy does not render; ``str()`` names the problem."""


class _MissingVariable(str):
    """``string_if_invalid`` that raises: Django formats it with the variable's name."""

    def __mod__(self, name: object) -> str:
        raise CopyError(f"unknown variable '{name}'")

    def __contains__(self, item: object) -> bool:  # Django checks for "%s" before formatting
        return item == "%s"


SAFE_TAGS = (
    "if",
    "for",
    "with",
    "firstof",
    "cycle",
    "now",
    "spaceless",
    "comment",
    "filter",
    "ifchanged",
    "verbatim",
    "widthratio",
    "templatetag",
    "regroup",
    "resetcycle",
)


def _sandbox() -> Engine:
    engine = Engine(
        dirs=[],
        app_dirs=False,
        libraries={},
        string_if_invalid=_MissingVariable("%s"),
        autoescape=False,
    )
    # Only plain logic tags: no {% debug %} (dumps the context and modules), no {% load %},
    # {% include %}, {% url %} or {% csrf_token %}. A new Library, so Django's own
    # default tags stay untouched for every other template.
    tags = Library()
    tags.tags = {name: defaulttags.register.tags[name] for name in SAFE_TAGS}
    engine.template_builtins = [tags, defaultfilters.register]
    return engine


SANDBOX = _sandbox()

SAMPLE_LEAD = {
    "first_name": "Ann",
    "last_name": "Lee",
    "name": "Ann Lee",
    "email": "ann@example.com",
    "title": "Head of Operations",
    "company": "Acme",
    "phone": "+1 555 0100",
    "source": "web",
}
SAMPLE_REP = {
    "first_name": "Alice",
    "last_name": "Doe",
    "name": "Alice Doe",
    "email": "alice@example.com",
    "signature": "Alice Doe\nAccount Executive",
    "booking_url": "https://example.com/book/alice",
}
SAMPLE_ASSET = {
    "title": "How Acme cut churn by 30%",
    "url": "https://example.com/case",
    "summary": "",
}


def lead_context(lead: object) -> dict[str, str]:
    account = getattr(lead, "account", None)
    return {
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "name": lead.name,
        "email": lead.email,
        "title": lead.title,
        "phone": lead.phone,
        "company": account.name if account else "",
        "source": lead.source,
    }


def rep_context(rep: object) -> dict[str, str]:
    profile = getattr(rep, "rep_profile", None)
    return {
        "first_name": rep.first_name,
        "last_name": rep.last_name,
        "name": rep.get_full_name() or rep.username,
        "email": rep.email,
        "signature": profile.signature if profile else "",
        "booking_url": profile.booking_url if profile else "",
    }


def asset_context(asset: object | None) -> dict[str, str]:
    if asset is None:
        return {"title": "", "url": "", "summary": ""}
    return {"title": asset.title, "url": asset.url, "summary": asset.summary}


@functools.lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    # A step's copy is the same for every lead it goes to: compile it once, not per email.
    # A compiled template renders any number of times, from any thread.
    return SANDBOX.from_string(source)


def render_text(source: str, variables: dict[str, dict[str, str]]) -> str:
    try:
        return _compiled(source).render(Context(variables, autoescape=False))
    except CopyError:
        raise
    except VariableDoesNotExist as exc:  # an unknown name as a filter argument
        name = exc.params[0] if exc.params else "?"
        raise CopyError(f"unknown variable '{name}'") from None
    except TemplateSyntaxError as exc:
        raise CopyError(str(exc)) from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        # A filter failing on the lead's data must fail this email, not the whole tick.
        raise CopyError(f"does not render: {exc}") from None


def render_email(
    *, subject: str, body: str, lead: object, rep: object, asset: object | None
) -> tuple[str, str]:
    variables = {"lead": lead_context(lead), "rep": rep_context(rep), "asset": asset_context(asset)}
    rendered_subject = " ".join(render_text(subject, variables).split())
    return rendered_subject, render_text(body, variables)


def check_renders(source: str) -> str | None:
    """None when ``source`` renders with a sample lead, else the reason it does not."""
    try:
        render_text(source, {"lead": SAMPLE_LEAD, "rep": SAMPLE_REP, "asset": SAMPLE_ASSET})
    except CopyError as exc:
        return str(exc)
    return None


# --- value check: every touch should add value -----------------------------------------

EMPTY_PHRASES = (
    "just following up",
    "just checking in",
    "touching base",
    "touch base",
    "circling back",
    "circle back",
    "bumping this",
    "bump this",
    "any update",
    "did you get a chance",
    "just wanted to follow up",
    "following up on my last",
    "checking in to see",
)
_PHRASE_RE = re.compile("|".join(re.escape(p) for p in EMPTY_PHRASES), re.IGNORECASE)


@dataclass(frozen=True)
class ValueWarning:
    position: int
    message: str


def empty_phrases(text: str) -> list[str]:
    return sorted({m.group(0).lower() for m in _PHRASE_RE.finditer(text or "")})


def step_value_warnings(step: object) -> list[ValueWarning]:
    """Warn on empty follow-up phrases, and on steps that carry nothing new."""
    warnings = []
    text = " ".join(
        str(part) for part in (step.subject, step.body, step.script, step.title) if part
    )
    for phrase in empty_phrases(text):
        warnings.append(ValueWarning(step.position, f'says "{phrase}": say what is new instead'))
    carries = step.questions or step.asset_stage or len(step.body or step.script or "") >= 80
    if not carries and step.channel not in ("call", "social", "task") and not step.breakup:
        warnings.append(
            ValueWarning(step.position, "carries no question, no asset and no new information")
        )
    return warnings
