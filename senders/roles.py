"""The three roles, as Django groups: viewer, editor, admin.

- viewer: read senders and tables, history, run "test a message";
- editor: viewer + change rules (add, edit, move, enable/disable, delete, bulk, import);
- admin: editor + senders themselves, export tokens and user accounts.

The groups are (re)created after every migrate, so a fresh database has them.
"""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
EDITOR = "editor"
ADMIN = "admin"

_VIEW = [
    "senders.view_mailsender",
    "senders.view_overriderule",
    "senders.view_revision",
]
_EDIT = [
    "senders.add_overriderule",
    "senders.change_overriderule",
    "senders.delete_overriderule",
]
_ADMIN = [
    "senders.add_mailsender",
    "senders.change_mailsender",
    "senders.delete_mailsender",
    "senders.manage_export_token",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.delete_user",
    "auth.view_group",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: _VIEW,
    EDITOR: _VIEW + _EDIT,
    ADMIN: _VIEW + _EDIT + _ADMIN,
}


def ensure_roles(**kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        wanted = []
        for perm in perms:
            app_label, codename = perm.split(".")
            wanted.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)
