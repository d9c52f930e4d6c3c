"""Benchmark: upload and download a large document through the real ASGI server.

    .venv/bin/python bench/documents_stream.py [--size-mib 256] [--keep]

Starts uvicorn (``portal.asgi:application``) as a subprocess on a free port
with the embedded default settings and a throw-away ``PORTAL_VAR_DIR`` under
``var/bench/``, creates a group, a member and a session for them with a
management shell, then, in the same run:

- the baseline: ``shutil.copyfile`` of the same file on the same disk;
- an upload of the file (one multipart POST, streamed from disk by the client,
  as the upload script sends it);
- a download of it (``documents:download``), read in 1 MiB chunks and hashed;
- a download of it as a one-file ZIP (``documents:zip``).

For each step it prints the time, the throughput, the ratio of that throughput
to the baseline copy, and the growth of the server's peak resident memory
(``VmHWM`` in ``/proc/<pid>/status``, reset before each step through
``/proc/<pid>/clear_refs``). Not a test: nothing here asserts a time.
"""

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench"
CHUNK = 1024 * 1024

SETUP = """
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from accounts.models import User
from groups.services import group_create

staff = User.objects.create_user("staff@bench.example", "bench-password-1", full_name="Staff")
staff.groups.add(Group.objects.get_or_create(name=settings.SECRETARIAT_GROUP)[0])
member = User.objects.create_user("member@bench.example", "bench-password-1", full_name="Member")
group = group_create(actor=staff, name="Bench group", slug="bench", kind="expert_group",
                     summary="Benchmark", start_date=timezone.localdate(), coordinators=[member])
session = SessionStore()
session[SESSION_KEY] = str(member.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = member.get_session_auth_hash()
session.create()
print("SESSION=" + session.session_key)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not found")


def reset_peak(pid: int) -> None:
    # Writing 5 resets the peak resident set size (VmHWM) to the current RSS (Linux ≥ 4.0).
    Path(f"/proc/{pid}/clear_refs").write_text("5")


class Server:
    def __init__(self, env: dict):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=BASE_DIR,
            env=env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _h, _b = self.request("GET", "/health/")
                if status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("uvicorn did not start")

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(self, method, path, headers=None):
        conn = self.connection()
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        conn.close()
        return response.status, response, body

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def measure(server: Server, step):
    """Run ``step`` and return (seconds, result, peak RSS growth of the server in MiB)."""
    reset_peak(server.proc.pid)
    rss_before = status_kib(server.proc.pid, "VmRSS")
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    growth = (status_kib(server.proc.pid, "VmHWM") - rss_before) / 1024
    return seconds, result, growth


def upload(server: Server, path: Path, cookies: str, csrf: str) -> dict:
    boundary = uuid.uuid4().hex
    size = path.stat().st_size
    fields = {
        "csrfmiddlewaretoken": csrf,
        "sensitivity": "normal",
        "purpose": "general",
        "size": str(size),
    }
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{path.name}"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    conn = server.connection()
    conn.putrequest("POST", "/g/bench/documents/upload/")
    for name, value in {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size + len(tail)),
        "Accept": "application/json",
        "Cookie": cookies,
        "X-CSRFToken": csrf,
    }.items():
        conn.putheader(name, value)
    conn.endheaders()
    conn.send(head)
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            conn.send(chunk)
    conn.send(tail)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {body[:500]!r}")
    return json.loads(body)


def download(server: Server, path: str, cookies: str) -> tuple[int, str]:
    conn = server.connection()
    conn.request("GET", path, headers={"Cookie": cookies})
    response = conn.getresponse()
    if response.status != 200:
        raise RuntimeError(f"download answered {response.status}")
    digest, total = hashlib.sha256(), 0
    while chunk := response.read(CHUNK):
        digest.update(chunk)
        total += len(chunk)
    conn.close()
    return total, digest.hexdigest()


def make_file(path: Path, size: int) -> str:
    """A text file of ``size`` bytes (text, so the type check accepts it); its SHA-256."""
    line = b"The expert group discussed electronic monitoring and probation practice. 0123456789\n"
    block = line * (CHUNK // len(line) + 1)
    digest, written = hashlib.sha256(), 0
    with open(path, "wb") as handle:
        while written < size:
            piece = block[: min(len(block), size - written)]
            handle.write(piece)
            digest.update(piece)
            written += len(piece)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def row(name: str, seconds: float, size: int, baseline: float, growth: float | None) -> str:
    rate = size / seconds / 1024 / 1024
    ratio = (size / seconds) / (size / baseline)
    mem = f"{growth:8.1f} MiB" if growth is not None else "         —"
    return f"{name:<26} {seconds:8.2f} s {rate:9.1f} MiB/s {ratio:7.2f}× {mem}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=256, help="file size (default 256)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; medians (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep the throw-away var dir")
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="documents-stream-", dir=BENCH_DIR))
    (var_dir / "static").mkdir()  # STATIC_ROOT, so WhiteNoise does not warn
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in {"DATABASE_URL", "REDIS_URL", "AWS_STORAGE_BUCKET_NAME", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.base",
            "PORTAL_VAR_DIR": str(var_dir),
            "PORTAL_DOCUMENT_MAX_MB": str(args.size_mib + 1),
            "DJANGO_LOG_LEVEL": "WARNING",
            "CELERY_TASK_ALWAYS_EAGER": "false",
        }
    )
    server = None
    try:
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
        out = subprocess.run(
            [*manage, "shell", "-c", SETUP],
            cwd=BASE_DIR,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        session = re.search(r"SESSION=(\w+)", out).group(1)

        source = var_dir / "bench-source.txt"
        expected = make_file(source, size)
        copy = var_dir / "bench-copy.txt"
        copies = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            shutil.copyfile(source, copy)
            copies.append(time.perf_counter() - started)
            copy.unlink()
        baseline = statistics.median(copies)

        server = Server(env)
        cookies = f"sessionid={session}"
        # A page with a form gives the CSRF cookie and token, as a browser gets them.
        status, response, body = server.request(
            "GET", "/g/bench/documents/upload/", {"Cookie": cookies}
        )
        assert status == 200, status
        csrf_cookie = re.search(r"csrftoken=(\w+)", response.getheader("Set-Cookie")).group(1)
        token = re.search(rb'name="csrfmiddlewaretoken" value="(\w+)"', body).group(1).decode()
        cookies += f"; csrftoken={csrf_cookie}"
        idle_rss = status_kib(server.proc.pid, "VmRSS") / 1024

        runs = [
            measure(server, lambda: upload(server, source, cookies, token))
            for _ in range(args.repeat)
        ]
        up_s, up_mem = statistics.median(r[0] for r in runs), max(r[2] for r in runs)
        doc_path = runs[-1][1]["url"]
        pk = int(re.search(r"/documents/(\d+)/", doc_path).group(1))
        runs = [
            measure(server, lambda: download(server, f"{doc_path}download/", cookies))
            for _ in range(args.repeat)
        ]
        down_s, down_mem = statistics.median(r[0] for r in runs), max(r[2] for r in runs)
        assert all(r[1] == (size, expected) for r in runs), "downloaded bytes differ"
        runs = [
            measure(server, lambda: download(server, f"/g/bench/documents/zip/?id={pk}", cookies))
            for _ in range(args.repeat)
        ]
        zip_s, zip_mem = statistics.median(r[0] for r in runs), max(r[2] for r in runs)
        zip_size = runs[-1][1][0]

        print(
            f"File: {args.size_mib} MiB of text; server: uvicorn, embedded default (SQLite, "
            f"local files); medians of {args.repeat} runs, peak RSS growth: the largest"
        )
        print(f"Server RSS when idle: {idle_rss:.0f} MiB")
        print(f"{'step':<26} {'time':>10} {'throughput':>15} {'vs copy':>8} {'peak RSS +':>12}")
        print(row("baseline shutil.copyfile", baseline, size, baseline, None))
        print(row("upload (POST, streamed)", up_s, size, baseline, up_mem))
        print(row("download (GET, streamed)", down_s, size, baseline, down_mem))
        print(row("download as ZIP", zip_s, size, baseline, zip_mem))
        print(f"ZIP size: {zip_size / 1024 / 1024:.1f} MiB (deflated text)")
    finally:
        if server is not None:
            server.stop()
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
