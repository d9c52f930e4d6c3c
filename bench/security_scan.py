"""Black-box security scan of the running portal with wapiti (a real DAST scanner).

    .venv/bin/python bench/security_scan.py [--runs anonymous,member,coordinator]
        [--crawl-seconds 120] [--attack-seconds 45] [--modules ...] [--port N]

Installs wapiti (the ``wapiti3`` package, pinned below) into its own virtualenv
``var/tools/wapiti`` when it is missing, so that it never touches the project's
``.venv``. Then, from scratch each time:

- a throw-away state directory ``var/scan/state`` (``PORTAL_VAR_DIR``) with a fresh
  SQLite database, the demo data (``manage.py demo_data``) and collected static files;
- the portal started as in production: ``DJANGO_SETTINGS_MODULE=portal.settings.production``
  (DEBUG off, HTTPS-only cookies, HSTS, SSL redirect, manifest static files) and one
  ``uvicorn portal.asgi:application`` process that speaks TLS itself with a
  self-signed certificate made for this run, standing in for the reverse proxy of
  docs/deployment.md, so that what wapiti sees is what a visitor of the deployment sees;
- a session for each demo persona, by signing in through the real allauth form
  (``/accounts/login/``, CSRF token and all), handed to wapiti as a cookie file;
- one wapiti run per persona: ``anonymous`` (no cookie), ``member``
  (expert1@example.org) and ``coordinator`` (coordinator@example.org). Each run
  crawls for at most ``--crawl-seconds`` and gives each attack module at most
  ``--attack-seconds``. The URLs that would end the session or the persona's role
  (log out, leave a group, delete the account, hand back the coordinator role) are
  excluded, and after each run the script checks that the session still works.

Reports: ``var/scan/<run>.json`` (wapiti's JSON format), the server's log in
``var/scan/server.log``. Prints a table of findings per run, category and level,
and exits 1 when any finding is high or critical (wapiti's levels: 0 info, 1 low,
2 medium, 3 high, 4 critical), 2 when the scan itself could not be carried out
(the server did not start, a sign-in failed, a session was lost mid-scan).

Not a unit test: it takes several minutes per run. docs/security.md, section
"Black-box scan (wapiti)", records the last results and the triage of each finding.
"""

import argparse
import datetime as dt
import http.cookiejar
import ipaddress
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SCAN_DIR = BASE_DIR / "var" / "scan"
STATE_DIR = SCAN_DIR / "state"
WAPITI_VENV = BASE_DIR / "var" / "tools" / "wapiti"
WAPITI = WAPITI_VENV / "bin" / "wapiti"
# Pinned: the JSON report's layout and the meaning of its levels are read below.
WAPITI_REQUIREMENT = "wapiti3==3.3.2"

LEVELS = {0: "info", 1: "low", 2: "medium", 3: "high", 4: "critical"}
FAIL_LEVEL = 3  # high and above fail the scan

# Active modules (they send attacks) and passive ones (they read every response).
# Left out: ssl (the TLS here is this script's own self-signed stand-in for the proxy),
# ssrf and xxe (they need wapiti's public endpoint to see a callback, and the portal
# fetches no URL a user gives it), timesql, nikto, buster, backup (slow brute force).
DEFAULT_MODULES = ",".join(
    [
        "xss",
        "permanentxss",
        "sql",
        "exec",
        "file",
        "redirect",
        "crlf",
        "csrf",
        "upload",
        "methods",
        "http_headers",
        "csp",
        "cookieflags",
        "https_redirect",
        "inconsistent_redirection",
        "information_disclosure",
        "stacktrace_disclosure",
        "unsecure_password",
    ]
)

# Personas: (run name, e-mail or None for the anonymous visitor).
PERSONAS = {
    "anonymous": None,
    "member": "expert1@example.org",
    "coordinator": "coordinator@example.org",
}
# Paths (wapiti wildcards) that would end the session or strip the persona of what it
# is scanned as. Everything else, destructive or not, is fair game: the database is
# thrown away after the scan.
EXCLUDED_PATHS = [
    "/accounts/logout/*",
    "/g/*/leave/*",
    "/g/*/members/*/step-down/*",
    "/people/me/delete/*",
    # Static files and the admin's JavaScript catalogue: nothing to attack, many URLs.
    "/static/*",
]


