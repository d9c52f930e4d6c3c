"""Benchmark: the archive package of a group with 2,000 documents (about 4 GiB).

    .venv/bin/python bench/archive_package.py [--documents N] [--size-mb S]
                                              [--small-documents M] [--warm] [--keep]

Builds, in a throw-away ``PORTAL_VAR_DIR`` under ``var/bench/`` (files in a
``FileSystemStorage`` there, ``PACKAGE_TMP_DIR`` there, a fresh SQLite file
there by default, or ``bench_<name>`` on the server of ``DATABASE_URL`` when
that is set), one archived group per size: created with
``services.group_create``, a few chat messages and one meeting, its mandate
ended yesterday, then archived with ``services.group_archive`` by a
secretariat user, which queues its package (``groups.archive._queue_build`` is
replaced by a no-op, so nothing is sent to a worker). Its N documents (default
2,000) of S MiB each (default 2) are random, incompressible bytes written
straight into storage, a MiB at a time, with their Document and Version rows
made by ``bulk_create``; one in twenty is ``text/plain`` (deflated in the
package), the others ``application/pdf`` (stored).

Then, for a small group first (``--small-documents``, default 200; 0 skips
it) and for the full one, in the same run:

- the baseline: every stored document file copied into one file on the same
  disk in 1 MiB chunks, each hashed with SHA-256: the bytes the package reads;
- ``archive_package_build`` of the group's queued ``ArchivePackage``.

For each it prints the time, the throughput (document bytes per second), the
ratio of the time to the baseline's, the peak growth of the resident memory
over its value just before the step (``/proc/self/statm`` sampled every 20 ms
in a thread, and ``VmHWM``, reset through ``/proc/self/clear_refs``), and the
queries of the build, split into progress updates (at most one a second) and
the others. Unless ``--warm`` is given, the document files are dropped from
the page cache before each step (``posix_fadvise``), so both read from disk.
Not a test: nothing here asserts a time.
"""

import argparse
import gc
import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from datetime import time as clock
from pathlib import Path
from unittest import mock

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

BENCH_DIR = BASE_DIR / "var" / "bench"
BENCH_DIR.mkdir(parents=True, exist_ok=True)
VAR_DIR = Path(tempfile.mkdtemp(prefix="archive-package-", dir=BENCH_DIR))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings.base")
os.environ["PORTAL_VAR_DIR"] = str(VAR_DIR)  # files, SQLite, Celery's file broker, mail
os.environ["PORTAL_PACKAGE_TMP_DIR"] = str(VAR_DIR / "tmp" / "packages")
os.environ.pop("AWS_STORAGE_BUCKET_NAME", None)  # local files, never a bucket
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "false"
os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from allauth.mfa.totp.internal.auth import TOTP  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.files.storage import default_storage  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import OuterRef, Subquery  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import User  # noqa: E402
from documents.files import new_storage_key  # noqa: E402
from documents.models import Document, Folder, Keyword, Version  # noqa: E402
from groups import archive, chat, services  # noqa: E402
from groups.archive import archive_package_build  # noqa: E402
from groups.models import ArchivePackage, Mandate, Membership  # noqa: E402
from meetings import services as meeting_services  # noqa: E402
from portal.packaging import delete_stored  # noqa: E402

CHUNK = 1024 * 1024
MIB = 1024 * 1024
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
TEXT_EVERY = 20  # one document in 20 is text/plain, deflated in the package
PROGRESS_SQL = 'UPDATE "groups_archivepackage" SET "files_done"'


def database_create() -> str:
    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0)
        return f"SQLite file {Path(connection.settings_dict['NAME']).relative_to(BASE_DIR)}"
    # A database of its own on the same server, so that no real or test data is touched.
    connection.settings_dict["TEST"]["NAME"] = "bench_" + connection.settings_dict["NAME"]
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return f"{connection.vendor} database {name}"


def database_drop(old_name: str) -> None:
    if connection.vendor != "sqlite":
        connection.creation.destroy_test_db(old_name, verbosity=0)


# --- Memory -----------------------------------------------------------------


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE_SIZE


def high_water_mark() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("VmHWM not found")


class PeakRSS:
    """The peak resident memory during a block, over what it was just before it."""

    def __enter__(self):
        gc.collect()
        # Writing 5 resets VmHWM to the current RSS (Linux ≥ 4.0): an exact peak, unsampled.
        Path("/proc/self/clear_refs").write_text("5")
        self.before = self.peak = rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())
        self.sampled_growth = (self.peak - self.before) / MIB
        self.hwm_growth = (high_water_mark() - self.before) / MIB


# --- Data -----------------------------------------------------------------


