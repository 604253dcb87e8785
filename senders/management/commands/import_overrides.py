"""`manage.py import_overrides SLUG FILE`: load a table document into a stored sender."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from senders.engine import OverrideSyntaxError
from senders.models import MailSender, Revision
from senders.tables import Actor, StaleTable, entries_of, replace_table
from senders.tabletext import Entry, known_passwords, parse_document, restore_passwords

# Exit status for bad input (syntax errors, unknown sender, unreadable file).
USAGE_ERROR = 2


class Command(BaseCommand):
    help = (
        "Import a table file (the bulk editor's format: rules, '# comment' lines, "
        "'#disabled: ' rules) into a sender's table, all or nothing. By default the "
        "file's rules are added after the existing ones; --replace replaces the table. "
        "Errors are listed as 'line N, col M: message' and exit with status 2; on "
        "success a revision is recorded."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", metavar="SLUG", help="the sender")
        parser.add_argument("file", metavar="FILE", help='table file ("-" for standard input)')
        parser.add_argument(
            "--replace", action="store_true", help="replace the whole table with the file"
        )
        parser.add_argument(
            "--message", default="", metavar="TEXT", help="why: kept with the revision"
        )
        parser.add_argument(
            "--user", default="", metavar="USERNAME", help="record the change as this user's"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug, path = options["slug"], options["file"]
        sender = MailSender.objects.filter(slug=slug).first()
        if sender is None:
            self._fail(f'unknown sender "{slug}"')
        entries = self._entries(sender, _decode(_read(path, self._fail), path, self._fail))
        if not entries and not options["replace"]:
            self.stdout.write(f"No rules in {_name(path)}: the table of {slug} is unchanged.")
            return
        existing = [] if options["replace"] else entries_of(sender)
        actor = Actor(
            user=self._user(options["user"]),
            source=Revision.Source.COMMAND,
            message=options["message"] or f"import_overrides {_name(path)}",
        )
        try:
            change = replace_table(
                sender, [*existing, *entries], actor=actor, expected_revision=sender.revision
            )
        except StaleTable:
            self._fail(f"the table of {slug} changed while importing; nothing was imported")
        verb = "Replaced the table of" if options["replace"] else "Added to the table of"
        self.stdout.write(
            f"{verb} {slug}: {len(entries)} rule{'s' if len(entries) != 1 else ''} from "
            f"{_name(path)}, now revision {change.revision.number}."
        )

    def _entries(self, sender: MailSender, text: str) -> list[Entry]:
        try:
            entries = parse_document(text)
            stored = known_passwords(sender.rules.values_list("text", flat=True))
            return restore_passwords(entries, stored)
        except OverrideSyntaxError as error:
            for each in error.errors:
                self.stderr.write(str(each))
            count = len(error.errors)
            self._fail(f"{count} error{'s' if count != 1 else ''}: nothing was imported")

    def _user(self, username: str) -> Any:
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            self._fail(f'unknown user "{username}"')
        return user

    def _fail(self, message: str) -> NoReturn:
        self.stderr.write(message)
        raise SystemExit(USAGE_ERROR)


def _name(path: str) -> str:
    return "standard input" if path == "-" else path


def _read(path: str, fail: Any) -> bytes:
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
        raise


def _decode(data: bytes, path: str, fail: Any) -> str:
    data = data.removeprefix(b"\xef\xbb\xbf")  # a byte order mark left by a Windows editor
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = len(data[data.rfind(b"\n", 0, error.start) + 1 : error.start].decode()) + 1
        fail(
            f"line {line}, col {column}: {_name(path)} is not UTF-8 text "
            f"(byte 0x{data[error.start]:02x})"
        )
        raise
