"""`manage.py route`: where would mail to this recipient go, and why.

With `--batch`: which recipients of a list a change of the table routes elsewhere.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn

from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError

from senders.engine import (
    DnsResolver,
    Message,
    OverrideSyntaxError,
    Rule,
    compile_table,
    evaluate,
    format_result,
    parse_nameserver,
    parse_table,
)
from senders.engine.batch import (
    BatchError,
    compare_tables,
    decode_upload,
    format_impact,
    read_recipients,
)

# Exit status for a table with syntax errors or bad arguments, as argparse uses.
USAGE_ERROR = 2
# With --batch, all DNS lookups together stop after this long (the rest defer).
BATCH_DNS_SECONDS = 60.0


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f'expected a whole number of 0 or more, not "{text}"')
    return int(text)


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds <= 600:
        raise argparse.ArgumentTypeError(f'expected a number of seconds (0-600), not "{text}"')
    return seconds


def _nameserver(text: str) -> str:
    try:
        parse_nameserver(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


class Command(BaseCommand):
    help = (
        "Show the next hops for one recipient through an override table, and the trace: "
        "which rules (--sender: numbered by position) or lines (--table) matched and why. "
        "With --batch FILE --sender SLUG (--against REVISION | "
        "--table FILE): which recipients of the list would change route. Exit status 0 for "
        "every routing result, 2 for a table or list with errors or bad arguments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        self._parser = parser
        # Which of --to/--batch, --table/--sender/--against go together is checked in
        # handle(): with --batch, --sender and --table are the two sides of a comparison.
        parser.add_argument("--to", metavar="ADDRESS", help="recipient address, or a bare domain")
        parser.add_argument("--table", metavar="FILE", help='table file ("-" for standard input)')
        parser.add_argument("--sender", metavar="SLUG", help="the table of a stored mail sender")
        parser.add_argument(
            "--batch",
            metavar="FILE",
            help="a list of recipients (plain lines, CSV with a header, or a Postfix log; "
            '"-" for standard input): show which would change route from the saved table '
            "of --sender to --against REVISION or --table FILE",
        )
        parser.add_argument(
            "--against",
            type=_count,
            metavar="REVISION",
            help="with --batch: the revision of the sender's table to compare with",
        )
        parser.add_argument(
            "--from",
            dest="envelope_sender",
            default="",
            metavar="ADDRESS",
            help="envelope sender (default: the null sender)",
        )
        parser.add_argument("--auth-sender", default="", metavar="USER")
        parser.add_argument("--size", type=_count, default=0, metavar="BYTES")
        parser.add_argument("--retries", type=_count, default=0, metavar="N")
        parser.add_argument(
            "--nameserver",
            type=_nameserver,
            action="append",
            default=[],
            metavar="IP[:PORT]",
            help="DNS server to ask (repeatable)",
        )
        parser.add_argument(
            "--timeout",
            type=_seconds,
            default=5.0,
            metavar="SECONDS",
            help="DNS timeout (default 5)",
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--show-secrets", action="store_true", help="include relay passwords in the output"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["batch"] is not None:
            self._batch(options)
            return
        if options["to"] is None:
            self._parser.error("the following arguments are required: --to")
        if options["against"] is not None:
            self._parser.error("argument --against: only with --batch")
        if options["table"] is None and options["sender"] is None:
            self._parser.error("one of the arguments --table --sender is required")
        if options["table"] is not None and options["sender"] is not None:
            self._parser.error("argument --sender: not allowed with argument --table")
        try:
            message = Message(
                options["to"],
                sender=options["envelope_sender"],
                auth_sender=options["auth_sender"],
                size=options["size"],
                retries=options["retries"],
            )
        except ValueError as error:
            self._fail(f"--to: {error}")
        rules = self._rules(options["table"], options["sender"])
        resolver = DnsResolver(options["nameserver"], timeout=options["timeout"])
        # A stored table's rules are numbered by position, a table file's by line.
        word = "rule" if options["sender"] is not None else "line"
        result = evaluate(rules, message, resolver, word=word)
        if options["json"]:
            data = result.as_dict(show_secrets=options["show_secrets"], word=word)
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(
                format_result(result, show_secrets=options["show_secrets"], word=word), ending=""
            )

    def _batch(self, options: dict[str, Any]) -> None:
        """`--batch FILE --sender SLUG (--against REVISION | --table FILE)`: the impact."""
        if options["to"] is not None:
            self._parser.error("argument --to: not allowed with argument --batch")
        if options["sender"] is None:
            self._parser.error("argument --batch: needs --sender SLUG (the old side)")
        if (options["against"] is None) == (options["table"] is None):
            self._parser.error("argument --batch: needs one of --against REVISION or --table FILE")
        try:
            listed = read_recipients(decode_upload(self._read_bytes(options["batch"])))
        except BatchError as error:
            for each in error.errors:
                self.stderr.write(each)
            raise SystemExit(USAGE_ERROR) from None
        old = self._rules(None, options["sender"])
        if options["against"] is not None:
            new = self._revision_rules(options["sender"], options["against"])
        else:
            new = self._rules(options["table"], None)
        resolver = DnsResolver(options["nameserver"], timeout=options["timeout"])
        impact = compare_tables(
            compile_table(old),
            compile_table(new),
            listed.recipients,
            resolver,
            dns_seconds=BATCH_DNS_SECONDS,
            new_word="rule" if options["against"] is not None else "line",
        )
        if options["json"]:
            self.stdout.write(json.dumps(impact.as_dict(), indent=2, ensure_ascii=False))
        else:
            self.stdout.write(format_impact(impact), ending="")

    def _revision_rules(self, slug: str, number: int) -> list[Rule]:
        from senders.history import document_at  # needs the database
        from senders.models import MailSender, Revision
        from senders.tabletext import parse_document, rule_at

        try:
            sender = MailSender.objects.get(slug=slug)
            entries = parse_document(document_at(sender, number))
        except MailSender.DoesNotExist:
            self._fail(f'unknown sender "{slug}"')
        except Revision.DoesNotExist:
            self._fail(f'sender "{slug}" has no revision {number}')
        except OverrideSyntaxError as error:
            self._fail(f"revision {number} can no longer be read: {error}")
        except DatabaseError as error:
            self._fail(f"cannot read the stored tables ({error}); has `manage.py migrate` run?")
        # Numbered by position, as the stored table numbers its rules.
        return [
            rule_at(entry.text, position)
            for position, entry in enumerate(entries, start=1)
            if entry.enabled
        ]

    def _rules(self, table: str | None, sender: str | None) -> list[Rule]:
        try:
            if sender is not None:
                return self._stored_rules(sender)
            assert table is not None
            return parse_table(self._read(table))
        except OverrideSyntaxError as error:
            for each in error.errors:
                self.stderr.write(str(each))
            raise SystemExit(USAGE_ERROR) from None

    def _stored_rules(self, slug: str) -> list[Rule]:
        from senders.tables import load_rules  # needs the database: only for --sender

        try:
            return load_rules(slug)
        except (ObjectDoesNotExist, LookupError):
            self._fail(f'unknown sender "{slug}"')
        except DatabaseError as error:
            self._fail(f"cannot read the stored tables ({error}); has `manage.py migrate` run?")

    def _read_bytes(self, path: str) -> bytes:
        try:
            if path == "-":
                return sys.stdin.buffer.read()
            with open(path, "rb") as file:
                return file.read()
        except OSError as error:
            self._fail(f"cannot read {path}: {error.strerror or error}")

    def _read(self, path: str) -> str:
        data = self._read_bytes(path)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            line = data[: error.start].count(b"\n") + 1
            self._fail(
                f"line {line}: {'standard input' if path == '-' else path} is not UTF-8 text"
            )

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(message)
        raise SystemExit(USAGE_ERROR)
