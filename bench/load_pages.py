"""Load: realistic users browsing, reading documents, chatting and answering meetings.

    .venv/bin/pip install --group load        # locust, once
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/load_pages.py [--users 50] [--duration 60] [--workers 2]

Builds a throw-away database ``bench_<name>`` on the server of ``DATABASE_URL``
(dropped at the end): the demo data, plus ``--members`` members (default 200)
spread over the current groups, each with a session, 8 documents and 4
meetings per group, and some chat. Starts the portal as in production
(``uvicorn portal.asgi:application --workers N`` with PostgreSQL and Redis) and
runs the locust scenario ``bench/locustfile.py`` headless: ``--users`` users at
about one request per second each (so 50 users ≈ 50 requests per second), 80 %
members, 10 % visitors and 10 % ``/health/`` probes, which are the baseline
measured in the same run (no database, no template).

Prints, per page: requests, failures, p50, p95 and p99 in milliseconds and the
ratio of p95 to the baseline's p95; and the total error rate. Not a test: nothing
here asserts a time. Locust runs on the same machine as the portal, PostgreSQL and
Redis, so it takes some of the CPU it measures.
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL=postgres://… and REDIS_URL=redis://… (the production setup).")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from machine import machine_speed_ms  # noqa: E402


def database_create() -> str:
    connection.settings_dict["TEST"]["NAME"] = "bench_" + connection.settings_dict["NAME"]
    return connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def plan_build(n_members: int) -> dict:
    """Members with sessions in the current groups, documents, meetings, chat."""
    from unittest import mock

    from accounts.models import User
    from documents.services import document_upload
    from groups import chat
    from groups.models import ExpertGroup, Membership
    from meetings.services import meeting_invitations_for_new_member, meeting_schedule
    from tests.documents import samples

    call_command("demo_data", verbosity=0)
    current = ExpertGroup.objects.filter(archived_at__isnull=True)
    groups = [g for g in current if g.lifecycle.writable]
    now = timezone.now()
    members = []
    # No worker runs: e-mails and other tasks the setup would queue are dropped.
    with mock.patch("celery.app.task.Task.apply_async"):
        for g in groups:
            coordinator = Membership.objects.filter(group=g, role="coordinator", state="active")
            coordinator = coordinator.first().user
            docs = [
                document_upload(
                    actor=coordinator,
                    group=g,
                    upload=samples.upload(f"paper-{n}.pdf", samples.PDF + str(n).encode()),
                    keywords="load, test",
                ).document.pk
                for n in range(8)
            ]
            start = (now + timedelta(days=20)).replace(minute=0, second=0, microsecond=0)
            meetings = [
                meeting_schedule(
                    actor=coordinator,
                    group=g,
                    title=f"Meeting {n}",
                    agenda="1. Welcome",
                    starts_at=(start + timedelta(days=n)).replace(tzinfo=None),
                    ends_at=(start + timedelta(days=n, hours=2)).replace(tzinfo=None),
                    timezone_name="UTC",
                ).pk
                for n in range(4)
            ]
            g.plan = {"documents": docs, "meetings": meetings}
        users = User.objects.bulk_create(
            User(email=f"load{i}@example.org", full_name=f"Load Expert {i}", password="!")
            for i in range(n_members)
        )
        for i, user in enumerate(users):
            group = groups[i % len(groups)]
            Membership.objects.create(
                user=user, group=group, state=Membership.State.ACTIVE, started_at=now
            )
            meeting_invitations_for_new_member(user=user, group=group)
            session = SessionStore()
            session[SESSION_KEY] = str(user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.set_expiry(86400)
            session.create()
            if i < len(groups) * 3:
                chat.chat_message_post(actor=user, group=group, body=f"Hello from {user}")
            members.append({"cookie": session.session_key, "slug": group.slug, **group.plan})
    return {"members": members, "slugs": [g.slug for g in groups]}


def server_command(server: str, port: int, workers: int) -> list[str]:
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "portal.wsgi:application",
            "--config", str(BASE_DIR / "portal/gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning",
        ]  # fmt: skip
    return [
        sys.executable, "-m", "uvicorn", "portal.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--lifespan", "off", "--no-access-log", "--log-level", "warning",
        "--ws", "websockets-sansio", "--ws-per-message-deflate", "false",
    ]  # fmt: skip


def _cpu_of(processes) -> float:
    """User + system CPU of these psutil processes so far (those that have ended: 0)."""
    import psutil  # installed with locust

    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (the server's workers)."""
    import psutil

    root = psutil.Process(pid)
    return _cpu_of([root, *root.children(recursive=True)])


