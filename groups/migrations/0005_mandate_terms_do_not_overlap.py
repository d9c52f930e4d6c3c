"""The terms of a group never overlap: a trigger refuses the INSERT or UPDATE.

A check constraint cannot look at other rows, and PostgreSQL's exclusion
constraint on date ranges needs the btree_gist extension (a superuser
installs it). Triggers work on both databases the portal runs on:

- SQLite: ``RAISE(ABORT, …)`` fails the statement with SQLITE_CONSTRAINT,
  which Django raises as ``IntegrityError``.
- PostgreSQL: a plpgsql trigger raises SQLSTATE 23P01 (exclusion_violation),
  an integrity-constraint class error that Django raises as ``IntegrityError``.
  It first locks the group's row, so two transactions adding terms to the same
  group at once are checked one after the other.

Terms are half-open ranges ``[start_date, end_date)``: term 2 may start on the
day term 1 ends.

SQLite drops a table's triggers when Django's schema editor rebuilds the table
(an altered or added column of ``Mandate``): such a migration must create them
again. ``tests/groups/test_mandate_overlap.py`` fails if they are missing.
"""

from django.db import migrations

# The message, "mandate terms of a group must not overlap", is written out in each
# statement: no SQL here is built from strings.

SQLITE_FORWARD = [
    """
    CREATE TRIGGER groups_mandate_no_overlap_insert
    BEFORE INSERT ON groups_mandate
    FOR EACH ROW WHEN EXISTS (
        SELECT 1 FROM groups_mandate AS other
        WHERE other.group_id = NEW.group_id
          AND other.start_date < NEW.end_date
          AND NEW.start_date < other.end_date
    )
    BEGIN
        SELECT RAISE(ABORT, 'mandate terms of a group must not overlap');
    END
    """,
    """
    CREATE TRIGGER groups_mandate_no_overlap_update
    BEFORE UPDATE OF group_id, start_date, end_date ON groups_mandate
    FOR EACH ROW WHEN EXISTS (
        SELECT 1 FROM groups_mandate AS other
        WHERE other.group_id = NEW.group_id
          AND other.id <> OLD.id
          AND other.start_date < NEW.end_date
          AND NEW.start_date < other.end_date
    )
    BEGIN
        SELECT RAISE(ABORT, 'mandate terms of a group must not overlap');
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS groups_mandate_no_overlap_insert",
    "DROP TRIGGER IF EXISTS groups_mandate_no_overlap_update",
]

POSTGRESQL_FORWARD = [
    """
    CREATE OR REPLACE FUNCTION groups_mandate_no_overlap() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        -- One writer of a group's terms at a time (see the module docstring).
        PERFORM 1 FROM groups_expertgroup WHERE id = NEW.group_id FOR NO KEY UPDATE;
        IF EXISTS (
            SELECT 1 FROM groups_mandate AS other
            WHERE other.group_id = NEW.group_id
              AND other.id IS DISTINCT FROM NEW.id
              AND other.start_date < NEW.end_date
              AND NEW.start_date < other.end_date
        ) THEN
            RAISE EXCEPTION 'mandate terms of a group must not overlap'
                USING ERRCODE = 'exclusion_violation',
                      DETAIL = 'group ' || NEW.group_id || ', ' || NEW.start_date || ' to '
                               || NEW.end_date;
        END IF;
        RETURN NEW;
    END;
    $$
    """,
    """
    CREATE TRIGGER groups_mandate_no_overlap
    BEFORE INSERT OR UPDATE OF group_id, start_date, end_date ON groups_mandate
    FOR EACH ROW EXECUTE FUNCTION groups_mandate_no_overlap()
    """,
]
POSTGRESQL_BACKWARD = [
    "DROP TRIGGER IF EXISTS groups_mandate_no_overlap ON groups_mandate",
    "DROP FUNCTION IF EXISTS groups_mandate_no_overlap()",
]


def _run(schema_editor, statements_by_vendor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in statements_by_vendor:
        raise NotImplementedError(f"no mandate overlap trigger for the {vendor} database")
    for statement in statements_by_vendor[vendor]:
        schema_editor.execute(statement, params=None)


def forward(apps, schema_editor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_FORWARD, "postgresql": POSTGRESQL_FORWARD})


def backward(apps, schema_editor) -> None:
    _run(schema_editor, {"sqlite": SQLITE_BACKWARD, "postgresql": POSTGRESQL_BACKWARD})


class Migration(migrations.Migration):
    dependencies = [
        ("groups", "0004_chat_message_document"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
