"""Benchmark: the mandate reminder scan over 10,000 groups.

    .venv/bin/python bench/mandate_reminder_scan.py [--groups N] [--repeat R]

Builds N groups (default 10,000) with their mandates, coordinators and a
secretariat in a throw-away database: a fresh SQLite file under
``var/bench/`` by default, or ``bench_<name>`` on the server of
``DATABASE_URL`` when that is set (created and dropped by this script). Then
it times, in the same run:

- the baseline: one plain ``SELECT`` of every mandate
  (``list(Mandate.objects.values_list("pk", "group_id", "end_date"))``);
- a cold scan, which creates every claim that is due (the first run after
  deployment, or after a long outage);
- a warm scan, where everything is claimed and queued already: what beat
  runs every five minutes;
- ``memberships_end_unconfirmed`` called on its own, for comparison: the scan
  calls it only when one query finds a membership it would end (here none).

Tasks are not queued: ``send_mandate_reminder.delay`` is replaced by a counter,
so this measures the scan itself. Prints times, query counts and ratios
against the baseline. Not a test: nothing here asserts a time.
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
SQLITE_FILE = BENCH_DIR / "mandate_reminder_scan.sqlite3"

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
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from groups import tasks  # noqa: E402
from groups.models import ExpertGroup, Mandate, Membership  # noqa: E402
from groups.reminders import mandate_reminders_scan  # noqa: E402
from groups.services import add_years, memberships_end_unconfirmed  # noqa: E402
from portal.models import Reminder  # noqa: E402

SECRETARIAT_SIZE = 5


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


def data_build(n_groups: int) -> dict:
    """N groups: term-1 ends spread over three years, a third of the ended ones extended."""
    rng = random.Random(42)  # the same data on every run
    today = timezone.localdate()
    staff_group, _ = Group.objects.get_or_create(name=settings.SECRETARIAT_GROUP)
    users = User.objects.bulk_create(
        User(email=f"bench{i}@example.org", full_name=f"Bench Expert {i}", password="!")
        for i in range(2 * n_groups + SECRETARIAT_SIZE)
    )
    staff_group.user_set.add(*users[:SECRETARIAT_SIZE])
    experts = users[SECRETARIAT_SIZE : SECRETARIAT_SIZE + n_groups]  # coordinators
    members = users[SECRETARIAT_SIZE + n_groups :]
    groups = ExpertGroup.objects.bulk_create(
        ExpertGroup(name=f"Bench group {i}", slug=f"bench-{i}", summary="Benchmark group.")
        for i in range(n_groups)
    )
    mandates, memberships = [], []
    now = timezone.now()
    for i, group in enumerate(groups):
        end1 = today + timedelta(days=rng.randint(-365, 730))
        start1 = add_years(end1, -2)
        mandates.append(Mandate(group=group, term=1, start_date=start1, end_date=end1))
        if end1 <= today + timedelta(days=90) and rng.random() < 0.33:
            mandates.append(
                Mandate(group=group, term=2, start_date=end1, end_date=add_years(end1, 2))
            )
        # Members who confirmed the current term: nothing for the scan to end.
        memberships.append(
            Membership(
                user=members[i],
                group=group,
                state=Membership.State.ACTIVE,
                started_at=now,
                confirmed_term=mandates[-1].term,
            )
        )
        for expert in (experts[i], experts[(i * 7 + 1) % len(experts)])[: rng.randint(1, 2)]:
            memberships.append(
                Membership(
                    user=expert,
                    group=group,
                    role=Membership.Role.COORDINATOR,
                    state=Membership.State.ACTIVE,
                    started_at=now,
                )
            )
    Mandate.objects.bulk_create(mandates, batch_size=2000)
    Membership.objects.bulk_create(memberships, batch_size=2000)
    return {
        "groups": n_groups,
        "mandates": len(mandates),
        "term 2": sum(m.term == 2 for m in mandates),
        "memberships": len(memberships),
        "secretariat": SECRETARIAT_SIZE,
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
    parser.add_argument("--groups", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    where = database_create()
    try:
        started = time.perf_counter()
        shape = data_build(args.groups)
        build = time.perf_counter() - started
        with connection.cursor() as cursor:
            # Planner statistics, as autovacuum would have them on a live database.
            cursor.execute("ANALYZE")

        def baseline():
            return list(Mandate.objects.values_list("pk", "group_id", "end_date"))

        def forget_claims():
            Reminder.objects.all().delete()

        def end_unconfirmed():
            return memberships_end_unconfirmed(on=timezone.localdate())

        with mock.patch.object(tasks.send_mandate_reminder, "delay") as delay:
            baseline()  # warm the connection and caches alike for everyone
            t_base, rows = timed(baseline, args.repeat)
            t_cold, queued = timed(mandate_reminders_scan, args.repeat, before=forget_claims)
            q_cold = queries_of(mandate_reminders_scan, before=forget_claims)
            mandate_reminders_scan()
            t_warm, warm_queued = timed(mandate_reminders_scan, args.repeat)
            q_warm = queries_of(mandate_reminders_scan)
            t_members, _ = timed(end_unconfirmed, args.repeat)
            q_members = queries_of(end_unconfirmed)
            delay_calls = delay.call_count
        claims = Reminder.objects.count()
        due = Reminder.objects.values("subject_id").distinct().count()
    finally:
        database_drop(old_name)

    print(f"Mandate reminder scan — {where}, batch {settings.REMINDER_SCAN_BATCH}")
    print("data: " + ", ".join(f"{v} {k}" for k, v in shape.items()) + f" (built in {build:.1f} s)")
    print(f"due mandates: {due}, claims: {claims}, tasks queued by a cold scan: {queued}")
    print(f"(no task queued: send_mandate_reminder.delay is a mock, called {delay_calls} times)")
    print(f"median of {args.repeat} runs:")
    print(f"  baseline  SELECT all {len(rows)} mandates   {t_base * 1000:8.1f} ms   1 query")
    for label, seconds, queries in (
        ("cold scan (creates claims)  ", t_cold, q_cold),
        (f"warm scan ({warm_queued} queued)       ", t_warm, q_warm),
        ("memberships_end_unconfirmed ", t_members, q_members),
    ):
        print(
            f"  {label}{seconds * 1000:8.1f} ms {queries:4d} queries"
            f"   ratio to baseline {seconds / t_base:6.1f}x"
        )


if __name__ == "__main__":
    main()
