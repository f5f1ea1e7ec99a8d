"""Django admin: every page opens for a manager in a fixed number of queries; reps stay out.

The page tests iterate over `admin.site._registry`, so a model registered later is
covered without editing this file, once `ROW_MAKERS` knows how to make one of it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Model
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cadences.models import (
    DailyQueue,
    DecidedLeadDay,
    Enrolment,
    EnrolmentEvent,
    ForecastDay,
    Heartbeat,
    OutboundEmail,
    ReportSummary,
    Step,
    StepResultDay,
    StepVariant,
    Task,
    TouchDay,
)
from leads.models import (
    ApiToken,
    AuditEntry,
    CaptureForm,
    Lead,
    LeadImport,
    RepProfile,
    RoutingRule,
    Suppression,
    Tag,
    TimeOff,
)
from leads.services import api_token_create, hash_api_key
from tests.factories import (
    AccountFactory,
    AssetFactory,
    CadenceFactory,
    EnrolmentFactory,
    LeadFactory,
    RepFactory,
    SignalFactory,
    StepFactory,
    TaskFactory,
    TouchFactory,
    UserFactory,
)

User = get_user_model()
MANAGED_APPS = {"leads", "cadences"}
NOW = timezone.now()
serial = itertools.count(1)


def _label(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _is_managed(model: type[Model]) -> bool:
    return model._meta.app_label in MANAGED_APPS or model is User


REGISTERED = sorted(admin.site._registry, key=_label)
MANAGED = [m for m in REGISTERED if _is_managed(m)]
UNMANAGED = [m for m in REGISTERED if not _is_managed(m)]


def _task_with_step() -> Task:
    step = StepFactory()
    enrolment = EnrolmentFactory(cadence=step.cadence)
    return TaskFactory(lead=enrolment.lead, enrolment=enrolment, step=step)


def _outbound_email() -> OutboundEmail:
    task = TaskFactory(channel="email", mode="auto")
    n = next(serial)
    return OutboundEmail.objects.create(
        task=task,
        lead=task.lead,
        to_email=task.lead.email,
        from_email="rep@example.com",
        subject=f"Guide {n}",
        body_text="Hi",
        message_id=f"<{n}@followup.test>",
    )


def _lead() -> Lead:
    lead = LeadFactory(account=AccountFactory())
    lead.tags.add(Tag.objects.create(name=f"tag-{next(serial)}"))
    return lead


# One row each, with fresh related rows, so an unjoined relation shows as extra queries.
ROW_MAKERS: dict[str, Callable[[], Model]] = {
    "auth.user": RepFactory,
    "leads.account": AccountFactory,
    "leads.tag": lambda: Tag.objects.create(name=f"tag-{next(serial)}"),
    "leads.lead": _lead,
    "leads.touch": TouchFactory,
    "leads.signal": SignalFactory,
    "leads.asset": AssetFactory,
    "leads.repprofile": lambda: RepProfile.objects.get(user=RepFactory()),
    "leads.timeoff": lambda: TimeOff.objects.create(
        rep=RepFactory(), starts_on=dt.date(2027, 3, 1), ends_on=dt.date(2027, 3, 5)
    ),
    "leads.apitoken": lambda: api_token_create(user=RepFactory())[0],
    "cadences.cadence": lambda: StepFactory(
        cadence=CadenceFactory(on_complete_cadence=CadenceFactory())
    ).cadence,
    "cadences.step": StepFactory,
    "cadences.stepvariant": lambda: StepVariant.objects.create(
        step=StepFactory(channel="email"), label="B", subject="Hi", body="Hello"
    ),
    "cadences.enrolment": EnrolmentFactory,
    "cadences.task": _task_with_step,
    "cadences.outboundemail": _outbound_email,
    "cadences.enrolmentevent": lambda: EnrolmentEvent.objects.create(
        enrolment=EnrolmentFactory(), kind="started", step_position=0, message="Enrolled"
    ),
    "cadences.dailyqueue": lambda: DailyQueue.objects.create(
        rep=RepFactory(),
        date=dt.date(2027, 3, 1) + dt.timedelta(days=next(serial)),
        assembled_at=NOW,
        refreshed_at=NOW,
    ),
    "cadences.heartbeat": lambda: Heartbeat.objects.create(name=f"beat-{next(serial)}", at=NOW),
    "cadences.reportsummary": lambda: ReportSummary.objects.create(
        name=f"summary-{next(serial)}", through_id=5, time_zone="UTC", refreshed_at=NOW
    ),
    "cadences.touchday": lambda: TouchDay.objects.create(
        day=NOW.date(), channel="call", direction="out", outcome=f"o{next(serial)}", n=3
    ),
    "cadences.stepresultday": lambda: StepResultDay.objects.create(
        day=NOW.date() + dt.timedelta(days=next(serial)), step=StepFactory(), reached=3, on_time=2
    ),
    "cadences.decidedleadday": lambda: DecidedLeadDay.objects.create(
        day=NOW.date() + dt.timedelta(days=next(serial)),
        touches=3,
        under_1d=1,
        under_2d=1,
        under_4d=2,
        under_7d=2,
        won=True,
        leads=4,
    ),
    "cadences.forecastday": lambda: ForecastDay.objects.create(
        rep=RepFactory(), day=NOW.date(), calls=4, emails=2
    ),
    "leads.routingrule": lambda: RoutingRule.objects.create(
        name=f"r{next(serial)}", cadence=CadenceFactory(), owner=RepFactory()
    ),
    "leads.captureform": lambda: CaptureForm.objects.create(
        name=f"f{next(serial)}", cadence=CadenceFactory()
    ),
    "leads.suppression": lambda: Suppression.objects.create(email=f"s{next(serial)}@example.com"),
    "leads.leadimport": lambda: LeadImport.objects.create(
        created_by=RepFactory(), filename="x.csv"
    ),
    "leads.auditentry": lambda: AuditEntry.objects.create(
        action="lead.status",
        target_repr=f"lead {next(serial)}",
        before={"status": "new"},
        after={"status": "won"},
    ),
}


def make_rows(model: type[Model], count: int) -> list[Model]:
    maker = ROW_MAKERS.get(_label(model))
    assert maker, f"add a row maker for {_label(model)} to ROW_MAKERS in {__name__}"
    return [maker() for _ in range(count)]


def admin_url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def form_data(response) -> dict[str, object]:
    """What the browser would post back from an admin change page, untouched."""
    data: dict[str, object] = {}
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        forms += inline.formset.forms
    for form in forms:
        for name in form.fields:
            value = form[name].value()
            if value is None or value is False:
                continue
            data[form.add_prefix(name)] = "on" if value is True else value
    return data


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


def test_the_manager_is_staff_but_not_superuser_and_gets_rights_from_the_group(manager):
    assert manager.is_staff and not manager.is_superuser
    assert not manager.user_permissions.exists()
    assert manager.has_perm("cadences.change_cadence")
    assert manager.has_perm("leads.view_touch")
    assert manager.has_perm("auth.change_user")


def test_every_model_of_leads_and_cadences_has_an_admin():
    models = [m for app in MANAGED_APPS for m in apps.get_app_config(app).get_models()]

    unregistered = [_label(m) for m in models if m not in admin.site._registry]

    assert not unregistered, "register these in leads/admin.py or cadences/admin.py"


def test_managers_may_do_all_on_leads_and_cadences_except_delete_api_tokens(db):
    """...and except writing the audit log, which they may only read."""
    granted = set(
        Group.objects.get(name="managers").permissions.values_list(
            "content_type__app_label", "codename"
        )
    )
    models = [m for app in MANAGED_APPS for m in apps.get_app_config(app).get_models()]
    # A model added later needs a migration granting these, like leads 0003.
    for model in [*models, User]:
        opts = model._meta
        for action in ("view", "add", "change", "delete"):
            perm = (opts.app_label, f"{action}_{opts.model_name}")
            refused = (
                perm == ("leads", "delete_apitoken")
                or (model is User and action == "delete")
                or (opts.model_name == "auditentry" and action != "view")
            )
            assert (perm in granted) is not refused, perm


def test_the_admin_index_says_followup_admin(as_manager):
    response = as_manager.get(reverse("admin:index"))

    assert response.status_code == 200
    assert "followup admin" in response.text


@pytest.mark.parametrize("model", MANAGED, ids=_label)
def test_every_admin_page_opens_for_a_manager(as_manager, manager, model):
    rows = make_rows(model, 2)
    request = RequestFactory().get("/")
    request.user = manager
    can_add = admin.site._registry[model].has_add_permission(request)

    assert as_manager.get(admin_url(model, "changelist")).status_code == 200
    assert as_manager.get(admin_url(model, "add")).status_code == (200 if can_add else 403)
    assert as_manager.get(admin_url(model, "change", rows[-1].pk)).status_code == 200


@pytest.mark.parametrize("model", MANAGED, ids=_label)
def test_a_changelist_runs_as_many_queries_for_30_rows_as_for_3(
    as_manager, model, django_assert_max_num_queries
):
    url = admin_url(model, "changelist")
    make_rows(model, 3)
    as_manager.get(url)  # warm the per-process caches (content types) first
    with CaptureQueriesContext(connection) as three_rows:
        assert as_manager.get(url).status_code == 200
    make_rows(model, 27)

    # Session, user, the user's group permissions, the counts, the rows with their
    # relations joined, one query per related-model filter's choices: none per row.
    with django_assert_max_num_queries(len(three_rows.captured_queries)):
        response = as_manager.get(url)
    assert response.context["cl"].result_count >= 30


@pytest.mark.parametrize("model", UNMANAGED, ids=_label)
def test_a_manager_is_refused_groups_and_the_worker_internals(as_manager, model):
    assert as_manager.get(admin_url(model, "changelist")).status_code == 403


@pytest.mark.parametrize("model", REGISTERED, ids=_label)
def test_a_rep_is_sent_to_the_admin_login_from_every_admin_page(client, rep, model):
    client.force_login(rep)
    urls = [admin_url(model, "changelist"), admin_url(model, "add")]
    if _label(model) in ROW_MAKERS:
        urls.append(admin_url(model, "change", make_rows(model, 1)[0].pk))

    for url in [reverse("admin:index"), *urls]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("admin:login")), url


def test_a_new_token_shows_its_key_once_and_stores_only_its_hash(as_manager, rep):
    response = as_manager.post(
        admin_url(ApiToken, "add"), {"user": rep.pk, "name": "dialer"}, follow=True
    )

    key = re.search(r"fu_[\w-]{20,}", response.text).group(0)
    token = ApiToken.objects.get(user=rep)
    assert token.name == "dialer"
    assert token.key_hash == hash_api_key(key)
    assert key not in {str(getattr(token, f.attname)) for f in ApiToken._meta.concrete_fields}
    for url in (admin_url(ApiToken, "changelist"), admin_url(ApiToken, "change", token.pk)):
        page = as_manager.get(url).text
        assert key not in page
        assert token.key_hash not in page


def test_a_manager_cannot_issue_a_token_for_a_superuser(as_manager):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    response = as_manager.post(admin_url(ApiToken, "add"), {"user": root.pk, "name": "x"})

    assert response.status_code == 200
    assert "user" in response.context["adminform"].form.errors
    assert not ApiToken.objects.exists()


def test_revoking_selected_tokens_stamps_revoked_at_and_keeps_an_earlier_one(as_manager, rep):
    live, _ = api_token_create(user=rep)
    old, _ = api_token_create(user=rep)
    old.revoked_at = NOW - dt.timedelta(days=3)
    old.save()

    response = as_manager.post(
        admin_url(ApiToken, "changelist"),
        {"action": "revoke_selected", "_selected_action": [live.pk, old.pk]},
    )

    assert response.status_code == 302
    live.refresh_from_db()
    old.refresh_from_db()
    assert live.revoked_at is not None
    assert old.revoked_at == NOW - dt.timedelta(days=3)


def test_tokens_cannot_be_deleted_in_admin(as_manager, rep):
    token, _ = api_token_create(user=rep)

    assert as_manager.get(admin_url(ApiToken, "delete", token.pk)).status_code == 403


def test_a_manager_sets_a_reps_capacity_and_time_off_on_the_user_page(as_manager, rep):
    page = as_manager.get(admin_url(User, "change", rep.pk))
    data = form_data(page)
    profile_prefix, time_off_prefix = (
        inline.formset.prefix for inline in page.context["inline_admin_formsets"]
    )
    data[f"{profile_prefix}-0-call_capacity"] = 35
    data[f"{time_off_prefix}-TOTAL_FORMS"] = 1
    data[f"{time_off_prefix}-0-starts_on"] = "2027-03-01"
    data[f"{time_off_prefix}-0-ends_on"] = "2027-03-05"
    data["is_superuser"] = "on"  # not on a manager's form: must be ignored

    response = as_manager.post(admin_url(User, "change", rep.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    rep.refresh_from_db()
    assert rep.rep_profile.call_capacity == 35
    assert list(rep.time_off.values_list("starts_on", "ends_on")) == [
        (dt.date(2027, 3, 1), dt.date(2027, 3, 5))
    ]
    assert not rep.is_superuser


def test_a_manager_may_only_put_people_in_the_reps_or_managers_group(as_manager, rep):
    page = as_manager.get(admin_url(User, "change", rep.pk))
    data = form_data(page)
    data["groups"] = [Group.objects.create(name="ops").pk]

    response = as_manager.post(admin_url(User, "change", rep.pk), data)

    assert response.status_code == 200
    assert "groups" in response.context["adminform"].form.errors


def test_a_manager_cannot_change_a_superuser_or_reset_their_password(as_manager):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    page = as_manager.get(admin_url(User, "change", root.pk))

    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert as_manager.get(admin_url(User, "password_change", root.pk)).status_code == 403


def _cadence_with_steps(*positions: int):
    cadence = CadenceFactory(name="Outbound")
    for position in positions:
        StepFactory(cadence=cadence, position=position, title=f"step at {position}")
    return cadence


def test_a_cadence_page_shows_its_steps_in_position_order(as_manager):
    cadence = _cadence_with_steps(3, 1, 2)

    page = as_manager.get(admin_url(type(cadence), "change", cadence.pk))

    (steps,) = page.context["inline_admin_formsets"]
    assert [form.instance.position for form in steps.formset.forms] == [1, 2, 3]


def test_a_manager_reorders_steps_by_editing_their_positions(as_manager):
    cadence = _cadence_with_steps(1, 2)
    page = as_manager.get(admin_url(type(cadence), "change", cadence.pk))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data[f"{prefix}-0-position"], data[f"{prefix}-1-position"] = 2, 1

    response = as_manager.post(admin_url(type(cadence), "change", cadence.pk), data)

    assert response.status_code == 302
    assert list(cadence.steps.order_by("position").values_list("title", flat=True)) == [
        "step at 2",
        "step at 1",
    ]


def test_two_steps_at_one_position_are_refused(as_manager):
    cadence = _cadence_with_steps(1, 2)
    page = as_manager.get(admin_url(type(cadence), "change", cadence.pk))
    data = form_data(page)
    data[f"{page.context['inline_admin_formsets'][0].formset.prefix}-1-position"] = 1

    response = as_manager.post(admin_url(type(cadence), "change", cadence.pk), data)

    assert response.status_code == 200
    steps = response.context["inline_admin_formsets"][0].formset
    assert "position 1" in str(steps.non_form_errors())
    assert "Two steps have position 1" in response.text


def test_an_automatic_email_step_without_a_subject_is_refused_naming_the_field(as_manager):
    cadence = _cadence_with_steps(1)
    page = as_manager.get(admin_url(type(cadence), "change", cadence.pk))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data.update({f"{prefix}-0-channel": "email", f"{prefix}-0-mode": "auto"})

    response = as_manager.post(admin_url(type(cadence), "change", cadence.pk), data)

    step_form = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "subject" in step_form.errors
    assert Step.objects.get(cadence=cadence).mode == "manual"


def test_step_questions_are_edited_one_per_line(as_manager):
    cadence = _cadence_with_steps(1)
    page = as_manager.get(admin_url(type(cadence), "change", cadence.pk))
    data = form_data(page)
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    data[f"{prefix}-0-questions"] = "What prompted the request?\n\n  Who else decides?  \n"

    as_manager.post(admin_url(type(cadence), "change", cadence.pk), data)

    assert Step.objects.get(cadence=cadence).questions == [
        "What prompted the request?",
        "Who else decides?",
    ]


def test_a_lead_page_shows_its_latest_touches_newest_first_and_still_saves(as_manager, rep):
    lead = LeadFactory(owner=rep)
    for days in range(25):
        TouchFactory(lead=lead, occurred_at=NOW - dt.timedelta(days=days))
    page = as_manager.get(admin_url(Lead, "change", lead.pk))
    touches = next(
        i
        for i in page.context["inline_admin_formsets"]
        if i.formset.model._meta.model_name == "touch"
    )
    shown = [form.instance.occurred_at for form in touches.formset.forms]
    data = form_data(page)
    data["title"] = "VP Sales"

    response = as_manager.post(admin_url(Lead, "change", lead.pk), data)

    assert shown == sorted(shown, reverse=True) and len(shown) == 20
    assert shown[0] == NOW
    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    assert lead.title == "VP Sales"
    assert lead.touches.count() == 25


def test_tasks_are_found_by_the_leads_email(as_manager, rep):
    wanted = TaskFactory(lead=LeadFactory(owner=rep, email="ann@acme.example"))
    TaskFactory(lead=LeadFactory(owner=rep, email="bob@other.example"))

    response = as_manager.get(admin_url(Task, "changelist"), {"q": "ann@acme"})

    assert [task.pk for task in response.context["cl"].result_list] == [wanted.pk]


def test_a_lead_marked_won_in_admin_is_stamped_and_leaves_its_cadence(as_manager, rep):
    enrolment = EnrolmentFactory(lead=LeadFactory(owner=rep), cadence=CadenceFactory())
    lead = enrolment.lead
    data = form_data(as_manager.get(admin_url(Lead, "change", lead.pk)))
    data["status"] = "won"

    response = as_manager.post(admin_url(Lead, "change", lead.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    lead.refresh_from_db()
    enrolment.refresh_from_db()
    assert lead.status == "won" and lead.won_at is not None
    assert lead.status_changed_at == lead.won_at
    assert enrolment.status == "exited"


def test_do_not_call_set_in_admin_skips_the_leads_pending_calls(as_manager, rep):
    call = TaskFactory(lead=LeadFactory(owner=rep), channel="call")
    email = TaskFactory(lead=call.lead, channel="email")
    data = form_data(as_manager.get(admin_url(Lead, "change", call.lead.pk)))
    data["do_not_call"] = "on"

    as_manager.post(admin_url(Lead, "change", call.lead.pk), data)

    call.refresh_from_db()
    email.refresh_from_db()
    assert (call.status, email.status) == ("skipped", "pending")


def test_enrolling_a_lead_in_admin_starts_it_like_the_engine_does(as_manager, rep):
    lead = LeadFactory(owner=rep)
    cadence = StepFactory(position=1, cadence=CadenceFactory(name="Inbound")).cadence

    response = as_manager.post(
        admin_url(Enrolment, "add"), {"lead": lead.pk, "cadence": cadence.pk}
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    enrolment = Enrolment.objects.get(lead=lead)
    assert (enrolment.owner, enrolment.status) == (rep, "active")
    assert enrolment.events.filter(kind="enrolled").exists()
    assert enrolment.tasks.filter(status="pending", step__position=1).exists()


def test_enrolling_a_won_lead_in_admin_is_refused_with_the_reason(as_manager, rep):
    lead = LeadFactory(owner=rep, status="won")
    cadence = StepFactory(position=1).cadence

    response = as_manager.post(
        admin_url(Enrolment, "add"), {"lead": lead.pk, "cadence": cadence.pk}
    )

    assert response.status_code == 200
    assert "Cannot enrol: the lead is won." in response.text
    assert not Enrolment.objects.exists()


def test_pause_resume_and_exit_actions_go_through_the_engine(as_manager, rep):
    step = StepFactory(position=1)
    enrolment = EnrolmentFactory(lead=LeadFactory(owner=rep), cadence=step.cadence)
    task = TaskFactory(lead=enrolment.lead, enrolment=enrolment, step=step)
    url = admin_url(Enrolment, "changelist")

    def act(action: str) -> str:
        as_manager.post(url, {"action": action, "_selected_action": [enrolment.pk]})
        enrolment.refresh_from_db()
        return enrolment.status

    assert act("pause_selected") == "paused"
    task.refresh_from_db()
    assert task.status == "cancelled"
    assert act("resume_selected") == "active"
    assert act("exit_selected") == "exited"
    assert enrolment.exit_reason == "manager (maria)"
    assert not enrolment.tasks.filter(status="pending").exists()


def test_a_manager_moves_a_pending_task_later_as_a_snooze_and_hands_it_on(
    as_manager, rep, teammate
):
    task = _task_with_step()
    later = (timezone.now() + dt.timedelta(days=2)).replace(microsecond=0)
    data = form_data(as_manager.get(admin_url(Task, "change", task.pk)))
    data.update(
        {"rep": teammate.pk, "due_at_0": f"{later:%Y-%m-%d}", "due_at_1": f"{later:%H:%M:%S}"}
    )
    del data["due_at"]

    response = as_manager.post(admin_url(Task, "change", task.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    task.refresh_from_db()
    assert (task.rep, task.due_at, task.due_reasons) == (teammate, later, ["snoozed"])
    assert task.status_reason == "moved by maria"
    assert task.enrolment.events.filter(kind="snoozed").exists()


def test_a_task_cannot_be_moved_into_the_past(as_manager):
    task = _task_with_step()
    data = form_data(as_manager.get(admin_url(Task, "change", task.pk)))
    data.update({"due_at_0": "2020-01-01", "due_at_1": "09:00:00"})
    del data["due_at"]

    response = as_manager.post(admin_url(Task, "change", task.pk), data)

    assert "due_at" in response.context["adminform"].form.errors


def test_a_finished_task_is_read_only_in_admin(as_manager):
    task = _task_with_step()
    task.status = "done"
    task.save()

    page = as_manager.get(admin_url(Task, "change", task.pk))

    assert set(page.context["adminform"].form.fields) == set()
