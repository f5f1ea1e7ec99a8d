"""The Today page's rows, one tag each: a rep's day lists a hundred items and as many
automated emails, and the template language spent about half a millisecond on each row's
thirty variables and branches. These tags write the same markup with ``str.format``,
every text value escaped as ``{{ }}`` escapes it, in a tenth of that time. The markup
of a queue item and of an upcoming email lives here and in no template.
"""

from __future__ import annotations

from html import escape

from django import template
from django.template.defaulttags import CsrfTokenNode
from django.utils.safestring import SafeString, mark_safe

from cadences.selectors import QueueItem, UpcomingEmail

register = template.Library()

QUEUE_ITEM = (
    '<a href="{url}" class="list-group-item list-group-item-action queue-item{done_class}"'
    ' data-queue-item data-task="{task_id}" data-channel="{channel}">\n'
    '<div class="d-flex w-100 justify-content-between align-items-start gap-2">\n'
    '<div class="min-w-0">\n'
    '<div class="fw-semibold text-truncate">\n{done_icon}'
    '<span class="lead-name">{name}</span>{company}\n</div>\n'
    '<div class="small text-muted">{label}{due}</div>\n'
    "</div>\n"
    '<div class="text-end flex-shrink-0">\n'
    '<span class="badge badge-reason-{reason}">{reason_label}</span>\n{badge}\n'
    '<div class="small text-muted mt-1" title="The lead\'s local time now ({tz})">'
    '<i class="bi bi-clock"></i> {clock} their time</div>\n'
    "</div>\n</div>\n</a>"
)
DONE_ICON = '<i class="bi bi-check2-circle text-success"></i>\n'
TOUCH_BADGE = '<span class="badge text-bg-light border">touch {}</span>'
STATUS_BADGE = '<span class="badge text-bg-light border text-capitalize">{}</span>'
UPCOMING_EMAIL = (
    '<li class="list-group-item d-flex flex-wrap justify-content-between align-items-center'
    ' gap-2">\n'
    '<div class="min-w-0">\n'
    '<div class="text-truncate"><span class="fw-semibold">{name}</span>{company}</div>\n'
    '<div class="small text-muted text-truncate">“{subject}” · {cadence}{step} · {clock}'
    " their time</div>\n"
    "</div>\n"
    '<form method="post" action="{url}" class="flex-shrink-0">{csrf}\n'
    '<button type="submit" class="btn btn-sm btn-outline-danger"{title}>Cancel</button>\n'
    "</form>\n</li>"
)
IN_OUTBOX_TITLE = ' title="Already in the outbox: cancels it unless it is being sent"'


@register.simple_tag
def queue_item_row(item: QueueItem) -> SafeString:
    pending = item.is_pending
    return mark_safe(  # every text value below is escaped
        QUEUE_ITEM.format(
            url=escape(item.work_url),
            done_class="" if pending else " is-done",
            task_id=int(item.task_id),
            channel=escape(item.channel),
            done_icon="" if pending else DONE_ICON,
            name=escape(item.lead_name),
            company=_company(item.company, " fw-normal"),
            label=escape(item.step_label),
            due=f" · due {escape(item.due_clock)}" if pending else "",
            reason=escape(item.reason),
            reason_label=escape(item.reason_label),
            badge=(
                TOUCH_BADGE.format(int(item.touch_number))
                if pending
                else STATUS_BADGE.format(escape(item.status))
            ),
            tz=escape(item.lead_tz),
            clock=escape(item.lead_clock),
        )
    )


@register.simple_tag(takes_context=True)
def upcoming_email_row(context: template.Context, email: UpcomingEmail) -> SafeString:
    return mark_safe(  # every text value below is escaped
        UPCOMING_EMAIL.format(
            name=escape(email.lead_name),
            company=_company(email.company),
            subject=escape(email.subject),
            cadence=escape(email.cadence),
            step=f" step {int(email.step)}" if email.step else "",
            clock=escape(email.due_clock),
            url=escape(email.cancel_url),
            csrf=_csrf_input(context),
            title=IN_OUTBOX_TITLE if email.in_outbox else "",
        )
    )


def _company(name: str, extra: str = "") -> str:
    return f' <span class="text-muted{extra}">· {escape(name)}</span>' if name else ""


def _csrf_input(context: template.Context) -> str:
    """``{% csrf_token %}``'s hidden input, made once per page rather than once per row."""
    cached = context.render_context.get(_csrf_input)
    if cached is None:
        cached = context.render_context[_csrf_input] = CsrfTokenNode().render(context)
    return cached
