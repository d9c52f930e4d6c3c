"""Benchmark: the meeting and poll reminder scan over 100,000 meetings.

    .venv/bin/python bench/meeting_reminder_scan.py [--meetings N] [--groups G] [--repeat R]
                                                     [--spread-days D]

Builds N meetings (default 100,000) in G groups (default 1,000, five members
each, every member invited) with their start times spread over a year around
now, plus one open date poll per group, in a throw-away database: a fresh
SQLite file under ``var/bench/`` by default, or ``bench_<name>`` on the server
of ``DATABASE_URL`` when that is set (created and dropped by this script).
Then it times, in the same run:

- the baseline: one plain ``SELECT`` of every meeting
  (``list(Meeting.objects.values_list("pk", "starts_at", "times_set_at"))``);
- a cold scan, which creates every claim that is due (the first run after
  deployment, or after a long outage);
- a warm scan, where everything is claimed and queued already: what beat
  runs every two minutes;
- the cold scan again with a smaller batch size (about ten batches, or half
  the configured size), to show that the number of queries grows with the number of
  batches only, by a handful per batch.

Tasks are not queued: the send tasks' ``delay`` is replaced by a mock, so this
measures the scan itself. Prints times, query counts and ratios against the
baseline. Not a test: nothing here asserts a time.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from unittest import mock

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

BENCH_DIR = BASE_DIR / "var" / "bench"
SQLITE_FILE = BENCH_DIR / "meeting_reminder_scan.sqlite3"

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
if not os.environ.get("DATABASE_URL"):
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from groups.models import ExpertGroup, Mandate, Membership  # noqa: E402
from meetings import tasks  # noqa: E402
from meetings.models import DatePoll, Invitee, Meeting, PollSlot  # noqa: E402
from meetings.reminders import meeting_reminders_scan  # noqa: E402
from portal.models import Reminder  # noqa: E402

MEMBERS_PER_GROUP = 5


def database_create() -> str:
    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)
        return f"SQLite file {SQLITE_FILE.relative_to(BASE_DIR)}"
    # A database of its own on the same server, so that no real or test data is touched.
    connection.settings_dict["TEST"]["NAME"] = "bench_" + connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return f"{connection.vendor} database {name}"


def database_drop(old_name: str) -> None:
    if connection.vendor != "sqlite":
        connection.creation.destroy_test_db(old_name, verbosity=0)


def data_build(n_meetings: int, n_groups: int, spread_days: int) -> dict:
    """Meetings spread over ``spread_days`` around now; a fifth answered "no", 3 % cancelled."""
    rng = random.Random(42)  # the same data on every run
    now = timezone.now()
    today = timezone.localdate()
    users = User.objects.bulk_create(
        (
            User(email=f"bench{i}@example.org", full_name=f"Bench Expert {i}", password="!")
            for i in range(n_groups * MEMBERS_PER_GROUP)
        ),
        batch_size=5000,
    )
    groups = ExpertGroup.objects.bulk_create(
        (
            ExpertGroup(name=f"Bench group {i}", slug=f"bench-{i}", summary="Benchmark group.")
            for i in range(n_groups)
        ),
        batch_size=5000,
    )
    Mandate.objects.bulk_create(
        (
            Mandate(
                group=g,
                term=1,
                start_date=today - timedelta(days=100),
                end_date=today + timedelta(days=630),
            )
            for g in groups
        ),
        batch_size=5000,
    )
    members = {
        g.pk: users[i * MEMBERS_PER_GROUP : (i + 1) * MEMBERS_PER_GROUP]
        for i, g in enumerate(groups)
    }
    Membership.objects.bulk_create(
        (
            Membership(
                user=user,
                group_id=group_id,
                role=Membership.Role.COORDINATOR if j == 0 else Membership.Role.MEMBER,
                state=Membership.State.ACTIVE,
                started_at=now,
            )
            for group_id, people in members.items()
            for j, user in enumerate(people)
        ),
        batch_size=5000,
    )
    meetings = []
    for i in range(n_meetings):
        group = groups[i % n_groups]
        start = now + timedelta(minutes=rng.randint(-spread_days * 720, spread_days * 720))
        cancelled = rng.random() < 0.03
        meetings.append(
            Meeting(
                group=group,
                title=f"Bench meeting {i}",
                starts_at=start,
                ends_at=start + timedelta(hours=2),
                timezone="Europe/Brussels",
                state=Meeting.State.CANCELLED if cancelled else Meeting.State.SCHEDULED,
                times_set_at=start - timedelta(days=rng.randint(2, 60)),
            )
        )
    meetings = Meeting.objects.bulk_create(meetings, batch_size=5000)
    invitees = (
        Invitee(meeting=m, user=u, answer="no" if rng.random() < 0.2 else "")
        for m in meetings
        for u in members[m.group_id]
    )
    Invitee.objects.bulk_create(invitees, batch_size=10000)
    polls = DatePoll.objects.bulk_create(
        (
            DatePoll(
                group=g,
                title=f"Bench poll {i}",
                timezone="Europe/Brussels",
                closes_at=now + timedelta(minutes=rng.randint(10, 60 * 1440)),
                created_at=now - timedelta(days=3),
            )
            for i, g in enumerate(groups)
        ),
        batch_size=5000,
    )
    PollSlot.objects.bulk_create(
        (
            PollSlot(
                poll=p,
                starts_at=p.closes_at + timedelta(days=d),
                ends_at=p.closes_at + timedelta(days=d, hours=2),
            )
            for p in polls
            for d in (1, 2, 3)
        ),
        batch_size=5000,
    )
    # auto_now_add ignored the given creation time: polls were opened three days ago.
    DatePoll.objects.update(created_at=now - timedelta(days=3))
    return {
        "meetings": len(meetings),
        "groups": n_groups,
        "invitees": len(meetings) * MEMBERS_PER_GROUP,
        "polls": len(polls),
    }


def timed(fn, repeat: int, before=None) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs of ``fn`` (``before`` runs untimed first)."""
    times, result = [], None
    for _ in range(repeat):
        if before:
            before()
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def queries_of(fn, before=None) -> int:
    if before:
        before()
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        fn()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meetings", type=int, default=100_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--spread-days",
        type=int,
        default=365,
        help="start times spread over this many days around now (fewer: more meetings due)",
    )
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    where = database_create()
    try:
        started = time.perf_counter()
        shape = data_build(args.meetings, args.groups, args.spread_days)
        build = time.perf_counter() - started
        with connection.cursor() as cursor:
            # Planner statistics, as autovacuum would have them on a live database.
            cursor.execute("ANALYZE")

        now = timezone.now()
        in_window = Meeting.objects.filter(
            state=Meeting.State.SCHEDULED,
            starts_at__gt=now,
            starts_at__lte=now + timedelta(minutes=max(settings.MEETING_REMINDER_MINUTES)),
        ).count()
        # A batch size that cuts the due meetings into about ten batches.
        small = max(1, min(in_window // 10, settings.REMINDER_SCAN_BATCH // 2))

        def scan():
            return meeting_reminders_scan(now=now)

        def baseline():
            return list(Meeting.objects.values_list("pk", "starts_at", "times_set_at"))

        def forget_claims():
            Reminder.objects.all().delete()

        with (
            mock.patch.object(tasks.send_meeting_reminder, "delay") as meeting_delay,
            mock.patch.object(tasks.send_poll_reminder, "delay") as poll_delay,
        ):
            baseline()  # warm the connection and caches alike for everyone
            t_base, rows = timed(baseline, args.repeat)
            t_cold, queued = timed(scan, args.repeat, before=forget_claims)
            q_cold = queries_of(scan, before=forget_claims)
            scan()
            t_warm, warm_queued = timed(scan, args.repeat)
            q_warm = queries_of(scan)
            with mock.patch.object(settings, "REMINDER_SCAN_BATCH", small):
                t_small, _ = timed(scan, args.repeat, before=forget_claims)
                q_small = queries_of(scan, before=forget_claims)
            delays = meeting_delay.call_count + poll_delay.call_count
        meeting_claims = Reminder.objects.filter(subject_type="meeting").count()
        poll_claims = Reminder.objects.filter(subject_type="poll").count()
        due = (
            Reminder.objects.filter(subject_type="meeting").values("subject_id").distinct().count()
        )
        due_polls = (
            Reminder.objects.filter(subject_type="poll").values("subject_id").distinct().count()
        )
    finally:
        database_drop(old_name)

    batch = settings.REMINDER_SCAN_BATCH
    print(f"Meeting reminder scan — {where}, batch {batch}")
    print("data: " + ", ".join(f"{v} {k}" for k, v in shape.items()) + f" (built in {build:.1f} s)")
    print(
        f"due: {due} meetings ({meeting_claims} claims), {due_polls} polls ({poll_claims} claims);"
        f" tasks queued by a cold scan: {queued}"
    )
    print(f"(no task queued: the send tasks' delay is a mock, called {delays} times)")
    print(f"median of {args.repeat} runs:")
    print(f"  baseline  SELECT all {len(rows)} meetings     {t_base * 1000:8.1f} ms    1 query")
    for label, seconds, queries in (
        ("cold scan (creates claims)      ", t_cold, q_cold),
        (f"warm scan ({warm_queued} queued)           ", t_warm, q_warm),
        (f"cold scan, batch {small}            ", t_small, q_small),
    ):
        print(
            f"  {label}{seconds * 1000:8.1f} ms {queries:4d} queries"
            f"   ratio to baseline {seconds / t_base:6.2f}x"
        )
    extra_batches = -(-in_window // small) - -(-in_window // batch)
    per_batch = (q_small - q_cold) / max(extra_batches, 1)
    print(
        f"{in_window} scheduled meetings start within the largest threshold; batches of {small}"
        f" instead of {batch} add {extra_batches} batches and {q_small - q_cold} queries:"
        f" {per_batch:.1f} queries per batch"
    )


if __name__ == "__main__":
    main()
