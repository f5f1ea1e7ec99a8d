"""Routing rules: the first matching active rule by priority picks the owner and cadence."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from cadences.models import Enrolment
from cadences.tasks import repair
from leads.models import Lead, RepProfile, RoutingRule, TimeOff
from leads.routing import route_lead
from leads.services import next_owner, rep_profiles_ensure
from tests.factories import CadenceFactory, RepFactory, UserFactory

NOW = dt.datetime(2027, 3, 2, 14, tzinfo=dt.UTC)


def _rule(name: str, priority: int = 100, **fields) -> RoutingRule:
    pool = fields.pop("pool", [])
    rule = RoutingRule.objects.create(name=name, priority=priority, **fields)
    rule.pool.set(pool)
    return rule


def test_round_robin_over_a_pool_of_three_gives_1000_leads_out_fairly(db):
    reps = [RepFactory(username=f"pool{i}") for i in range(3)]
    _rule("Web", source="web", pool=reps)

    owners = Counter(route_lead(source="web", tags=[], now=NOW)[0].username for _ in range(1000))

    assert sorted(owners.values()) == [333, 333, 334]
    assert set(owners) == {r.username for r in reps}


def test_the_rotation_takes_turns_in_a_fixed_order(db):
    reps = [RepFactory(username=f"pool{i}") for i in range(3)]
    _rule("Web", pool=reps)

    picks = [route_lead(source="", tags=[], now=NOW)[0] for _ in range(6)]

    assert picks == reps + reps


def test_a_rep_on_time_off_or_inactive_is_passed_over(db):
    here, away, gone = RepFactory(), RepFactory(), RepFactory(is_active=False)
    TimeOff.objects.create(rep=away, starts_on=NOW.date(), ends_on=NOW.date())
    _rule("Web", pool=[here, away, gone])

    picks = {route_lead(source="", tags=[], now=NOW)[0] for _ in range(5)}

    assert picks == {here}


def test_the_first_matching_rule_by_priority_wins(db):
    alice, bob, carol = RepFactory(), RepFactory(), RepFactory()
    demo = CadenceFactory(name="Demo")
    _rule("Any web", priority=50, source="web", owner=bob)
    _rule("VIP web", priority=10, source="Web", tag="vip", owner=alice, cadence=demo)
    _rule("Everything", priority=90, owner=carol)

    assert route_lead(source="web", tags=["VIP"], now=NOW) == (alice, demo)
    assert route_lead(source="web", tags=["other"], now=NOW) == (bob, None)
    assert route_lead(source="expo", tags=[], now=NOW) == (carol, None)


def test_inactive_rules_are_ignored(db):
    alice, bob = RepFactory(), RepFactory()
    _rule("Off", priority=1, owner=alice, is_active=False)
    _rule("On", priority=2, owner=bob)

    assert route_lead(source="", tags=[], now=NOW)[0] == bob


def test_without_a_matching_rule_the_lead_goes_to_the_team_rotation_and_no_cadence(db):
    rep = RepFactory()
    _rule("Expo only", source="expo", owner=RepFactory(is_active=False))

    assert route_lead(source="web", tags=[], now=NOW) == (rep, None)


def test_a_pool_with_nobody_available_keeps_its_cadence_and_uses_the_team_rotation(db):
    away, other = RepFactory(), RepFactory()
    TimeOff.objects.create(rep=away, starts_on=NOW.date(), ends_on=NOW.date())
    nurture = CadenceFactory(name="Nurture")
    _rule("Small pool", pool=[away], cadence=nurture)

    assert route_lead(source="", tags=[], now=NOW) == (other, nurture)


def test_a_routed_import_owns_and_enrols_each_new_lead_through_the_rules(db, tmp_path):
    from leads.importing import ImportOptions, import_leads
    from tests.integration.engine_helpers import make_cadence

    reps = [RepFactory(username=f"pool{i}") for i in range(2)]
    demo = make_cadence("Demo", steps=[{"channel": "call", "wait_days": 0}])
    _rule("Web", source="web", pool=reps, cadence=demo)
    path = tmp_path / "leads.csv"
    path.write_text("email,phone\n" + "".join(f"l{i}@example.com,+1555{i}\n" for i in range(4)))

    report = import_leads(
        open_file=lambda: path.open("rb"),
        options=ImportOptions(now=NOW, route=True, source="web"),
    )

    assert report.created == 4
    assert Counter(Lead.objects.values_list("owner__username", flat=True)) == {
        "pool0": 2,
        "pool1": 2,
    }
    assert Enrolment.objects.filter(cadence=demo).count() == 4


# --- the team rotation (no rule matched) ------------------------------------------------


def test_the_team_rotation_takes_turns_least_recently_assigned_first(db, django_assert_num_queries):
    reps = [RepFactory(username=f"team{i}", profile={"timezone": "Asia/Tokyo"}) for i in range(3)]

    picks = [next_owner(now=NOW) for _ in range(7)]

    assert picks == [*reps, *reps, reps[0]]
    with django_assert_num_queries(0):  # the rep's settings come with the pick
        assert picks[0].rep_profile.timezone == "Asia/Tokyo"


def test_the_team_rotation_passes_over_time_off_inactive_reps_and_other_users(db):
    here, away = RepFactory(), RepFactory()
    RepFactory(is_active=False)
    UserFactory()  # not in the reps group
    TimeOff.objects.create(rep=away, starts_on=NOW.date(), ends_on=NOW.date())

    assert {next_owner(now=NOW) for _ in range(4)} == {here}
    away_tomorrow = NOW + dt.timedelta(days=1)
    assert away in {next_owner(now=away_tomorrow) for _ in range(2)}


def test_nobody_available_gives_no_owner(db):
    RepFactory(is_active=False)

    assert next_owner(now=NOW) is None


def test_a_rep_without_a_profile_joins_the_rotation_once_given_one_and_goes_next(db):
    veteran = RepFactory()
    next_owner(now=NOW)
    newcomer = RepFactory()
    RepProfile.objects.filter(user=newcomer).delete()  # put in the group from a shell

    assert {next_owner(now=NOW) for _ in range(2)} == {veteran}

    assert rep_profiles_ensure() == 1
    assert rep_profiles_ensure() == 0
    assert next_owner(now=NOW) == newcomer


def test_the_workers_hourly_repair_gives_reps_their_profiles(db):
    rep = RepFactory()
    RepProfile.objects.filter(user=rep).delete()

    repair()

    assert RepProfile.objects.filter(user=rep).exists()
