"""Fault check: PostgreSQL restarts under load; the portal recovers without a restart.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/fault_postgres_restart.py [--rate 40] [--before 5] [--after 15]

Creates ``bench_<name>`` on the server of ``DATABASE_URL`` (dropped at the end),
loads the demo data, starts one ``uvicorn portal.asgi:application`` process (or,
with ``--server gunicorn``, the production page server, ``portal/gunicorn.conf.py``) and
sends a steady stream of requests to pages that read the database (the public
home page and a group's public page). After ``--before`` seconds it restarts the
local PostgreSQL cluster (``pg_ctlcluster <version> main restart``), then keeps
the load for ``--after`` seconds. It reports, per second, how many requests
succeeded and failed, how long the portal answered errors, and whether the one
web process started at the beginning is still the one serving at the end.

It exits with status 1 when the portal has not recovered (the last five seconds
must be all successes, from the same process). It restarts the machine's
PostgreSQL: run it on a development or CI machine, never next to real data.
"""

import argparse
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
    sys.exit("Set DATABASE_URL=postgres://… (this check restarts that PostgreSQL server).")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_create() -> str:
    connection.settings_dict["TEST"]["NAME"] = "bench_" + connection.settings_dict["NAME"]
    return connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)


def restart_postgres() -> float:
    versions = sorted(os.listdir("/etc/postgresql"))
    started = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "restart"],
        check=True,
    )
    return time.monotonic() - started


class Load:
    """Threads sending requests at a steady total rate; results bucketed per second."""

    def __init__(self, port: int, rate: float, paths: list[str]):
        self.port, self.rate, self.paths = port, rate, paths
        self.stop = threading.Event()
        self.results: list[tuple[float, bool]] = []  # (time since start, answered 200)
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    def one(self, path: str) -> None:
        ok = False
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
            conn.close()
        except OSError:
            pass
        with self.lock:
            self.results.append((time.monotonic() - self.t0, ok))

    def run(self, seconds: float) -> None:
        interval = 1 / self.rate
        n = 0
        end = time.monotonic() + seconds
        threads = []
        while time.monotonic() < end:
            due = self.t0 + n * interval
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            thread = threading.Thread(target=self.one, args=(self.paths[n % len(self.paths)],))
            thread.start()
            threads.append(thread)
            n += 1
        for thread in threads:
            thread.join()


def worker_pids(pid: int) -> set[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in found.stdout.split()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40, help="requests per second")
    parser.add_argument("--before", type=float, default=5, help="seconds before the restart")
    parser.add_argument("--after", type=float, default=15, help="seconds after it")
    parser.add_argument("--server", choices=["uvicorn", "gunicorn"], default="uvicorn")
    args = parser.parse_args()

    old_name = connection.settings_dict["NAME"]
    name = database_create()
    print(f"database {name} on {connection.settings_dict['HOST']}")
    call_command("demo_data", verbosity=0)
    connection.close()
    parts = urlsplit(os.environ["DATABASE_URL"])
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(path="/" + name)),
        "PORTAL_VAR_DIR": str(BASE_DIR / "var" / "bench" / "fault-postgres"),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "portal.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--lifespan", "off",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if args.server == "gunicorn":
        command = [
            sys.executable, "-m", "gunicorn", "--config", "portal/gunicorn.conf.py",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
        ]  # fmt: skip
    server = subprocess.Popen(
        command,
        cwd=BASE_DIR,
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the web process did not start")
            time.sleep(0.2)
        from groups.models import ExpertGroup

        slug = ExpertGroup.objects.filter(archived_at__isnull=True).order_by("pk").first().slug
        connection.close()
        load = Load(port, args.rate, ["/", f"/g/{slug}/about/"])
        workers_before = worker_pids(server.pid)
        runner = threading.Thread(target=load.run, args=(args.before + args.after,))
        runner.start()
        time.sleep(args.before)
        restart_at = time.monotonic() - load.t0
        took = restart_postgres()
        print(f"PostgreSQL restarted at t={restart_at:.1f}s; pg_ctlcluster took {took:.1f}s")
        runner.join()
        # uvicorn without --workers has none; gunicorn would replace a crashed worker.
        alive = server.poll() is None and worker_pids(server.pid) == workers_before
    finally:
        server.terminate()
        server.wait(10)
        connection.creation.destroy_test_db(old_name, verbosity=0)

    per_second: dict[int, Counter] = {}
    for moment, ok in load.results:
        per_second.setdefault(int(moment), Counter())["ok" if ok else "failed"] += 1
    print(f"{'second':>6} {'ok':>5} {'failed':>7}")
    for second in sorted(per_second):
        counts = per_second[second]
        print(f"{second:>6} {counts['ok']:>5} {counts['failed']:>7}")
    failed = [moment for moment, ok in load.results if not ok]
    total = len(load.results)
    window = f"from t={min(failed):.1f}s to t={max(failed):.1f}s" if failed else "none"
    print(f"requests: {total}, failed: {len(failed)} ({window})")
    tail = [ok for moment, ok in load.results if moment >= args.before + args.after - 5]
    recovered = alive and tail and all(tail)
    print(
        "recovered without a restart of the web process (or of any of its workers)"
        if recovered
        else "NOT recovered: failures in the last 5 seconds or the web process died"
    )
    return 0 if recovered else 1


if __name__ == "__main__":
    sys.exit(main())
