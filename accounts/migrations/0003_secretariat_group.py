"""Create the Secretariat Django group with what the secretariat needs in the admin.

Secretariat functions in the portal itself are decided by ``accounts.rules`` (group
membership and an enrolled TOTP authenticator); these Django permissions only say
which admin pages the secretariat sees and may change. Most admin pages are
read-mostly by design (changes go through the portal's services). Deliberately not
granted: adding or deleting users (sign-up and account deletion have their own flows),
anything on Django groups and permissions, e-mail addresses beyond viewing, and MFA
authenticators. Who is secretariat is decided by a superuser or by the
``grant_secretariat`` command.

The permission rows are created here (Django otherwise creates them only after the
last migration), so the group is complete on a fresh database.
"""

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations

#: app label -> model -> actions granted.
SECRETARIAT_PERMISSIONS = {
    "accounts": {
        "user": ["view", "change"],
        "expertisearea": ["view", "add", "change", "delete"],
    },
    "account": {"emailaddress": ["view"]},
    "meetings": {
        "meeting": ["view", "change"],
        "invitee": ["view"],
        "datepoll": ["view", "change"],
        "pollslot": ["view"],
        "calendarfeed": ["view"],
    },
    "documents": {
        "document": ["view", "change"],
        "version": ["view"],
        "folder": ["view", "add", "change"],
        "keyword": ["view", "add", "change", "delete"],
        "restricteddownload": ["view"],
    },
}


def secretariat_group_create(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    db = schema_editor.connection.alias
    for label in SECRETARIAT_PERMISSIONS:
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=db, apps=apps)
    wanted = []
    for label, models in SECRETARIAT_PERMISSIONS.items():
        for model, actions in models.items():
            for action in actions:
                wanted.append(
                    Permission.objects.using(db).get(
                        content_type__app_label=label, codename=f"{action}_{model}"
                    )
                )
    group, _created = Group.objects.using(db).get_or_create(name=settings.SECRETARIAT_GROUP)
    # Exactly these: earlier demo data granted every permission of the portal's apps.
    group.permissions.set(wanted)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_personal_data"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("account", "0009_emailaddress_unique_primary_email"),
        ("meetings", "0001_initial"),
        ("documents", "0001_initial"),
    ]

    # Going back keeps the group and its members: nobody loses access by accident.
    operations = [migrations.RunPython(secretariat_group_create, migrations.RunPython.noop)]
