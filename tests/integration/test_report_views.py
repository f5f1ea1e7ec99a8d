"""The Reports pages: managers only, a chart first, the numbers beside the benchmark, CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cadences import charts
from cadences.models import DailyQueue, Enrolment
from cadences.reports import REPORTS
from leads.models import Touch
from tests.factories import CadenceFactory, EnrolmentFactory, LeadFactory, StepFactory, TaskFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MARCH = {"from": "2027-03-01", "to": "2027-03-31"}


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def touch(lead, when: dt.datetime, **fields) -> Touch:
    fields = {"channel": "call", "outcome": "no_answer", **fields}
    return Touch.objects.create(lead=lead, rep=lead.owner, occurred_at=when, **fields)


def won_lead(owner, touched: int, won_at: dt.datetime | None = None):
    won_at = won_at or at("2027-03-20T10:00")
    lead = LeadFactory(owner=owner, status="won", won_at=won_at, status_changed_at=won_at)
    for i in range(touched):
        touch(lead, won_at - dt.timedelta(days=touched - i))
    return lead


def stopped_lead(owner, touched: int = 2, **fields):
    lead = LeadFactory(owner=owner, **fields)
    for i in range(touched):
        touch(lead, at("2027-03-02T10:00") + dt.timedelta(days=i))
    return lead


@pytest.fixture
def as_manager(client, manager):
    client.force_login(manager)
    return client


# --- who may look ------------------------------------------------------------------------------

REP_URLS = [
    reverse("cadences-reports"),
    reverse("cadences-report", args=["touches-to-close"]),
    reverse("cadences-report", args=["touches-to-close"]) + "?format=csv",
    reverse("cadences-report-stopped"),
]


@pytest.mark.parametrize("url", REP_URLS)
def test_a_rep_is_refused_every_reports_page_with_403(client, rep, url):
    client.force_login(rep)
    assert client.get(url).status_code == 403


def test_a_rep_cannot_hand_leads_back_either(client, rep):
    client.force_login(rep)
    lead = stopped_lead(rep)
    response = client.post(reverse("cadences-report-stopped"), {"leads": [lead.id], "cadence": 1})
    assert response.status_code == 403
    assert not Enrolment.objects.exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("cadences-reports"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- the page ----------------------------------------------------------------------------------


def test_a_manager_sees_every_report_as_a_chart_then_its_numbers(as_manager, rep):
    for n in (1, 5, 5, 6, 7, 2, 9, 5, 12, 3):
        won_lead(rep, n)

    response = as_manager.get(reverse("cadences-reports"), MARCH)

    assert response.status_code == 200
    html = response.content.decode()
    assert [s.name for s in response.context["sections"]] == list(REPORTS)
    for name in REPORTS:
        assert f'id="{name}"' in html
        csv_link = f"{reverse('cadences-report', args=[name])}?from=2027-03-01&amp;to=2027-03-31"
        assert f"{csv_link}&amp;format=csv" in html
    assert html.count('role="img"') >= 6
    assert '<title id="chart-touches-to-close-title">Touches to close</title>' in html
    section = response.context["sections"][0]
    assert section.headers[:4] == ["Touches", "Leads", "Share %", "Benchmark %"]
    assert section.rows[4][:4] == ["5+", 7, 70.0, 81]
    # The chart comes before the table in each section.
    assert html.index("chart-touches-to-close-title") < html.index("Touches to close: the numbers")


def test_the_period_defaults_to_the_last_30_days(client, manager):
    with time_machine.travel(at("2027-04-02T12:00"), tick=False):
        client.force_login(manager)  # inside the travel, or the session has long expired
        response = client.get(reverse("cadences-reports"))
    choice = response.context["choice"]
    assert (choice.date_from, choice.date_to) == (dt.date(2027, 3, 4), dt.date(2027, 4, 2))
    assert 'value="2027-04-02"' in response.content.decode()


def test_one_rep_can_be_picked(as_manager, rep, teammate):
    won_lead(rep, 2)
    won_lead(teammate, 3)
    response = as_manager.get(reverse("cadences-reports"), {**MARCH, "rep": "bob"})
    section = response.context["sections"][0]
    assert response.context["choice"].rep == teammate
    assert [row[1] for row in section.rows[:5]] == [0, 0, 1, 0, 0]


def test_a_start_after_the_end_is_a_clear_message_not_an_error(as_manager):
    response = as_manager.get(
        reverse("cadences-reports"), {"from": "2027-03-31", "to": "2027-03-01"}
    )
    assert response.status_code == 200
    assert response.context["sections"] == []
    assert "From is after to" in response.content.decode()


def test_an_unknown_rep_or_a_bad_date_is_a_form_error(as_manager):
    response = as_manager.get(reverse("cadences-reports"), {**MARCH, "rep": "nobody"})
    assert "rep" in response.context["form"].errors
    response = as_manager.get(reverse("cadences-reports"), {"from": "March", "to": "2027-03-31"})
    assert "from" in response.context["form"].errors


def test_a_period_without_data_shows_each_reports_empty_state(as_manager, rep):
    response = as_manager.get(reverse("cadences-reports"), {**MARCH, "rep": "alice"})
    assert response.status_code == 200
    html = response.content.decode()
    for message in (
        "No lead was won in this period.",
        "No follow-up stopped in this period",
        "No lead was created in this period.",
        "No outbound touch was made in this period.",
        "No cadence step fell due in this period.",
        "No touched lead was won, lost or marked unresponsive in this period.",
    ):
        assert message in html
    assert html.count("report-empty") == 6  # load forecast and today still show alice's zeros


def test_a_period_with_no_reps_at_all_is_still_a_page(as_manager):
    response = as_manager.get(reverse("cadences-reports"), MARCH)
    assert response.status_code == 200
    assert "No active rep to forecast for." in response.content.decode()


def test_one_report_has_its_own_page(as_manager, rep):
    won_lead(rep, 4)
    response = as_manager.get(reverse("cadences-report", args=["touches-to-close"]), MARCH)
    assert response.status_code == 200
    assert response.context["section"].rows[3][:2] == ["4", 1]


def test_an_unknown_report_is_404(as_manager):
    assert (
        as_manager.get(reverse("cadences-report", args=["win-forecast"]), MARCH).status_code == 404
    )


# --- CSV ---------------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_each_report_downloads_as_csv(as_manager, rep):
    for n in (1, 5, 5, 6, 7, 2, 9, 5, 12, 3):
        won_lead(rep, n)
    url = reverse("cadences-report", args=["touches-to-close"])

    response = as_manager.get(url, {**MARCH, "format": "csv"})

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        'filename="touches-to-close_2027-03-01_2027-03-31.csv"' in response["Content-Disposition"]
    )
    rows = csv_rows(response)
    assert rows[0] == ["Touches", "Leads", "Share %", "Benchmark %", "alice"]
    assert rows[1:6] == [
        ["1", "1", "10.0", "2", "1"],
        ["2", "1", "10.0", "3", "1"],
        ["3", "1", "10.0", "4", "1"],
        ["4", "0", "0.0", "10", "0"],
        ["5+", "7", "70.0", "81", "7"],
    ]


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_has_a_csv_even_when_empty(as_manager, rep, name):
    response = as_manager.get(reverse("cadences-report", args=[name]), {**MARCH, "format": "csv"})
    assert response.status_code == 200
    assert csv_rows(response)[0]  # a header row at least


def test_the_load_forecast_csv_has_a_row_per_rep_and_day(as_manager, rep):
    response = as_manager.get(
        reverse("cadences-report", args=["load-forecast"]), {**MARCH, "format": "csv"}
    )
    rows = csv_rows(response)
    assert rows[0][:3] == ["rep", "date", "calls"]
    assert len(rows) == 1 + 28


def test_a_csv_for_a_bad_period_is_400_with_the_reason(as_manager):
    url = reverse("cadences-report", args=["touches-to-close"])
    response = as_manager.get(url, {"from": "2027-03-31", "to": "2027-03-01", "format": "csv"})
    assert response.status_code == 400
    assert "From is after to" in response.content.decode()


# --- handing stopped leads back into a cadence ------------------------------------------------


@pytest.fixture
def nurture(db):
    cadence = CadenceFactory(name="Second wind")
    StepFactory(cadence=cadence, position=1, channel="call")
    return cadence


def test_the_stopped_leads_are_listed_longest_untouched_first(as_manager, rep):
    later = stopped_lead(rep, touched=3, first_name="Later")
    earlier = stopped_lead(rep, touched=1, first_name="Earlier")
    won_lead(rep, 2)
    response = as_manager.get(reverse("cadences-report-stopped"), MARCH)
    assert [lead.id for lead in response.context["leads"]] == [earlier.id, later.id]
    assert "Earlier" in response.content.decode()


def test_a_manager_hands_stopped_leads_back_in_one_action_with_refusals_listed(
    as_manager, rep, nurture
):
    first, second = stopped_lead(rep), stopped_lead(rep)
    lost = stopped_lead(rep, status="lost", first_name="Lou", last_name="Lost")
    resumed = stopped_lead(rep, first_name="Rae", last_name="Resumed")
    TaskFactory(lead=resumed, kind="callback", due_at=at("2027-04-10T10:00"))
    url = reverse("cadences-report-stopped") + "?from=2027-03-01&to=2027-03-31"

    response = as_manager.post(
        url, {"cadence": nurture.id, "leads": [first.id, second.id, lost.id, resumed.id]}
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert result["started"] == 2
    assert {(lead.id, why) for lead, why in result["refused"]} == {
        (lost.id, "the lead is lost"),
        (resumed.id, "its follow-up is no longer stopped"),
    }
    running = Enrolment.objects.filter(cadence=nurture, status="active")
    assert set(running.values_list("lead_id", flat=True)) == {first.id, second.id}
    html = response.content.decode()
    assert "Handed back 2 leads into Second wind." in html
    assert "Lou Lost: the lead is lost" in html
    assert [lead.id for lead in response.context["leads"]] == [lost.id]


def test_handing_back_without_ticking_a_lead_says_so(as_manager, rep, nurture):
    stopped_lead(rep)
    response = as_manager.post(
        reverse("cadences-report-stopped") + "?from=2027-03-01&to=2027-03-31",
        {"cadence": nurture.id},
    )
    assert response.status_code == 200
    assert response.context["result"] is None
    assert "Tick at least one lead to hand back." in response.content.decode()
    assert not Enrolment.objects.exists()


def test_no_stopped_lead_is_a_clear_empty_state(as_manager, rep):
    response = as_manager.get(reverse("cadences-report-stopped"), {**MARCH, "rep": "alice"})
    assert "No lead's follow-up stopped in this period for alice." in response.content.decode()


# --- a fixed number of queries whatever the data size -------------------------------------------


def team_history(reps: list, count: int, cadence, step) -> None:
    for i in range(count):
        owner = reps[i % len(reps)]
        if i % 3 == 0:
            won_lead(owner, 1 + i % 6)
        elif i % 3 == 1:
            stopped_lead(owner, touched=1 + i % 4, created_at=at("2027-03-01T08:00"))
        else:
            enrolment = EnrolmentFactory(lead=LeadFactory(owner=owner), cadence=cadence)
            TaskFactory(
                lead=enrolment.lead,
                enrolment=enrolment,
                step=step,
                due_at=at("2027-03-25T10:00"),
                created_at=at("2027-03-24T10:00"),
            )
        DailyQueue.objects.get_or_create(
            rep=owner,
            date=dt.date(2027, 3, 31),
            defaults={
                "assembled_at": at("2027-03-31T08:00"),
                "refreshed_at": at("2027-03-31T08:00"),
            },
        )


def test_the_reports_page_runs_the_same_queries_at_5_and_50_leads(
    client, manager, rep, teammate, nurture, django_assert_max_num_queries
):
    step = nurture.steps.get()
    counts = []
    with time_machine.travel(at("2027-03-31T12:00"), tick=False):
        client.force_login(manager)
        for size in (5, 45):
            team_history([rep, teammate], size, nurture, step)
            with django_assert_max_num_queries(30), CaptureQueriesContext(connection) as page:
                response = client.get(reverse("cadences-reports"), MARCH)
            assert response.status_code == 200
            counts.append(len(page.captured_queries))
    assert counts[0] == counts[1]


def test_the_stopped_leads_page_runs_the_same_queries_at_5_and_50_leads(
    as_manager, rep, teammate, django_assert_max_num_queries
):
    counts = []
    for size in (5, 45):
        for i in range(size):
            stopped_lead([rep, teammate][i % 2], touched=1 + i % 3)
        with django_assert_max_num_queries(12), CaptureQueriesContext(connection) as page:
            as_manager.get(reverse("cadences-report-stopped"), MARCH)
        counts.append(len(page.captured_queries))
    assert counts[0] == counts[1]


# --- the charts themselves ---------------------------------------------------------------------


def test_a_bar_chart_is_accessible_svg_with_text_labels():
    svg = charts.bar_chart(
        title="Touches <to> close",
        categories=["touch 1", "touch 2"],
        series=[("Yours", [10.0, 90.0]), ("Benchmark", [2, 3])],
        fmt=charts.percent,
        benchmark_last=True,
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg
    assert "<title id=" in svg and "Touches &lt;to&gt; close" in svg
    assert "<desc id=" in svg and "Yours — touch 1: 10%, touch 2: 90%" in svg
    assert ">touch 2</text>" in svg and ">90%</text>" in svg
    assert charts.GREY in svg
    assert "<script" not in svg


def test_long_category_names_are_slanted_inside_a_taller_wider_chart():
    steps = [f"Outbound 8-touch · {n} B" for n in range(1, 15)]
    series = [("Done on time", [50.0] * 14), ("Exited there", [0.0] * 14)]

    slanted = charts.bar_chart(title="Step results", categories=steps, series=series)
    level = charts.bar_chart(title="Touches", categories=["1", "2", "3"], series=series)

    assert slanted.count('transform="rotate(-45') == 14
    left, _, width, height = (float(n) for n in re.search(r'viewBox="([^"]+)"', slanted)[1].split())
    assert left < 0 and width > charts.WIDTH and height > charts.HEIGHT
    assert f'viewBox="0 0 {charts.WIDTH} {charts.HEIGHT}"' in level and "rotate" not in level
    # 14 groups of two bars leave no room for "50%" over each bar: the table has them.
    assert ">50%</text>" not in slanted and ">0%</text>" not in slanted
    assert "Outbound 8-touch · 1 B, Done on time: 50" in slanted  # the bar's tooltip


def test_charts_of_nothing_say_so_instead_of_dividing_by_zero():
    assert "No data for this period." in charts.bar_chart(title="Empty", categories=[], series=[])
    zeros = charts.bar_chart(title="Zeros", categories=["a"], series=[("n", [0])])
    assert 'height="0.0"' in zeros
    gaps = charts.line_chart(title="Gaps", categories=["a", "b"], series=[("n", [None, None])])
    assert "<polyline" in gaps


def test_a_line_chart_draws_the_capacity_as_a_dashed_limit():
    svg = charts.line_chart(
        title="Load",
        categories=["03-01", "03-02", "03-03"],
        series=[("Calls", [10, 60, 20])],
        limit=("Capacity", [50, 50, 50]),
    )
    assert svg.count("<polyline") == 2
    assert 'stroke-dasharray="6 4"' in svg
    assert ">Capacity</text>" in svg


def test_axis_maxima_are_round_numbers():
    assert [charts.nice_ceiling(v) for v in (0, 7, 70, 81, 130, 0.3)] == [
        1.0,
        10,
        100,
        100,
        200,
        0.5,
    ]