def log(message: str) -> None:
    print(f"[scan] {message}", flush=True)


def wait_for_bench_lock() -> None:
    """Other benchmarks on this machine take /tmp/bench.lock; do not compete for the CPU."""
    lock = Path("/tmp/bench.lock")
    if lock.exists():
        log("waiting for /tmp/bench.lock to go away")
    while lock.exists():
        time.sleep(10)


# --- Tools ----------------------------------------------------------------------


def wapiti_ensure() -> str:
    """Install wapiti into its own virtualenv if it is missing; return its version."""
    if not WAPITI.exists():
        log(f"installing {WAPITI_REQUIREMENT} into {WAPITI_VENV.relative_to(BASE_DIR)}")
        WAPITI_VENV.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([PYTHON, "-m", "venv", "--clear", str(WAPITI_VENV)], check=True)
        pip = [str(WAPITI_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, WAPITI_REQUIREMENT], check=True)
    out = subprocess.run(
        [str(WAPITI_VENV / "bin" / "python"), "-m", "pip", "show", "wapiti3"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return re.search(r"^Version: (\S+)", out, re.MULTILINE).group(1)


def certificate_make(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "key.pem", directory / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- The portal -----------------------------------------------------------------


def portal_env(base_url: str) -> dict:
    """Production settings, embedded services, everything under the throw-away directory."""
    env = {
        key: value
        for key, value in os.environ.items()
        # The embedded default for every service: no PostgreSQL, Redis or S3 of the caller's.
        if not key.startswith(("DATABASE_", "REDIS_", "AWS_", "DJANGO_", "PORTAL_", "EMAIL_"))
        or key == "PORTAL_DEMO_PASSWORD"
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings.production",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_LOG_LEVEL": "WARNING",
            "PORTAL_VAR_DIR": str(STATE_DIR),
            "PORTAL_SITE_URL": base_url,
            "DATABASE_URL": f"sqlite:///{STATE_DIR / 'portal.sqlite3'}",
            "EMAIL_URL": "consolemail://",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def portal_prepare(env: dict) -> None:
    if STATE_DIR.exists():
        shutil.rmtree(STATE_DIR)
    STATE_DIR.mkdir(parents=True)
    manage = [PYTHON, "manage.py"]
    quiet = {"cwd": BASE_DIR, "env": env, "check": True, "stdout": subprocess.DEVNULL}
    log("creating the throw-away database and the demo data")
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], **quiet)
    subprocess.run([*manage, "demo_data"], **quiet)
    subprocess.run([*manage, "collectstatic", "--noinput", "-v", "0"], **quiet)


def portal_start(env: dict, port: int, key: Path, cert: Path, log_file) -> subprocess.Popen:
    command = [
        PYTHON,
        "-m",
        "uvicorn",
        "portal.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--ws",
        "websockets-sansio",
        "--ssl-keyfile",
        str(key),
        "--ssl-certfile",
        str(cert),
    ]
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log_file, stderr=subprocess.STDOUT
    )


def opener_for(context: ssl.SSLContext, jar: http.cookiejar.CookieJar):
    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=context), urllib.request.HTTPCookieProcessor(jar)
    )


