"""Benchmark: live chat fan-out through two web processes sharing Redis.

    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python bench/chat_fanout.py \\
        [--clients 500] [--groups 10] [--rate 50] [--duration 20] [--churn N] \\
        [--ws websockets-sansio]

Builds the data (users, groups of ``clients / groups`` members, sessions) in a
throw-away database: a fresh SQLite file under ``var/bench/`` by default, or
``bench_<name>`` on the server of ``DATABASE_URL`` when that is set (created and
dropped by this script). Then, in the same run and with the same clients:

- the baseline: a minimal broadcast server written with the ``websockets``
  library (one process, rooms in a dict, ``websockets.broadcast``), which
  stores nothing and checks nothing;
- the portal: two ``uvicorn portal.asgi:application`` processes on their own
  ports sharing the database and Redis (channels-redis); half the clients
  connect to each, with a real session cookie and Origin header. They run with
  the Procfile's options (``--ws websockets-sansio``); ``--ws`` picks another
  uvicorn WebSocket implementation (``websockets``, the legacy one) to
  compare. ``PORTAL_GC_THRESHOLD`` (read by
  ``portal/asgi.py``) sets their garbage collector's thresholds, and any
  ``DJANGO_SETTINGS_MODULE`` set for this script is theirs too.
- with ``--churn N``: then N rounds in which every client connects and
  disconnects again, with both servers' resident memory after each round.

Each client is a real WebSocket connection held by this process. Senders are
picked at random at a steady total rate; every message is expected by every
member of its group, on both servers. Prints delivery latency (p50, p99, max,
from send to receipt, measured by this process's clock), messages lost,
duplicates and the servers' resident memory, with ratios to the baseline; then
the portal's deliveries later than 50 ms grouped into episodes (sends less than
100 ms apart): when each began, how many it delayed, through and from which
server, and whether this process's own event loop stalled or collected
meanwhile (a late delivery measured during such a stall is the client's, not
the server's). Not a test: nothing here asserts a time.
"""

import argparse
import asyncio
import gc
import json
import os
import random
import re
import resource
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
BENCH_DIR = BASE_DIR / "var" / "bench"
SQLITE_FILE = BENCH_DIR / "chat_fanout.sqlite3"
LATE_S = 0.05  # deliveries later than this are reported by episode (the target's p99)


# --- The baseline server (run as a subprocess of this script) ---------------


async def baseline_server(port: int) -> None:
    """Rooms by path; every text frame is re-serialised as a message and broadcast."""
    import websockets
    from websockets.asyncio.server import serve

    rooms: dict[str, set] = {}

    async def handler(connection):
        room = rooms.setdefault(connection.request.path, set())
        room.add(connection)
        try:
            async for raw in connection:
                frame = json.loads(raw)
                out = json.dumps(
                    {
                        "type": "message",
                        "message": {"client_id": frame["client_id"], "body": frame["body"]},
                    }
                )
                websockets.broadcast(room, out)
        finally:
            room.discard(connection)

    async with serve(handler, "127.0.0.1", port, max_size=64 * 1024):
        await asyncio.Future()


if len(sys.argv) == 3 and sys.argv[1] == "--baseline-server":
    asyncio.run(baseline_server(int(sys.argv[2])))
    sys.exit(0)


# --- Setting up the portal's data ----------------------------------------

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
if not os.environ.get("DATABASE_URL"):
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{SQLITE_FILE}{suffix}").unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_FILE}"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY  # noqa: E402
from django.contrib.sessions.backends.db import SessionStore  # noqa: E402
from django.contrib.sessions.models import Session  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django.utils.crypto import get_random_string  # noqa: E402
from machine import machine_speed_ms  # noqa: E402

from accounts.models import User  # noqa: E402
from groups.models import ExpertGroup, Mandate, Membership  # noqa: E402


def database_create() -> str:
    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)
        return f"SQLite file {SQLITE_FILE.relative_to(BASE_DIR)}"
    connection.settings_dict["TEST"]["NAME"] = "bench_" + connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return f"{connection.vendor} database {name}"


def database_drop(old_name: str) -> None:
    if connection.vendor != "sqlite":
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def database_url() -> str:
    if connection.vendor == "sqlite":
        return os.environ["DATABASE_URL"]
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


