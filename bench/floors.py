"""Floors: hand-written SQL doing the same selection and writes as our code, in one or a
few statements, timed in the same run. Our time divided by the floor's says how much
the ORM and Python cost on top of what the database must do anyway.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

# The morning queues: every active rep's tasks for their local today, counted per
# section with the capacity cap, one DailyQueue row per rep (cadences.queues).
MORNING_QUEUES = """
with reps as (
    select u.id,
           coalesce(nullif(p.timezone, ''), %(default_tz)s) as tz,
           coalesce(p.call_capacity, 50) as call_cap,
           coalesce(p.email_capacity, 50) as email_cap
    from auth_user u
    join auth_user_groups ug on ug.user_id = u.id
    join auth_group g on g.id = ug.group_id and g.name = 'reps'
    left join leads_repprofile p on p.user_id = u.id
    where u.is_active
), days as (
    select r.*, (%(now)s at time zone r.tz)::date as day from reps r
), bounds as (
    select d.*, (d.day::timestamp at time zone d.tz) as day_start,
           ((d.day + 1)::timestamp at time zone d.tz) as day_end
    from days d
), counted as (
    -- Per rep, each of the two selections is an index range scan within that rep's own
    -- day (lateral): the least the database must read, and no scan of the task table.
    select b.id as rep_id,
        p.call_open, d.call_done, p.email_open, d.email_done,
        p.other_open + d.other_done as other_total, d.other_done
    from bounds b
    cross join lateral (
        select count(*) filter (where t.channel = 'call') as call_open,
               count(*) filter (where t.channel = 'email') as email_open,
               count(*) filter (where t.channel not in ('call', 'email')) as other_open
        from cadences_task t
        where t.rep_id = b.id and t.status = 'pending' and t.mode = 'manual'
          and t.due_at < b.day_end
    ) p
    cross join lateral (
        select count(*) filter (where t.channel = 'call') as call_done,
               count(*) filter (where t.channel = 'email') as email_done,
               count(*) filter (where t.channel not in ('call', 'email')) as other_done
        from cadences_task t
        where t.rep_id = b.id and t.status in ('done', 'skipped') and t.mode = 'manual'
          and t.completed_at >= b.day_start and t.completed_at < b.day_end
    ) d
), capped as (
    select c.*, b.day,
           least(c.call_open, greatest(b.call_cap - c.call_done, 0)) as call_kept,
           least(c.email_open, greatest(b.email_cap - c.email_done, 0)) as email_kept
    from counted c join bounds b on b.id = c.rep_id
)
insert into cadences_dailyqueue (
    rep_id, date, assembled_at, refreshed_at, calls_total, calls_done, emails_total,
    emails_done, other_total, other_done, rolled_over_calls, rolled_over_emails)
select rep_id, day, %(now)s, %(now)s, call_done + call_kept, call_done, email_done + email_kept,
       email_done, other_total, other_done, call_open - call_kept, email_open - email_kept
from capped
on conflict (rep_id, date) do nothing
"""

QUEUE_SNAPSHOT = """
select rep_id, date, calls_total, calls_done, emails_total, emails_done, other_total,
       other_done, rolled_over_calls, rolled_over_emails
from cadences_dailyqueue order by rep_id, date
"""


def morning_queues(cursor, *, now: dt.datetime, default_tz: str) -> None:
    cursor.execute(MORNING_QUEUES, {"now": now, "default_tz": default_tz})


def queue_snapshot(cursor) -> list[tuple]:
    cursor.execute(QUEUE_SNAPSHOT)
    return cursor.fetchall()


# The CSV import: the file streamed into a temporary table with COPY, then set-based
# writes: accounts for new company names, matched leads updated (a blank cell keeps
# the old value), new leads inserted for the owner, tags created and linked.
IMPORT_STATEMENTS = (
    """
    create temporary table incoming (
        email text, first_name text, last_name text, phone text, company text, title text,
        timezone text, source text, tags text
    ) on commit drop
    """,
    """
    insert into leads_account (name, domain, created_at)
    select distinct on (lower(company)) company, '', %(now)s from incoming where company <> ''
    on conflict do nothing
    """,
    """
    update leads_lead l set
        first_name = coalesce(nullif(i.first_name, ''), l.first_name),
        last_name = coalesce(nullif(i.last_name, ''), l.last_name),
        phone = coalesce(nullif(i.phone, ''), l.phone),
        title = coalesce(nullif(i.title, ''), l.title),
        timezone = coalesce(nullif(i.timezone, ''), l.timezone),
        source = coalesce(nullif(i.source, ''), l.source),
        updated_at = %(now)s
    from incoming i
    where lower(l.email) = lower(i.email) and l.email <> ''
    """,
    """
    insert into leads_lead (
        first_name, last_name, email, phone, title, source, status, stage, timezone,
        address_line1, address_line2, city, region, postal_code, country, do_not_email,
        do_not_call, created_at, updated_at, touch_count, notes, account_id, owner_id)
    select i.first_name, i.last_name, lower(i.email), i.phone, i.title, i.source, 'new',
           'awareness', i.timezone, '', '', '', '', '', '', false, false, %(now)s, %(now)s, 0,
           '', a.id, %(owner)s
    from incoming i
    left join leads_account a on lower(a.name) = lower(i.company) and i.company <> ''
    where not exists (select 1 from leads_lead l where lower(l.email) = lower(i.email))
    """,
    """
    insert into leads_tag (name)
    select distinct trim(name) from incoming, unnest(string_to_array(tags, ';')) as name
    where trim(name) <> ''
    on conflict do nothing
    """,
    """
    insert into leads_lead_tags (lead_id, tag_id)
    select l.id, t.id
    from incoming i
    join leads_lead l on lower(l.email) = lower(i.email)
    cross join lateral unnest(string_to_array(i.tags, ';')) as cell(name)
    join leads_tag t on t.name = trim(cell.name)
    on conflict do nothing
    """,
)


def import_csv(cursor, *, path: Path, now: dt.datetime, owner_id: int) -> None:
    """``cursor`` is a psycopg 3 cursor (``connection.cursor().cursor`` under Django)."""
    params = {"now": now, "owner": owner_id}
    cursor.execute(IMPORT_STATEMENTS[0])
    columns = "email, first_name, last_name, phone, company, title, timezone, source, tags"
    # An empty cell is an empty string, as for the importer, not NULL.
    options = f"format csv, header true, force_not_null ({columns})"
    with (
        path.open("rb") as source,
        cursor.copy(f"copy incoming ({columns}) from stdin ({options})") as copy,
    ):
        while block := source.read(1 << 20):
            copy.write(block)
    for statement in IMPORT_STATEMENTS[1:]:
        cursor.execute(statement, params)