def secretariat_user(email: str) -> User:
    """As ``tests/conftest.py::make_secretariat``: staff group plus a TOTP authenticator."""
    user = User.objects.create_user(email, "!", full_name="Sam Secretariat", is_staff=True)
    user.groups.add(Group.objects.get_or_create(name=settings.SECRETARIAT_GROUP)[0])
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


def document_file_write(key: str, size: int) -> str:
    """Random bytes under ``key`` in storage, a MiB at a time; their SHA-256."""
    path = Path(default_storage.path(key))
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        left = size
        while left:
            chunk = os.urandom(min(CHUNK, left))
            digest.update(chunk)
            handle.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def group_build(label: str, n_documents: int, size: int) -> tuple[ArchivePackage, list[Path]]:
    """An archived group with ``n_documents`` of ``size`` bytes; its queued package, its files."""
    today = timezone.localdate()
    staff = secretariat_user(f"staff-{label}@bench.example")
    coordinator = User.objects.create_user(
        f"coordinator-{label}@bench.example", "!", full_name="Cora Coordinator"
    )
    member = User.objects.create_user(f"member-{label}@bench.example", "!", full_name="Ana Lima")
    group = services.group_create(
        actor=staff,
        name=f"Bench archive {label}",
        slug=f"bench-archive-{label}",
        kind="expert_group",
        summary="Benchmark group.",
        start_date=today - timedelta(days=10),
        coordinators=[coordinator],
    )
    Membership.objects.create(
        user=member,
        group=group,
        role=Membership.Role.MEMBER,
        state=Membership.State.ACTIVE,
        started_at=timezone.now(),
    )
    for i in range(6):
        chat.chat_message_post(
            actor=(coordinator, member)[i % 2], group=group, body=f"Message {i + 1} of the group."
        )
    meeting_services.meeting_schedule(
        actor=coordinator,
        group=group,
        title="Closing meeting",
        agenda="1. Final report\n2. Archive",
        starts_at=datetime.combine(today + timedelta(days=7), clock(10)),
        ends_at=datetime.combine(today + timedelta(days=7), clock(12)),
        timezone_name="Europe/Brussels",
    )

    folders = Folder.objects.bulk_create(
        Folder(group=group, name=f"Work package {i}", created_by=coordinator) for i in range(1, 6)
    )
    keywords = [Keyword.objects.get_or_create(name=name)[0] for name in ("monitoring", "report")]
    now = timezone.now()
    documents, versions, paths = [], [], []
    for i in range(n_documents):
        text = i % TEXT_EVERY == TEXT_EVERY - 1
        key = new_storage_key(group.pk)
        sha256 = document_file_write(key, size)
        paths.append(Path(default_storage.path(key)))
        documents.append(
            Document(
                group=group,
                folder=folders[i % len(folders)] if i % 4 else None,
                title=f"Report {i + 1:04d}",
                created_by=member,
                updated_at=now,
            )
        )
        versions.append(
            Version(
                number=1,
                storage_key=key,
                original_name=f"report-{i + 1:04d}.{'txt' if text else 'pdf'}",
                size=size,
                sha256=sha256,
                content_type="text/plain" if text else "application/pdf",
                uploaded_by=member,
            )
        )
    Document.objects.bulk_create(documents, batch_size=500)
    for document, version in zip(documents, versions, strict=True):
        version.document = document
    Version.objects.bulk_create(versions, batch_size=500)
    Document.objects.filter(group=group).update(
        current_version=Subquery(Version.objects.filter(document=OuterRef("pk")).values("pk")[:1])
    )
    Document.keywords.through.objects.bulk_create(
        Document.keywords.through(document=d, keyword=keywords[i % 2])
        for i, d in enumerate(documents)
        if i % 3 == 0
    )

    # Expired since yesterday, then archived by the secretariat: that queues the package.
    Mandate.objects.filter(group=group).update(end_date=today - timedelta(days=1))
    with mock.patch.object(archive, "_queue_build"):
        services.group_archive(actor=staff, group=group)
    return ArchivePackage.objects.get(group=group, state=ArchivePackage.State.QUEUED), paths


# --- Steps ----------------------------------------------------------------


def page_cache_drop(paths: list[Path], evict: bool) -> None:
    """Write back what is dirty, then (unless warm) drop the document files from the cache."""
    os.sync()
    if not evict:
        return
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def baseline_copy(paths: list[Path], target: Path) -> int:
    """Every file into one, in 1 MiB chunks, each hashed: what the package does at the least."""
    total = 0
    with open(target, "wb") as out:
        for path in paths:
            digest = hashlib.sha256()
            with open(path, "rb") as source:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
                    total += len(chunk)
    return total


