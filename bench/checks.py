"""The dataset keeps the engine's invariants; each query counts the rows that break one."""

from __future__ import annotations

import datetime as dt

import psycopg

INVARIANTS = {
    "active enrolments without exactly one pending step task": """
        select count(*) from cadences_enrolment e
        where e.status = 'active' and (
            select count(*) from cadences_task t
            where t.enrolment_id = e.id and t.kind = 'step' and t.status = 'pending'
        ) <> 1
    """,
    "pending step tasks of enrolments that are not active": """
        select count(*) from cadences_task t join cadences_enrolment e on e.id = t.enrolment_id
        where t.status = 'pending' and e.status <> 'active'
    """,
    "leads whose counters disagree with their touches": """
        select count(*) from leads_lead l left join (
            select lead_id,
                   count(*) filter (where direction = 'outbound') as outbound,
                   min(occurred_at) filter (where direction = 'outbound') as first_out,
                   max(occurred_at) filter (where direction = 'outbound') as last_out,
                   max(occurred_at) as last_any
            from leads_touch group by lead_id
        ) t on t.lead_id = l.id
        where l.touch_count <> coalesce(t.outbound, 0)
           or l.first_touched_at is distinct from t.first_out
           or l.last_outbound_at is distinct from t.last_out
           or l.last_touched_at is distinct from t.last_any
    """,
    "leads whose speed-to-lead times disagree with their touches": """
        select count(*) from leads_lead l left join (
            select t.lead_id,
                   min(t.occurred_at) filter (where t.direction = 'outbound') as attempt_at,
                   min(t.occurred_at) filter (
                       where t.outcome in ('connected', 'replied', 'meeting_booked')
                   ) as connect_at
            from leads_touch t join leads_lead c on c.id = t.lead_id
            where t.occurred_at >= c.created_at
            group by t.lead_id
        ) f on f.lead_id = l.id
        where l.first_attempt_at is distinct from f.attempt_at
           or l.first_connect_at is distinct from f.connect_at
    """,
    "touches the touch-day summary miscounts (it must count each one up to its id)": """
        select abs(coalesce((select sum(n) from cadences_touchday), 0) - (
            select count(*) from leads_touch where id <= coalesce(
                (select through_id from cadences_reportsummary where name = 'touch-days'), 0)
        ))
    """,
    "history after now (a tick at now would not be idle)": """
        select (select count(*) from cadences_task where created_at > %(now)s
                  or completed_at > %(now)s)
             + (select count(*) from leads_touch where occurred_at > %(now)s)
    """,
    "automated emails already due at now": """
        select count(*) from cadences_task
        where status = 'pending' and mode = 'auto' and due_at <= %(now)s
    """,
}


def dataset_problems(url: str, now: dt.datetime) -> list[str]:
    problems = []
    with psycopg.connect(url) as conn:
        for what, query in INVARIANTS.items():
            count = conn.execute(query, {"now": now}).fetchone()[0]
            if count:
                problems.append(f"{count} {what}")
    return problems