def data_build(n_clients: int, n_groups: int) -> list[dict]:
    """Groups with an active mandate, members with a session each; returns the clients."""
    today = timezone.localdate()
    now = timezone.now()
    users = User.objects.bulk_create(
        User(email=f"chat{i}@example.org", full_name=f"Chat Expert {i}", password="!")
        for i in range(n_clients)
    )
    groups = ExpertGroup.objects.bulk_create(
        ExpertGroup(name=f"Chat bench {g}", slug=f"chat-bench-{g}", summary="Benchmark group.")
        for g in range(n_groups)
    )
    Mandate.objects.bulk_create(
        Mandate(
            group=g,
            term=1,
            start_date=today - timedelta(days=10),
            end_date=today + timedelta(days=700),
        )
        for g in groups
    )
    clients, memberships, sessions = [], [], []
    store = SessionStore()
    for i, user in enumerate(users):
        group = groups[i % n_groups]
        memberships.append(
            Membership(user=user, group=group, state=Membership.State.ACTIVE, started_at=now)
        )
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        sessions.append(
            Session(
                session_key=key,
                session_data=store.encode(data),
                expire_date=now + timedelta(days=1),
            )
        )
        clients.append({"index": i, "slug": group.slug, "cookie": key})
    Membership.objects.bulk_create(memberships, batch_size=1000)
    Session.objects.bulk_create(sessions, batch_size=1000)
    return clients


# --- Processes -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for_port(port: int, process: subprocess.Popen, path: str | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited")
        try:
            if path:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=1):
                    return
            else:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def start_portal(
    port: int, db_url: str, log: Path, ws: str = "websockets-sansio"
) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "DATABASE_URL": db_url,
        # INFO: the servers log each full collection (portal/runtime.py).
        "DJANGO_LOG_LEVEL": "INFO",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "portal.asgi:application",
                "--host", "127.0.0.1", "--port", str(port),
                "--lifespan", "off", "--ws", ws, "--no-access-log",
                "--ws-max-size", "131072", "--ws-per-message-deflate", "false",
                "--http", os.environ.get("CHAT_BENCH_HTTP", "auto"),
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- The clients -----------------------------------------------------------


