"""`manage.py export_overrides SLUG`: the bytes delivery agents get from the export URL."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from senders.engine import OverrideSyntaxError
from senders.export import export_body
from senders.models import MailSender

USAGE_ERROR = 2


class Command(BaseCommand):
    help = (
        "Print a sender's export: its enabled rules in canonical form, exactly the bytes "
        "of /export/SLUG.txt (or, with --json, of /export/SLUG.json). It includes relay "
        "passwords."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", metavar="SLUG", help="the sender")
        parser.add_argument("--json", action="store_true", help="the JSON export instead")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        sender = MailSender.objects.filter(slug=slug).first()
        if sender is None:
            self.stderr.write(f'unknown sender "{slug}"')
            raise SystemExit(USAGE_ERROR)
        try:
            body = export_body(sender, "json" if options["json"] else "txt")
        except OverrideSyntaxError as error:
            self.stderr.write(f"the stored table of {slug} cannot be read: {error}")
            raise SystemExit(USAGE_ERROR) from None
        if not sender.enabled:
            self.stderr.write(f"note: {slug} is switched off; its export URL answers 403")
        self.stdout.flush()
        buffer = getattr(self.stdout, "buffer", None)
        if buffer is not None:  # a real stdout: the bytes as they are
            buffer.write(body)
            buffer.flush()
        else:
            self.stdout.write(body.decode("utf-8"), ending="")
