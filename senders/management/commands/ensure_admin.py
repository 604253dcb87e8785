"""Create a first administrator with a random password when there is no user yet."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from senders.roles import ADMIN


class Command(BaseCommand):
    help = (
        "If no user exists, create the superuser 'admin' with a random password and "
        "print the password once. Does nothing when any user exists (a lost password: "
        "manage.py reset_admin_password)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args: Any, username: str, **options: Any) -> None:
        User = get_user_model()
        if User.objects.exists():
            self.stdout.write(
                "Users exist already; no administrator created. If the administrator's "
                "password is lost: manage.py reset_admin_password [USERNAME]"
            )
            return
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username=username, email="", password=password)
        user.groups.add(Group.objects.get_or_create(name=ADMIN)[0])
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\nCreated the first administrator.\n"
            f"  username: {username}\n  password: {password}\n"
            "This password is shown only once: write it down, then change it\n"
            f"under 'Change password' after logging in.\n{bar}"
        )