def portal_wait(base_url: str, context: ssl.SSLContext, server: subprocess.Popen) -> None:
    opener = opener_for(context, http.cookiejar.CookieJar())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the portal exited with {server.returncode}: see var/scan/server.log")
        try:
            with opener.open(base_url + "/health/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise SystemExit("the portal did not answer /health/ within 60 s")


def sign_in(base_url: str, context: ssl.SSLContext, email: str, password: str):
    """Sign in through the allauth form as a browser does; return the cookie jar."""
    jar = http.cookiejar.CookieJar()
    opener = opener_for(context, jar)
    login_url = base_url + "/accounts/login/"
    with opener.open(login_url, timeout=30) as response:
        page = response.read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode(
        {"login": email, "password": password, "csrfmiddlewaretoken": token}
    ).encode()
    request = urllib.request.Request(
        login_url, data=body, headers={"Referer": login_url, "Origin": base_url}
    )
    with opener.open(request, timeout=30) as response:
        landed = urllib.parse.urlsplit(response.url).path
    if not session_works(base_url, context, jar):
        raise SystemExit(f"signing in as {email} failed (landed on {landed})")
    return jar


def session_works(base_url: str, context: ssl.SSLContext, jar) -> bool:
    """The dashboard answers without sending us to the login page."""
    opener = opener_for(context, jar)
    try:
        with opener.open(base_url + "/dashboard/", timeout=30) as response:
            return urllib.parse.urlsplit(response.url).path == "/dashboard/"
    except urllib.error.HTTPError:
        return False


def cookie_file_write(jar, path: Path) -> None:
    """wapiti's JSON cookie file: {domain: {path: {name: attributes}}}."""
    cookies: dict = {}
    for cookie in jar:
        cookies.setdefault(cookie.domain, {}).setdefault(cookie.path, {})[cookie.name] = {
            "value": cookie.value,
            "expires": cookie.expires,
            "secure": cookie.secure,
            "port": None,
            "version": cookie.version or 0,
        }
    path.write_text(json.dumps(cookies, indent=2))


# --- The scan -------------------------------------------------------------------


def wapiti_run(name: str, base_url: str, args, cookie_file: Path | None) -> Path:
    report = SCAN_DIR / f"{name}.json"
    report.unlink(missing_ok=True)
    command = [
        str(WAPITI),
        "--url",
        base_url + "/",
        "--scope",
        "folder",
        "--module",
        args.modules,
        "--max-scan-time",
        str(args.crawl_seconds),
        "--max-attack-time",
        str(args.attack_seconds),
        "--max-links-per-page",
        str(args.max_links_per_page),
        "--max-files-per-dir",
        str(args.max_files_per_dir),
        "--depth",
        str(args.depth),
        "--tasks",
        "4",
        "--timeout",
        "20",
        "--flush-session",
        "--store-session",
        str(SCAN_DIR / "sessions" / name),
        "--store-config",
        str(SCAN_DIR / "config"),
        # Payloads in the CSRF token only earn a 403: spend the attack time on real fields.
        "--skip",
        "csrfmiddlewaretoken",
        "--no-bugreport",
        "--format",
        "json",
        "--output",
        str(report),
        "--verbose",
        "1",
    ]
    for pattern in EXCLUDED_PATHS:
        command += ["--exclude", base_url + pattern]
    if cookie_file:
        command += ["--cookie", str(cookie_file)]
        # The signed-in pages, also reached by links, but the crawl may run out of time.
        for start in ("/dashboard/", "/g/communication/", "/meetings/", "/people/directory/"):
            command += ["--start", base_url + start]
    (SCAN_DIR / "config").mkdir(parents=True, exist_ok=True)
    log(f"wapiti run '{name}': {' '.join(command[1:])}")
    with open(SCAN_DIR / f"{name}.log", "w") as out:
        subprocess.run(command, cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT, check=False)
    if not report.exists():
        raise SystemExit(f"wapiti wrote no report for '{name}': see var/scan/{name}.log")
    return report


def findings_of(report: Path) -> list[dict]:
    """Every vulnerability and anomaly of a JSON report, with its kind and category."""
    data = json.loads(report.read_text())
    rows = []
    for kind in ("vulnerabilities", "anomalies", "additionals"):
        for category, items in (data.get(kind) or {}).items():
            for item in items:
                rows.append({"kind": kind, "category": category, **item})
    return rows


def summary_print(results: dict[str, list[dict]]) -> int:
    """Print the findings per run, category and level; return the number of failing ones."""
    print()
    print(f"{'run':<12} {'kind':<16} {'category':<48} {'level':<9} {'count':>5}")
    print("-" * 94)
    totals: Counter = Counter()
    failing = 0
    for run, rows in results.items():
        counts = Counter((r["kind"], r["category"], r.get("level", 0)) for r in rows)
        if not counts:
            print(f"{run:<12} {'-':<16} {'(no finding)':<48} {'-':<9} {0:>5}")
        for (kind, category, level), count in sorted(counts.items(), key=lambda c: -c[0][2]):
            name = LEVELS.get(level, str(level))
            print(f"{run:<12} {kind:<16} {category[:48]:<48} {name:<9} {count:>5}")
            totals[level] += count
            if level >= FAIL_LEVEL and kind != "additionals":
                failing += count
    print("-" * 94)
    levels = sorted(LEVELS, reverse=True)
    print("total: " + ", ".join(f"{LEVELS[level]} {totals[level]}" for level in levels))
    print()
    for run, rows in results.items():
        for r in rows:
            if r.get("level", 0) >= 2:
                print(
                    f"  [{run}] {LEVELS.get(r['level'])} {r['category']}: {r['method']} "
                    f"{r['path']} {r.get('parameter') or ''} - {r.get('info', '')[:160]}"
                )
    return failing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=",".join(PERSONAS), help="comma-separated personas")
    parser.add_argument("--modules", default=DEFAULT_MODULES, help="wapiti -m list")
    parser.add_argument("--crawl-seconds", type=float, default=120)
    parser.add_argument("--attack-seconds", type=float, default=45)
    parser.add_argument("--max-links-per-page", type=int, default=40)
    parser.add_argument("--max-files-per-dir", type=int, default=25)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args()
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    unknown = set(runs) - set(PERSONAS)
    if unknown:
        parser.error(f"unknown runs: {', '.join(sorted(unknown))}")

    SCAN_DIR.mkdir(parents=True, exist_ok=True)
    version = wapiti_ensure()
    port = args.port or free_port()
    base_url = f"https://127.0.0.1:{port}"
    env = portal_env(base_url)
    portal_prepare(env)
    key, cert = certificate_make(STATE_DIR)
    context = ssl.create_default_context(cafile=str(cert))
    started = time.monotonic()
    log_file = open(SCAN_DIR / "server.log", "w")  # noqa: SIM115 (open while the server runs)
    server = portal_start(env, port, key, cert, log_file)
    results: dict[str, list[dict]] = {}
    lost_sessions = []
    try:
        portal_wait(base_url, context, server)
        log(f"portal (production settings) on {base_url}; wapiti {version}")
        password = os.environ.get("PORTAL_DEMO_PASSWORD", "portal-demo-2026")
        # Sign everyone in first: the anonymous run attacks the login form and trips its
        # rate limit (5 failures per IP in 5 minutes), which would refuse us afterwards.
        jars = {
            run: sign_in(base_url, context, PERSONAS[run], password)
            for run in runs
            if PERSONAS[run]
        }
        for run in runs:
            wait_for_bench_lock()
            run_started = time.monotonic()
            cookie_file = None
            if run in jars:
                cookie_file = SCAN_DIR / f"{run}.cookies.json"
                cookie_file_write(jars[run], cookie_file)
            report = wapiti_run(run, base_url, args, cookie_file)
            results[run] = findings_of(report)
            if run in jars and not session_works(base_url, context, jars[run]):
                lost_sessions.append(run)
            crawled = json.loads(report.read_text())["infos"].get("crawled_pages_nbr")
            log(f"run '{run}': {crawled} pages crawled, {time.monotonic() - run_started:.0f} s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log_file.close()

    failing = summary_print(results)
    # uvicorn's access log: answers 500 and above, whatever wapiti made of them.
    server_log = (SCAN_DIR / "server.log").read_text(errors="replace")
    server_errors = len(re.findall(r'" 5\d\d ', server_log))
    print(f"wapiti {version}; runs: {', '.join(runs)}; {time.monotonic() - started:.0f} s")
    print(f"reports: {', '.join(f'var/scan/{r}.json' for r in results)}")
    print(f"answers 5xx in var/scan/server.log: {server_errors}")
    if lost_sessions:
        print(f"FAILED: the session was lost during: {', '.join(lost_sessions)}")
        return 2
    if failing:
        print(f"FAILED: {failing} finding(s) of level high or critical")
        return 1
    print("OK: no finding of level high or critical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
