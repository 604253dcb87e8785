"""`manage.py check_relays SLUG [--json]`: check every relay of a sender's table for real."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from senders.models import MailSender
from senders.relays import relays_for, run_checks


class Command(BaseCommand):
    help = (
        "Connect to every relay (host, port, user) of a sender's table as a mail server "
        "would — DNS, TCP, greeting, STARTTLS, certificate, AUTH — and report each step. "
        "Never sends a message. Exit status 1 when a relay failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the sender whose relays to check")
        parser.add_argument("--json", action="store_true", help="print the results as JSON")
        parser.add_argument(
            "--timeout",
            type=float,
            default=None,
            help=f"seconds per step (default {settings.RELAY_CHECK_TIMEOUT_SECONDS})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            sender = MailSender.objects.get(slug=options["slug"])
        except MailSender.DoesNotExist:
            raise CommandError(f'no sender "{options["slug"]}"') from None
        relays = relays_for(sender)
        results = run_checks(sender, relays, None, timeout=options["timeout"])
        if options["json"]:
            self.stdout.write(json.dumps([r.as_dict() for r in results], indent=2))
        elif not results:
            self.stdout.write(f"{sender.slug}: the table names no relay.")
        for result in results if not options["json"] else ():
            rules = ", ".join(f"rule {n}" for n in result.relay.rules)
            self.stdout.write(f"{result.relay.label} ({rules}): {result.verdict}")
            for step in result.steps:
                took = f" ({step.ms} ms)" if step.ms is not None else ""
                self.stdout.write(f"  {step.level:4} {step.name}: {step.detail}{took}")
        if any(result.level == "fail" for result in results):
            raise SystemExit(1)