def workers_rss_mib(pid: int) -> list[float]:
    """Resident memory of the server's worker processes (or of the server alone), MiB."""
    import psutil

    root = psutil.Process(pid)
    processes = root.children(recursive=True) or [root]
    return sorted(round(p.memory_info().rss / 2**20) for p in processes)


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process (server and backends) so far."""
    import psutil

    names = ("postgres", "postmaster")
    return _cpu_of(p for p in psutil.process_iter(["name"]) if p.info["name"] in names)


def percentiles(row: dict) -> tuple[float, float, float]:
    return (float(row["50%"]), float(row["95%"]), float(row["99%"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2, help="web server processes")
    parser.add_argument(
        "--server",
        choices=["uvicorn", "gunicorn"],
        default="uvicorn",
        help="uvicorn: ASGI, as `make run`; gunicorn: WSGI for pages (docs/deployment.md)",
    )
    parser.add_argument(
        "--pacing",
        choices=["poisson", "constant"],
        default="poisson",
        help="arrivals of each user: Poisson, or exactly once a second (bench/locustfile.py)",
    )
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    name = database_create()
    work = Path(tempfile.mkdtemp(prefix="load-", dir=BASE_DIR / "var"))
    try:
        plan = plan_build(args.members)
        (work / "plan.json").write_text(json.dumps(plan))
        connection.close()
        parts = urlsplit(os.environ["DATABASE_URL"])
        env = {
            **os.environ,
            "DATABASE_URL": urlunsplit(parts._replace(path="/" + name)),
            "PORTAL_VAR_DIR": str(work / "var"),
            "LOAD_PLAN": str(work / "plan.json"),
            "LOAD_PACING": args.pacing,
        }
        port = 8700 + os.getpid() % 200
        server = subprocess.Popen(
            server_command(args.server, port, args.workers), cwd=BASE_DIR, env=env
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the portal did not start") from None
                    time.sleep(0.3)
            speed_before = machine_speed_ms()
            cpu_before, pg_before = cpu_seconds(server.pid), postgres_cpu_seconds()
            rss_before = workers_rss_mib(server.pid)
            subprocess.run(
                [
                    sys.executable, "-m", "locust", "-f", str(BASE_DIR / "bench/locustfile.py"),
                    "--headless", "--host", f"http://127.0.0.1:{port}",
                    "--users", str(args.users), "--spawn-rate", str(max(1, args.users // 5)),
                    "--run-time", f"{args.duration}s", "--csv", str(work / "stats"),
                    "--only-summary", "--loglevel", "WARNING",
                ],
                env=env,
                check=False,
            )  # fmt: skip
            server_cpu = cpu_seconds(server.pid) - cpu_before
            pg_cpu = postgres_cpu_seconds() - pg_before
            rss_after = workers_rss_mib(server.pid)
            speed_after = machine_speed_ms()
        finally:
            server.terminate()
            server.wait(15)
        with open(work / "stats_stats.csv") as f:
            rows = list(csv.DictReader(f))
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        subprocess.run(["rm", "-rf", str(work)], check=False)

    baseline = next(r for r in rows if r["Name"] == "baseline /health/")
    base_p95 = percentiles(baseline)[1] or 1.0
    print(
        f"\nLoad: {args.users} users ({args.pacing} arrivals) for {args.duration} s, "
        f"{args.workers} {args.server} workers, "
        f"PostgreSQL + Redis ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})"
    )
    print(f"{'page':<22}{'requests':>9}{'failed':>7}{'p50':>7}{'p95':>7}{'p99':>7}{'p95/base':>10}")
    total = failed = 0
    for r in rows:
        if r["Name"] == "Aggregated":
            continue
        p50, p95, p99 = percentiles(r)
        count, fails = int(r["Request Count"]), int(r["Failure Count"])
        total += count
        failed += fails
        print(
            f"{r['Name']:<22}{count:>9}{fails:>7}{p50:>7.0f}{p95:>7.0f}{p99:>7.0f}"
            f"{p95 / base_p95:>9.1f}x"
        )
    aggregated = next(r for r in rows if r["Name"] == "Aggregated")
    p50, p95, p99 = percentiles(aggregated)
    rate = total / args.duration
    print(
        f"{'all':<22}{total:>9}{failed:>7}{p50:>7.0f}{p95:>7.0f}{p99:>7.0f}{p95 / base_p95:>9.1f}x"
    )
    print(f"throughput {rate:.1f} requests/s, error rate {100 * failed / max(total, 1):.2f} %")
    print(
        f"web processes: {server_cpu:.1f} s of CPU, {1000 * server_cpu / max(total, 1):.1f} ms "
        "per request (the load includes locust's start and stop)"
    )
    print(f"PostgreSQL: {pg_cpu:.1f} s of CPU, {1000 * pg_cpu / max(total, 1):.1f} ms per request")
    print(f"web processes' resident memory (MiB): {rss_before} before the load, {rss_after} after")
    print(
        f"machine speed: sum(range(10**6)) took {speed_before:.1f} ms before the load, "
        f"{speed_after:.1f} ms after (lower is faster)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
