"""The way back in when the administrator's password is lost."""

from __future__ import annotations

import secrets
from typing import Any

from axes.utils import reset as reset_lockouts
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Give a user (by default the only superuser) a new random password and print it "
        "once. Lifts that user's log-in lockouts; the user's sessions end."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username", nargs="?", help="the user; default: the only superuser")

    def handle(self, *args: Any, username: str | None, **options: Any) -> None:
        User = get_user_model()
        if username is None:
            superusers = sorted(
                User.objects.filter(is_superuser=True).values_list("username", flat=True)
            )
            if not superusers:
                anyone = User.objects.order_by("pk").values_list("username", flat=True).first()
                raise CommandError(
                    "No superuser exists: name the user, e.g. manage.py reset_admin_password "
                    f"{anyone or 'admin'}."
                )
            if len(superusers) > 1:
                raise CommandError(f"Several superusers exist ({', '.join(superusers)}): name one.")
            username = superusers[0]
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        password = secrets.token_urlsafe(12)
        user.set_password(password)  # a new hash: the user's existing sessions end
        user.save(update_fields=["password"])
        reset_lockouts(username=username)
        role = "administrator" if user.is_superuser else "user"
        bar = "=" * 64
        self.stdout.write(
            f"{bar}\nNew password for the {role} {username!r}:\n  password: {password}\n"
            "This password is shown only once: write it down, then change it\n"
            f"under 'Change password' after logging in.\n{bar}"
        )