class Run:
    """One measured run: the same clients, senders and rate against one kind of server."""

    def __init__(self, clients, urls, headers_for, portal: bool):
        self.clients = clients
        self.urls = urls  # client -> ws url
        self.headers_for = headers_for
        self.portal = portal
        self.sent: dict[str, tuple[float, str]] = {}  # token -> (time, room)
        self.sender: dict[str, int] = {}  # token -> the sender's index
        self.received: dict[str, int] = {}
        self.latencies: list[float] = []
        # (sent at, latency, receiver's index, sender's index)
        self.late: list[tuple[float, float, int, int]] = []
        self.errors = 0
        self.sockets = {}
        self.stalls: list[tuple[float, float]] = []  # this process's loop: (at, late by)
        self.collections: list[tuple[float, float]] = []  # this process's full GCs: (at, ms)

    async def reader(self, client, ws):
        async for raw in ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "message":
                # The portal sends client_id only to the author: match on the body instead.
                token = "b" + frame["message"].get("body", "").rsplit(" ", 1)[-1]
                if token in self.sent:
                    self.received[token] = self.received.get(token, 0) + 1
                    sent_at = self.sent[token][0]
                    self.latencies.append(now - sent_at)
                    if now - sent_at > LATE_S:
                        self.late.append(
                            (sent_at, now - sent_at, client["index"], self.sender[token])
                        )
            elif kind == "error":
                self.errors += 1

    async def connect_all(self, concurrency: int = 25):
        from websockets.asyncio.client import connect

        gate = asyncio.Semaphore(concurrency)

        async def one(client):
            async with gate:
                ws = await connect(
                    self.urls(client),
                    additional_headers=self.headers_for(client),
                    open_timeout=30,
                    max_queue=None,
                )
                if self.portal:  # wait for the room to say hello before counting it in
                    while json.loads(await ws.recv())["type"] != "hello":
                        pass
                self.sockets[client["index"]] = ws
                asyncio.get_running_loop().create_task(self.reader(client, ws))

        started = time.perf_counter()
        await asyncio.gather(*(one(c) for c in self.clients))
        return time.perf_counter() - started

    async def send_steadily(self, rate: float, duration: float, seed: int = 7):
        rng = random.Random(seed)  # the same senders, in the same order, for every run
        interval = 1 / rate
        start = time.perf_counter()
        n = 0
        while (now := time.perf_counter()) - start < duration:
            due = start + n * interval
            if due > now:
                await asyncio.sleep(due - now)
            client = rng.choice(self.clients)
            token = f"b{n}"
            self.sent[token] = (time.perf_counter(), client["slug"])
            self.sender[token] = client["index"]
            await self.sockets[client["index"]].send(
                json.dumps({"type": "send", "body": f"bench message {n}", "client_id": token})
            )
            n += 1
        return n

    async def watch_loop(self, every: float = 0.01):
        """Record when this process's own event loop wakes up late: a delivery
        measured during such a stall is late because of the client, not the server."""
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(every)
            late_by = loop.time() - before - every
            if late_by > LATE_S / 2:
                self.stalls.append((time.perf_counter(), late_by))

    def watch_collections(self):
        """Record this process's own full garbage collections (gc.callbacks)."""
        started = {}

        def callback(phase, info):
            if info["generation"] != 2:
                return
            if phase == "start":
                started["at"] = time.perf_counter()
            elif "at" in started:
                at = started.pop("at")
                self.collections.append((at, (time.perf_counter() - at) * 1000))

        gc.callbacks.append(callback)
        return callback

    def expected(self) -> int:
        per_room: dict[str, int] = {}
        for client in self.clients:
            per_room[client["slug"]] = per_room.get(client["slug"], 0) + 1
        return sum(per_room[room] for _t, room in self.sent.values())

    async def drain(self, timeout: float = 15) -> None:
        deadline = time.perf_counter() + timeout
        while sum(self.received.values()) < self.expected() and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)

    async def close(self):
        await asyncio.gather(*(ws.close() for ws in self.sockets.values()), return_exceptions=True)

    def report(self, pids) -> dict:
        expected = self.expected()
        got = sum(self.received.values())
        per_message = {token: self.received.get(token, 0) for token in self.sent}
        lat = sorted(self.latencies)

        def pct(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

        return {
            "messages": len(self.sent),
            "deliveries expected": expected,
            "delivered": got,
            "lost": sum(max(0, expected_for - n) for expected_for, n in self._per(per_message)),
            "duplicates": sum(
                max(0, n - expected_for) for expected_for, n in self._per(per_message)
            ),
            "p50 ms": pct(0.50),
            "p99 ms": pct(0.99),
            "max ms": lat[-1] * 1000 if lat else float("nan"),
            "mean ms": statistics.fmean(lat) * 1000 if lat else float("nan"),
            "errors": self.errors,
            "rss MiB": sum(rss_mib(pid) for pid in pids),
        }

    def _per(self, per_message):
        size = {}
        for client in self.clients:
            size[client["slug"]] = size.get(client["slug"], 0) + 1
        for token, n in per_message.items():
            yield size[self.sent[token][1]], n


async def measure(run: Run, pids, rate, duration):
    idle = sum(rss_mib(pid) for pid in pids)
    connect_s = await run.connect_all()
    connected = sum(rss_mib(pid) for pid in pids)
    await asyncio.sleep(1)  # let presence broadcasts settle
    watcher = asyncio.get_running_loop().create_task(run.watch_loop())
    callback = run.watch_collections()
    run.started = time.perf_counter()
    run.started_wall = time.time()
    try:
        await run.send_steadily(rate, duration)
        await run.drain()
    finally:
        gc.callbacks.remove(callback)
        watcher.cancel()
    result = run.report(pids)
    await run.close()
    result.update({"connect s": connect_s, "rss idle MiB": idle, "rss connected MiB": connected})
    return result


async def churn(make_run, pids, rounds: int) -> list[float]:
    """Connect every client and disconnect it again, ``rounds`` times; the servers'
    resident memory after each round (it must not grow with the rounds)."""
    series = []
    for _round in range(rounds):
        run = make_run()
        await run.connect_all()
        await asyncio.sleep(0.5)
        await run.close()
        await asyncio.sleep(1)  # let the servers finish their disconnects
        series.append(sum(rss_mib(pid) for pid in pids))
    return series


def late_episodes(run: Run, gap: float = 0.1) -> list[dict]:
    """The deliveries later than ``LATE_S``, grouped by send time into episodes
    (sends less than ``gap`` apart): when each began, how many deliveries it
    delayed, their worst latency, the share received through each server, and
    whether this process's own loop stalled or collected meanwhile."""
    episodes = []
    for sent_at, latency, index, sender in sorted(run.late):
        if episodes and sent_at - episodes[-1]["last"] < gap:
            episode = episodes[-1]
        else:
            episode = {
                "first": sent_at,
                "deliveries": 0,
                "worst": 0.0,
                "servers": [0, 0],
                "senders": [set(), set()],
            }
            episodes.append(episode)
        episode["last"] = sent_at
        episode["end"] = max(episode.get("end", 0.0), sent_at + latency)
        episode["deliveries"] += 1
        episode["worst"] = max(episode["worst"], latency)
        episode["servers"][index % 2] += 1
        episode["senders"][sender % 2].add(sender)
    for episode in episodes:
        window = (episode["first"], episode["end"])
        episode["client stall ms"] = max(
            (late_by * 1000 for at, late_by in run.stalls if window[0] <= at <= window[1] + 0.5),
            default=0.0,
        )
        episode["client gc ms"] = sum(
            ms for at, ms in run.collections if window[0] - 0.5 <= at <= window[1]
        )
    return episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50, help="messages per second, in total")
    parser.add_argument("--duration", type=float, default=20, help="seconds of sending")
    parser.add_argument(
        "--churn", type=int, default=0, help="then connect and disconnect everyone N times"
    )
    parser.add_argument(
        "--ws",
        default="websockets-sansio",
        help="uvicorn's WebSocket implementation (the Procfile's: websockets-sansio)",
    )
    parser.add_argument(
        "--http",
        default="auto",
        help="uvicorn's HTTP implementation for the upgrade (auto: httptools; or h11)",
    )
    args = parser.parse_args()
    os.environ["CHAT_BENCH_HTTP"] = args.http
    if not settings.REDIS_URL:
        raise SystemExit("Set REDIS_URL: the two web processes share Redis (channels-redis).")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))

    speed_before = machine_speed_ms()
    old_name = connection.settings_dict["NAME"]
    where = database_create()
    logs = BENCH_DIR
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        clients = data_build(args.clients, args.groups)
        db_url = database_url()
        connection.close()

        # Baseline: the websockets library, one process, nothing stored.
        port = free_port()
        baseline = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(port)])
        processes.append(baseline)
        wait_for_port(port, baseline)
        run = Run(clients, lambda c: f"ws://127.0.0.1:{port}/{c['slug']}", lambda c: {}, False)
        base = asyncio.run(measure(run, [baseline.pid], args.rate, args.duration))
        stop(baseline)

        # The portal: two uvicorn processes, one Redis.
        ports = [free_port(), free_port()]
        portal = [
            start_portal(p, db_url, logs / f"chat_fanout_web{i}.log", args.ws)
            for i, p in enumerate(ports)
        ]
        processes += portal
        for p, process in zip(ports, portal, strict=True):
            wait_for_port(p, process, "/health/")

        def url(c):
            return f"ws://127.0.0.1:{ports[c['index'] % 2]}/ws/groups/{c['slug']}/chat/"

        def headers(c):
            return {
                "Origin": f"http://127.0.0.1:{ports[c['index'] % 2]}",
                "Cookie": f"{settings.SESSION_COOKIE_NAME}={c['cookie']}",
            }

        run = Run(clients, url, headers, True)
        ours = asyncio.run(measure(run, [p.pid for p in portal], args.rate, args.duration))
        episodes = late_episodes(run)
        client_stalls = [late_by * 1000 for _at, late_by in run.stalls]
        client_gcs = [ms for _at, ms in run.collections]
        series = []
        if args.churn:
            series = asyncio.run(
                churn(lambda: Run(clients, url, headers, True), [p.pid for p in portal], args.churn)
            )
            from groups.models import ChatPresence

            # The servers finish the last disconnects (presence rows, hub rooms).
            deadline = time.monotonic() + 30
            while (left_over := ChatPresence.objects.count()) and time.monotonic() < deadline:
                time.sleep(0.5)
            settled = sum(rss_mib(p.pid) for p in portal)
    finally:
        for process in processes:
            stop(process)
        database_drop(old_name)
    speed_after = machine_speed_ms()
    pauses = [
        float(m.group(1))
        for i in range(2)
        for m in re.finditer(
            r"full collection: ([0-9.]+) ms", (logs / f"chat_fanout_web{i}.log").read_text()
        )
    ]

    print(
        f"Chat fan-out — {args.clients} clients in {args.groups} groups of "
        f"{args.clients // args.groups}, {args.rate:g} messages/s for {args.duration:g} s; "
        f"{where}; uvicorn --ws {args.ws} --http {args.http}; "
        f"PORTAL_GC_THRESHOLD={os.environ.get('PORTAL_GC_THRESHOLD', '(default)')}"
    )
    print(f"{'':24}{'baseline (websockets)':>24}{'portal (2 × uvicorn + Redis)':>30}{'ratio':>8}")
    rows = [
        ("connect all clients s", "connect s", "{:.2f}"),
        ("messages sent", "messages", "{:d}"),
        ("deliveries expected", "deliveries expected", "{:d}"),
        ("delivered", "delivered", "{:d}"),
        ("lost", "lost", "{:d}"),
        ("duplicates", "duplicates", "{:d}"),
        ("error frames", "errors", "{:d}"),
        ("latency p50 ms", "p50 ms", "{:.1f}"),
        ("latency p99 ms", "p99 ms", "{:.1f}"),
        ("latency max ms", "max ms", "{:.1f}"),
        ("server RSS idle MiB", "rss idle MiB", "{:.0f}"),
        ("server RSS connected MiB", "rss connected MiB", "{:.0f}"),
        ("server RSS at end MiB", "rss MiB", "{:.0f}"),
    ]
    for label, key, fmt in rows:
        ratio = ""
        if isinstance(base[key], float) and base[key]:
            ratio = f"{ours[key] / base[key]:.1f}x"
        print(f"{label:24}{fmt.format(base[key]):>24}{fmt.format(ours[key]):>30}{ratio:>8}")
    pause_text = (
        f", pause mean {statistics.mean(pauses):.1f} ms, max {max(pauses):.1f} ms" if pauses else ""
    )
    print(f"full collections in the servers: {len(pauses)}{pause_text}")
    late = sum(e["deliveries"] for e in episodes)
    print(
        f"\nportal deliveries later than {LATE_S * 1000:.0f} ms: {late} of {ours['delivered']}, "
        f"in {len(episodes)} episodes (sends less than 100 ms apart); this process's own loop "
        f"stalled {len(client_stalls)} times by more than {LATE_S * 500:.0f} ms"
        + (f" (max {max(client_stalls):.0f} ms)" if client_stalls else "")
        + f", full collections in this process: {len(client_gcs)}"
        + (f" (max {max(client_gcs):.0f} ms)" if client_gcs else "")
    )
    if episodes:
        print(
            "sending began at "
            + time.strftime("%H:%M:%S", time.gmtime(run.started_wall))
            + " UTC; episodes, the worst eight, by when their first late message was sent:"
        )
    worst = sorted(episodes, key=lambda e: -e["worst"])[:8]
    if worst:
        print(
            f"{'sent at s':>10}{'lasted ms':>11}{'deliveries':>12}{'worst ms':>10}"
            f"{'via web0/web1':>15}{'senders on web0/web1':>22}{'client stall ms':>17}"
            f"{'client gc ms':>14}"
        )
    for e in sorted(worst, key=lambda e: e["first"]):
        print(
            f"{e['first'] - run.started:>10.2f}{(e['last'] - e['first']) * 1000:>11.0f}"
            f"{e['deliveries']:>12d}{e['worst'] * 1000:>10.0f}"
            f"{'{} / {}'.format(*e['servers']):>15}"
            f"{'{} / {}'.format(*map(len, e['senders'])):>22}{e['client stall ms']:>17.0f}"
            f"{e['client gc ms']:>14.0f}"
        )
    print(
        f"machine speed: sum(range(10**6)) took {speed_before:.1f} ms before, "
        f"{speed_after:.1f} ms after (lower is faster)"
    )
    if series:
        print(
            f"\nChurn: {args.churn} rounds of {args.clients} connects and disconnects; "
            f"servers' RSS after each round (MiB): " + ", ".join(f"{v:.0f}" for v in series)
        )
        half = len(series) // 2
        first, last = series[: max(half, 1)], series[half:]
        print(
            f"mean of the first half {statistics.mean(first):.0f} MiB, of the second half "
            f"{statistics.mean(last):.0f} MiB; settled {settled:.0f} MiB; "
            f"presence rows left: {left_over}"
        )


if __name__ == "__main__":
    main()
