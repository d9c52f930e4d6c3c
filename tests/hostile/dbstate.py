"""What the database holds, cheaply: rows per table and a fingerprint of their content.

"No partial write" is checked by comparing two snapshots around a refused
request: no table may gain or lose a row, nor have a row changed.
"""

import hashlib
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection

#: Tables whose content is written by every request, or never by one: their rows are
#: counted, not fingerprinted. Sessions change whenever something is stored in a
#: visitor's session (messages that do not fit in their cookie, a pending invitation
#: token) and are not the portal's data; the permission and content-type tables are
#: large and static.
COUNT_ONLY = {"django_session", "auth_permission", "django_content_type"}


def tables() -> list[str]:
    """Every table of every installed model, the automatic many-to-many ones included."""
    names = {m._meta.db_table for m in apps.get_models(include_auto_created=True)}
    return sorted(names)


def snapshot() -> dict[str, tuple[int, str]]:
    """{table: (rows, fingerprint)} for every table (two queries per table at most)."""
    state = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables():
            if table in COUNT_ONLY:
                cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608
                state[table] = (cursor.fetchone()[0], "")
                continue
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608
            rows = sorted(repr(row) for row in cursor.fetchall())
            digest = hashlib.blake2b("\n".join(rows).encode(), digest_size=16).hexdigest()
            state[table] = (len(rows), digest)
    return state


def changed(before: dict, after: dict) -> dict[str, tuple]:
    """The tables whose row count or content differ, with (before, after) counts."""
    return {
        table: (before.get(table, (0, ""))[0], after[table][0])
        for table in after
        if after[table] != before.get(table)
    }


def rows_with_nul(tables_to_check) -> list[tuple[str, tuple]]:
    """Rows holding a NUL character in some text column.

    PostgreSQL refuses such a string (and ``\\u0000`` in JSON) with an error, a 500;
    SQLite stores it: on SQLite a stored NUL is the sign of a value that would crash
    PostgreSQL.
    """
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in tables_to_check:
            cursor.execute(f"SELECT * FROM {quote(table)}")  # noqa: S608
            for row in cursor.fetchall():
                if any(isinstance(v, str) and ("\x00" in v or "\\u0000" in v) for v in row):
                    found.append((table, row))
    return found


def stored_files() -> set[str]:
    """The files in the default storage, when it is the local filesystem (the tests')."""
    options = settings.STORAGES["default"].get("OPTIONS", {})
    if "location" not in options:
        return set()
    root = Path(options["location"])
    return (
        {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        if root.exists()
        else set()
    )
