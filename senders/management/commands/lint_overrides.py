"""`manage.py lint_overrides [SLUG]`: the lint warnings of one sender's table, or of all."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from senders.engine import OverrideSyntaxError
from senders.engine.lint import lint_table
from senders.models import MailSender
from senders.tables import enabled_rules

WARNINGS_FOUND = 1
USAGE_ERROR = 2


class Command(BaseCommand):
    help = (
        "Print lint warnings (rules that can never match, duplicates, contradictory "
        "conditions, relay loops, ...) as 'SLUG: line N: message — fix', line N being the "
        "rule's position in the table. Exit status 0 when there are none, 1 when there "
        "are warnings, 2 for an unknown sender."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", nargs="?", metavar="SLUG", help="one sender (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        senders = MailSender.objects.order_by("slug")
        if options["slug"] is not None:
            senders = senders.filter(slug=options["slug"])
            if not senders:
                self.stderr.write(f'unknown sender "{options["slug"]}"')
                raise SystemExit(USAGE_ERROR)
        total = 0
        for sender in senders:
            try:
                warnings = lint_table(
                    enabled_rules(sender),
                    sender.local_domain_list,
                    postfix=sender.follows_postfix_agent,
                    word="rule",
                )
            except OverrideSyntaxError as error:
                self.stderr.write(f"{sender.slug}: the stored table cannot be read: {error}")
                raise SystemExit(USAGE_ERROR) from None
            for warning in warnings:
                self.stdout.write(f"{sender.slug}: {warning}")
            total += len(warnings)
        if total:
            self.stderr.write(f"{total} warning{'s' if total != 1 else ''}")
            raise SystemExit(WARNINGS_FOUND)
        self.stdout.write("No warnings.")
