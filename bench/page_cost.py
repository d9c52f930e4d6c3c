"""Cost of one request per page, in process: CPU time, queries, bytes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/page_cost.py [--repeat 50] [--profile "group page"]

The pages and the data are those of the load scenario (``bench/load_pages.py``
builds the same throw-away database ``bench_<name>``, dropped at the end). Each
page is requested ``--repeat`` times through Django's test client as one member
(after two warm-up requests), and the script prints per page the mean CPU time
of the process per request, the mean wall time, the number of SQL queries and
the size of the response, next to ``/health/`` measured the same way in the same
run (the baseline: the middleware stack alone, no database, no template).

CPU time is what limits throughput when the two cores are saturated (see the
Load section of docs/benchmarks.md): at 50 requests per second on two cores, a
page may cost at most 40 ms of CPU in total, server, database and load generator
together. ``--profile NAME`` runs pyinstrument (``pip install pyinstrument``) on
that page's requests and prints the profile; ``--queries NAME`` prints the SQL
of one request of that page. Not a test: nothing here asserts a
time.

CPU times on this shared VM vary by half from one hour to the next, more than
most changes to a page save. ``--callgrind`` counts instructions instead, the
same from run to run to about 0.1 % (valgrind is on the machine):

    DATABASE_URL=… REDIS_URL=… valgrind --tool=callgrind --instr-atstart=no \
        --dump-instr=no --collect-jumps=no .venv/bin/python bench/page_cost.py \
        --repeat 5 --callgrind

The database is built without instrumentation (faster); each page's requests
are then counted on their own (``callgrind_control`` dumps after its warm-up
and after its requests) and printed as millions of instructions per request.
The ``callgrind.out.*`` files are left in the current directory.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL=postgres://… and REDIS_URL=redis://… (the production setup).")

import load_pages  # noqa: E402  (sets up Django)
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402


def pages(member: dict) -> dict[str, tuple[str, str, dict]]:
    slug, doc, meeting = member["slug"], member["documents"][0], member["meetings"][0]
    return {
        "baseline /health/": ("get", "/health/", {}),
        "dashboard": ("get", "/dashboard/", {}),
        "group page": ("get", f"/g/{slug}/", {}),
        "documents": ("get", f"/g/{slug}/documents/", {}),
        "document": ("get", f"/g/{slug}/documents/{doc}/", {}),
        "meetings": ("get", f"/g/{slug}/meetings/", {}),
        "meeting": ("get", f"/g/{slug}/meetings/{meeting}/", {}),
        "chat history": ("get", f"/g/{slug}/chat/history/", {}),
        "chat post": ("post", f"/g/{slug}/chat/post/", {"body": "A message from the bench"}),
        "meeting answer": ("post", f"/g/{slug}/meetings/{meeting}/answer/", {"answer": "yes"}),
        "home (public)": ("get", "/", {}),
        "group (public)": ("get", f"/g/{slug}/about/", {}),
    }


def callgrind_dump(label: str) -> None:
    """Ask the valgrind this process runs under to write its counts so far (and reset)."""
    subprocess.run(["callgrind_control", "-d", label, str(os.getpid())], check=True)


def dump_label(name: str) -> str:
    """A page name as callgrind_control passes it on (no spaces or brackets)."""
    return re.sub(r"[^A-Za-z0-9]+", "_", name)


def callgrind_counts(repeat: int) -> dict[str, float]:
    """Instructions per request of each page, from the dumps ``callgrind_dump`` asked for."""
    counts = {}
    for path in Path.cwd().glob(f"callgrind.out.{os.getpid()}.*"):
        text = path.read_text(errors="replace")
        trigger = re.search(r"^desc: Trigger: .*?dump page:(.*)$", text, re.M)
        total = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
        if trigger and total:
            counts[trigger.group(1)] = int(total.group(1)) / repeat
    return counts


def measure(client, method, path, data, repeat, name="", callgrind=False):
    send = getattr(client, method)
    for _ in range(2):
        send(path, data)
    if callgrind:
        callgrind_dump("warm-up")
        for _ in range(repeat):
            response = send(path, data)
        callgrind_dump("page:" + dump_label(name))
        return {"status": response.status_code}
    cpu, wall = [], []
    with CaptureQueriesContext(connection) as queries:
        for _ in range(repeat):
            c0, w0 = time.process_time(), time.perf_counter()
            response = send(path, data)
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
    assert response.status_code in (200, 204, 302), (path, response.status_code)
    return {
        "status": response.status_code,
        "cpu": statistics.mean(cpu) * 1000,
        "wall": statistics.mean(wall) * 1000,
        "queries": len(queries) / repeat,
        "bytes": len(response.content),
    }


def gc_settle() -> None:
    """The web processes' collector settings (portal/runtime.py), without the timer thread.

    Counts are then the same from one run to the next (to about 0.1 %), where
    CPU times on this shared VM vary by half.
    """
    os.environ["PORTAL_GC_FULL_SECONDS"] = "0"
    from portal.runtime import tune_gc

    tune_gc()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--profile", default="", help="page name to profile with pyinstrument")
    parser.add_argument(
        "--cprofile", default="", help="page name to profile with cProfile (functions by own time)"
    )
    parser.add_argument(
        "--callers",
        default="",
        help="with --cprofile: print who calls the functions matching this regular expression",
    )
    parser.add_argument("--queries", default="", help="page name whose SQL queries to print")
    parser.add_argument(
        "--only", action="append", default=[], help="measure only this page (repeatable)"
    )
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="run under valgrind --tool=callgrind: count instructions per request instead",
    )
    args = parser.parse_args()
    if args.callgrind:
        gc_settle()

    old_name = connection.settings_dict["NAME"]
    load_pages.database_create()
    try:
        plan = load_pages.plan_build(args.members)
        member = plan["members"][0]
        from django.conf import settings

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        client = Client(enforce_csrf_checks=False)
        client.cookies["sessionid"] = member["cookie"]
        visitor = Client()
        rows = {}
        if args.callgrind:
            subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)
        for name, (method, path, data) in pages(member).items():
            if args.only and name not in args.only and "baseline" not in name:
                continue
            who = visitor if ("public" in name or "baseline" in name) else client
            if name == args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
                rows[name] = measure(who, method, path, data, args.repeat)
                profiler.stop()
                print(profiler.output_text(unicode=True, color=False, show_all=True))
            elif name == args.cprofile:
                import cProfile
                import pstats

                profile = cProfile.Profile()
                profile.enable()
                rows[name] = measure(who, method, path, data, args.repeat)
                profile.disable()
                stats = pstats.Stats(profile).strip_dirs()
                stats.sort_stats("tottime").print_stats(40)
                stats.sort_stats("cumulative").print_stats(80)
                if args.callers:
                    stats.print_callers(args.callers)
            else:
                rows[name] = measure(
                    who, method, path, data, args.repeat, name=name, callgrind=args.callgrind
                )
            if name == args.queries:
                with CaptureQueriesContext(connection) as queries:
                    getattr(who, method)(path, data)
                for n, q in enumerate(queries, 1):
                    print(f"{n:>3}. {q['time']}s {q['sql'][:300]}")
            reset_queries()
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)

    if args.callgrind:
        counts = callgrind_counts(args.repeat)
        base = counts.get(dump_label("baseline /health/")) or 1.0
        print(f"\nInstructions per request (callgrind), {args.repeat} requests each, PostgreSQL")
        print(f"{'page':<20}{'status':>7}{'M instr':>10}{'/base':>9}")
        for name, r in rows.items():
            n = counts.get(dump_label(name), 0.0)
            print(f"{name:<20}{r['status']:>7}{n / 1e6:>10.2f}{n / base:>8.1f}x")
        return 0

    base = rows["baseline /health/"]["cpu"] or 1.0
    print(f"\nPage cost, {args.repeat} requests each, in process (test client), PostgreSQL")
    header = ("status", 7), ("CPU ms", 8), ("wall ms", 9), ("queries", 9), ("KiB", 7)
    print(f"{'page':<20}" + "".join(f"{h:>{w}}" for h, w in header) + f"{'CPU/base':>10}")
    for name, r in rows.items():
        print(
            f"{name:<20}{r['status']:>7}{r['cpu']:>8.1f}{r['wall']:>9.1f}{r['queries']:>9.1f}"
            f"{r['bytes'] / 1024:>7.1f}{r['cpu'] / base:>9.1f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