def size_run(label: str, n_documents: int, size: int, evict: bool) -> dict:
    started = time.perf_counter()
    package, paths = group_build(label, n_documents, size)
    built_in = time.perf_counter() - started
    data = n_documents * size

    page_cache_drop(paths, evict)
    target = Path(settings.PACKAGE_TMP_DIR) / "baseline-copy.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    with PeakRSS() as base_mem:
        started = time.perf_counter()
        copied = baseline_copy(paths, target)
        base_s = time.perf_counter() - started
    target.unlink()
    assert copied == data, (copied, data)

    page_cache_drop(paths, evict)
    with PeakRSS() as build_mem, CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        built = archive_package_build(package_id=package.pk)
        build_s = time.perf_counter() - started
    package.refresh_from_db()
    if not built or package.state != ArchivePackage.State.READY:
        raise RuntimeError(f"the package was not built: {package.state} {package.error}")
    progress = sum(q["sql"].startswith(PROGRESS_SQL) for q in queries.captured_queries)
    delete_stored(package.storage_key)
    shutil.rmtree(paths[0].parent, ignore_errors=True)  # documents/<group id>/
    return {
        "label": label,
        "documents": n_documents,
        "size": size,
        "data": data,
        "built_in": built_in,
        "baseline": (base_s, base_mem),
        "build": (build_s, build_mem),
        "queries": len(queries),
        "progress": progress,
        "package_files": package.file_count,
        "package_size": package.size,
    }


def report(run: dict) -> None:
    data = run["data"]
    texts = run["documents"] // TEXT_EVERY
    print()
    print(
        f"{run['documents']:,} documents × {run['size'] / MIB:g} MiB = {data / MIB:,.0f} MiB "
        f"({run['documents'] - texts:,} PDF, stored; {texts:,} text, deflated); "
        f"data written in {run['built_in']:.1f} s"
    )
    print(
        f"{'step':<28} {'time':>9} {'throughput':>14} {'time ratio':>11} "
        f"{'peak RSS + (sampled)':>21} {'VmHWM +':>10}  queries"
    )
    base_s = run["baseline"][0]
    for name, (seconds, mem), queries in (
        ("baseline copy + SHA-256", run["baseline"], "—"),
        (
            "archive_package_build",
            run["build"],
            f"{run['queries']} ({run['progress']} progress, "
            f"{run['queries'] - run['progress']} others)",
        ),
    ):
        print(
            f"{name:<28} {seconds:7.2f} s {data / seconds / MIB:8.1f} MiB/s "
            f"{seconds / base_s:10.2f}× {mem.sampled_growth:17.1f} MiB "
            f"{mem.hwm_growth:6.1f} MiB  {queries}"
        )
    print(
        f"package: {run['package_files']:,} files, {run['package_size'] / MIB:,.1f} MiB, ready "
        f"(RSS before the build {run['build'][1].before / MIB:.0f} MiB)"
    )


def main() -> None:
    args = None
    old_name = connection.settings_dict["NAME"]
    where = None
    try:
        parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        parser.add_argument("--documents", type=int, default=2000, help="default 2,000")
        parser.add_argument("--size-mb", type=float, default=2, help="MiB each (default 2)")
        parser.add_argument(
            "--small-documents",
            type=int,
            default=200,
            help="documents of the smaller run made first, same size each (default 200; 0: none)",
        )
        parser.add_argument("--warm", action="store_true", help="leave the files in the page cache")
        parser.add_argument("--keep", action="store_true", help="keep the throw-away var dir")
        args = parser.parse_args()
        size = int(args.size_mb * MIB)
        data = args.documents * size
        # The documents, the package's temporary file and the stored package side by side.
        needed = 3 * data + 256 * MIB
        free = shutil.disk_usage(VAR_DIR).free
        if free < needed:
            sys.exit(f"{free / MIB:,.0f} MiB free under {VAR_DIR}, {needed / MIB:,.0f} needed")

        where = database_create()
        print(
            f"Archive package — {where}; files in {VAR_DIR.relative_to(BASE_DIR)}/files; "
            + ("page cache left warm" if args.warm else "files dropped from the page cache")
            + " before each step"
        )
        runs = []
        if args.small_documents:
            runs.append(size_run("small", args.small_documents, size, not args.warm))
            report(runs[-1])
        runs.append(size_run("full", args.documents, size, not args.warm))
        report(runs[-1])
        print()
        print(
            "peak RSS growth of the build: "
            + ", ".join(
                f"{r['build'][1].hwm_growth:.1f} MiB for {r['documents']:,} documents "
                f"({r['data'] / MIB:,.0f} MiB)"
                for r in runs
            )
        )
    finally:
        if where is not None:
            database_drop(old_name)
        if args is not None and args.keep:
            print(f"kept {VAR_DIR}")
        else:
            shutil.rmtree(VAR_DIR, ignore_errors=True)


if __name__ == "__main__":
    main()
