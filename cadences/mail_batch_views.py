"""The mail batch pages: today's notes to post, their CSV, their labels, "mark posted"."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from cadences.mail_batches import CSV_HEADER, batch_rows, mail_batch, mail_batch_post
from followup.roles import is_manager
from leads.exports import csv_response


def _batch_rep(request: HttpRequest) -> AbstractBaseUser:
    """The user's own batch; a manager may open a rep's with ``?rep=username``."""
    username = request.GET.get("rep") or request.POST.get("rep")
    if not username or username == request.user.get_username():
        return request.user
    if not is_manager(request.user):
        raise Http404("no such batch")
    rep = get_user_model().objects.filter(username=username, is_active=True).first()
    if rep is None:
        raise Http404("no such rep")
    return rep


def _query(rep: AbstractBaseUser, request: HttpRequest) -> str:
    return "" if rep == request.user else f"?rep={rep.get_username()}"


@login_required
@require_GET
def batch_page(request: HttpRequest) -> HttpResponse:
    rep = _batch_rep(request)
    batch = mail_batch(rep=rep, now=timezone.now())
    context = {"batch": batch, "query": _query(rep, request), "nav": "mail"}
    return render(request, "cadences/mail_batch.html", context)


@login_required
@require_GET
def batch_csv(request: HttpRequest) -> HttpResponse:
    batch = mail_batch(rep=_batch_rep(request), now=timezone.now())
    return csv_response(f"mail-batch-{batch.day:%Y-%m-%d}.csv", CSV_HEADER, batch_rows(batch))


@login_required
@require_GET
def batch_labels(request: HttpRequest) -> HttpResponse:
    batch = mail_batch(rep=_batch_rep(request), now=timezone.now())
    return render(request, "cadences/mail_batch_labels.html", {"batch": batch})


@login_required
@require_POST
def batch_posted(request: HttpRequest) -> HttpResponse:
    rep = _batch_rep(request)
    ids = [int(i) for i in request.POST.getlist("task") if i.isdigit()]
    posted = mail_batch_post(rep=rep, task_ids=ids, now=timezone.now())
    count = len(posted)
    messages.success(request, f"{count} note{'s' if count != 1 else ''} marked posted.")
    return redirect(reverse("cadences-mail-batch") + _query(rep, request))
