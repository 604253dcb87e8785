"""`manage.py route`: where would mail to this recipient go, and why."""

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
    evaluate,
    format_result,
    parse_nameserver,
    parse_table,
)

# Exit status for a table with syntax errors or bad arguments, as argparse uses.
USAGE_ERROR = 2


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
        "which lines matched and why. Exit status 0 for every routing result, 2 for a "
        "table with syntax errors or bad arguments."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--to", required=True, metavar="ADDRESS", help="recipient address, or a bare domain"
        )
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--table", metavar="FILE", help='table file ("-" for standard input)')
        source.add_argument("--sender", metavar="SLUG", help="the table of a stored mail sender")
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
        result = evaluate(rules, message, resolver)
        if options["json"]:
            data = result.as_dict(show_secrets=options["show_secrets"])
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.stdout.write(
                format_result(result, show_secrets=options["show_secrets"]), ending=""
            )

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

    def _read(self, path: str) -> str:
        try:
            if path == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(path, "rb") as file:
                    data = file.read()
        except OSError as error:
            self._fail(f"cannot read {path}: {error.strerror or error}")
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
