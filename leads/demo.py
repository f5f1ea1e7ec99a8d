"""Demo data: two reps, a manager, accounts, ~50 leads across time zones, the three
cadences written from the seeds, and a few weeks of history made by the engine itself.

History is not faked row by row: leads are enrolled in the past and their due tasks
are worked through ``touch_log`` at their due times, so every touch, step and event
is exactly what the product would have recorded.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from cadences.cadence_format import cadence_apply, load_cadence_file
from cadences.models import Cadence, Heartbeat, Task
from cadences.services import EnrolmentRefused, enrolment_start, lead_status_set
from leads.models import Asset, Lead, RepProfile
from leads.services import lead_upsert
from leads.touches import signal_record, touch_log

DEMO_PASSWORD = "followup-demo"
MARKER = "seed_demo"
CADENCE_DIR = Path(__file__).resolve().parent.parent / "cadences" / "fixtures" / "cadences"
CADENCE_FILES = ("long-term-nurture.json", "inbound-demo-request.json", "outbound-8-touch.json")

PEOPLE = [
    # username, first, last, group, time zone, holiday country
    ("alice", "Alice", "Moreau", "reps", "America/New_York", "US"),
    ("bob", "Bob", "Okafor", "reps", "Europe/London", "GB"),
    ("maria", "Maria", "Lindqvist", "managers", "Europe/Berlin", "DE"),
]
ACCOUNTS = [
    ("Acme Logistics", "acme-logistics.example", "America/Chicago"),
    ("Brightwater Health", "brightwater.example", "America/New_York"),
    ("Cobalt Robotics", "cobalt-robotics.example", "America/Los_Angeles"),
    ("Delta Foods GmbH", "deltafoods.example", "Europe/Berlin"),
    ("Evergreen Energy", "evergreen.example", "Europe/London"),
    ("Fjord Analytics", "fjord.example", "Europe/Oslo"),
    ("Ganges Textiles", "ganges.example", "Asia/Kolkata"),
    ("Harbour Finance", "harbour.example", "Australia/Sydney"),
    ("Ivy Learning", "ivy-learning.example", "America/Denver"),
    ("Juniper Retail", "juniper.example", "America/Toronto"),
]
FIRST = [
    "Ann",
    "Ben",
    "Chloe",
    "Dev",
    "Eva",
    "Finn",
    "Grace",
    "Hugo",
    "Isla",
    "Jon",
    "Kai",
    "Lena",
    "Max",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
    "Uma",
    "Vik",
    "Wes",
    "Xena",
    "Yuki",
]
LAST = ["Lee", "Garcia", "Müller", "Khan", "Smith", "Rossi", "Novak", "Chen", "Silva", "Berg"]
TITLES = [
    "Head of Operations",
    "VP Sales",
    "CFO",
    "IT Director",
    "Procurement Lead",
    "COO",
    "Operations Manager",
    "Founder",
]
ASSETS = [
    ("The 2027 follow-up playbook", "guide", "awareness"),
    ("How Acme cut no-shows by 30%", "case_study", "consideration"),
    ("ROI calculator", "calculator", "decision"),
    ("Webinar: building a buying committee", "webinar", "consideration"),
    ("Implementation plan template", "guide", "decision"),
]


@dataclass
class DemoResult:
    created: bool
    users: list[str]


def seed_demo(*, now: dt.datetime) -> DemoResult:
    """Load the demo once; a second run changes nothing."""
    users = [p[0] for p in PEOPLE]
    if Heartbeat.objects.filter(name=MARKER).exists():
        return DemoResult(created=False, users=users)
    with transaction.atomic():
        people = _people()
        _assets()
        cadences = _cadences(now)
        _leads_with_history(people, cadences, now)
        Heartbeat.objects.create(name=MARKER, at=now)
    return DemoResult(created=True, users=users)


def _people() -> dict[str, object]:
    User = get_user_model()
    people = {}
    for username, first, last, group, tz, country in PEOPLE:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{username}@followup.example",
            },
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.is_staff = group == "managers"
        user.save()
        user.groups.add(Group.objects.get(name=group))
        RepProfile.objects.update_or_create(
            user=user,
            defaults={
                "timezone": tz,
                "holiday_country": country,
                "signature": f"{first} {last}\nAccount Executive, followup demo",
                "booking_url": f"https://calendar.example/{username}",
            },
        )
        people[username] = user
    return people


def _assets() -> None:
    for title, kind, stage in ASSETS:
        slug = title.lower().replace(" ", "-").replace(":", "")[:60]
        Asset.objects.get_or_create(
            title=title,
            defaults={
                "kind": kind,
                "url": f"https://followup.example/assets/{slug}",
                f"for_{stage}": True,
            },
        )


def _cadences(now: dt.datetime) -> dict[str, Cadence]:
    cadences = {}
    for filename in CADENCE_FILES:
        cadence, _ = cadence_apply(
            spec=load_cadence_file(CADENCE_DIR / filename), activate=True, now=now
        )
        cadences[filename.removesuffix(".json")] = cadence
    return cadences


def _leads_with_history(people: dict, cadences: dict[str, Cadence], now: dt.datetime) -> None:
    rng = random.Random(2027)
    reps = [people["alice"], people["bob"]]
    for n in range(50):
        company, domain, tz = ACCOUNTS[n % len(ACCOUNTS)]
        first, last = FIRST[n % len(FIRST)], LAST[(n * 7) % len(LAST)]
        inbound = n % 3 == 0
        created = now - dt.timedelta(
            days=rng.randint(0, 3) if inbound else rng.randint(2, 28), hours=rng.randint(0, 8)
        )
        result = lead_upsert(
            values={
                "first_name": first,
                "last_name": last,
                "email": f"{_ascii(first)}.{_ascii(last)}{n}@{domain}",
                "phone": f"+1 555 01{n:02d}",
                "title": rng.choice(TITLES),
                "timezone": tz,
                "source": "web demo request"
                if inbound
                else rng.choice(["trade show", "outbound list", "referral"]),
                "stage": rng.choice(["awareness", "consideration", "decision"]),
                "address_line1": f"{10 + n} Market Street",
                "city": "Springfield",
                "postal_code": f"{10000 + n}",
                "country": "US",
            },
            owner=reps[n % 2],
            company=company,
            now=created,
            created_at=created,
            tags=["demo", "inbound" if inbound else "outbound"],
        )
        cadence = cadences["inbound-demo-request" if inbound else "outbound-8-touch"]
        _work_history(result.lead, cadence, created, now, rng)
    _hot_signals(reps, now)


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _work_history(
    lead: Lead, cadence: Cadence, start: dt.datetime, now: dt.datetime, rng: random.Random
) -> None:
    try:
        enrolment_start(lead=lead, cadence=cadence, now=start)
    except EnrolmentRefused:
        return
    # Some reps fell behind: their leads' last few days are left overdue for the queue.
    cutoff = now - dt.timedelta(days=rng.choice([0.25, 0.25, 2, 4]))
    for _ in range(12):
        task = lead.tasks.filter(status=Task.Status.PENDING, kind="step").first()
        if task is None or task.due_at > cutoff:
            return
        at = task.due_at + dt.timedelta(minutes=rng.randint(5, 90))
        outcome = _outcome(task.channel, rng)
        if outcome == "meeting_booked" and lead.touch_count < 4:
            outcome = "connected"  # as the seeds say: meetings mostly come after touch five
        touch_log(
            lead=lead,
            rep=task.rep,
            channel=task.channel,
            outcome=outcome,
            occurred_at=at,
            now=at,
            task=task,
            source="cadence" if task.mode == "auto" else "ui",
            notes="Demo history",
        )
        lead.refresh_from_db()
        if outcome == "meeting_booked" and rng.random() < 0.5:
            lead_status_set(lead=lead, status="won", at=at + dt.timedelta(days=2))
            return
        if outcome in ("meeting_booked", "not_interested"):
            return


def _outcome(channel: str, rng: random.Random) -> str:
    if channel == "call":
        return rng.choices(
            ["no_answer", "voicemail", "connected", "meeting_booked", "not_interested"],
            weights=[45, 30, 15, 6, 4],
        )[0]
    if channel == "email":
        return "sent"
    return ""


def _hot_signals(reps: list, now: dt.datetime) -> None:
    for rep in reps:
        lead = Lead.objects.filter(owner=rep, status__in=["new", "working"]).order_by("id").first()
        if lead:
            signal_record(
                kind="pricing_page_visit",
                occurred_at=now,
                lead=lead,
                data={"url": "/pricing"},
                now=now,
            )
