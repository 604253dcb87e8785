"""`manage.py route --batch`: which recipients a change would route elsewhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "s3cret-pass"
REV1 = "example.com relay.example:587 $end\n* catchall.example\n"
REV2 = f"example.com joe:{SECRET}@relay2.example:587 $end\n* catchall.example\n"


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document(REV1), actor=ACTOR)
    return replace_table(sender, parse_document(REV2), actor=ACTOR).sender


@pytest.fixture
def batch(tmp_path: Path) -> str:
    path = tmp_path / "recipients.csv"
    path.write_text("recipient,size\nbob@example.com,10\nann@example.com,\ncid@x.example,\n")
    return str(path)


def route(*args: str) -> str:
    stdout = io.StringIO()
    call_command("route", *args, stdout=stdout)
    return stdout.getvalue()


def test_it_prints_the_groups_against_a_revision(table: MailSender, batch: str) -> None:
    assert route("--batch", batch, "--sender", "main", "--against", "1") == (
        "recipients: 3\nchanged: 2\nunchanged: 1\n\n"
        "2: override: joe:********@relay2.example:587 → override: relay.example:587\n"
        "  bob@example.com\n  ann@example.com\n"
    )


def test_it_prints_a_stable_json_structure_against_a_table_file(
    table: MailSender, batch: str, tmp_path: Path
) -> None:
    new = tmp_path / "new.txt"
    new.write_text("* catchall.example\n")
    data = json.loads(route("--batch", batch, "--sender", "main", "--table", str(new), "--json"))
    assert data == {
        "recipients": 3,
        "changed": 2,
        "unchanged": 1,
        "groups": [
            {
                "old_route": "override: joe:********@relay2.example:587",
                "new_route": "override: catchall.example:25",
                "count": 2,
                "examples": ["bob@example.com", "ann@example.com"],
            }
        ],
    }
    assert SECRET not in json.dumps(data)


def test_a_bad_list_exits_2_naming_the_line(table: MailSender, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("recipient,size\nbob@example.com,big\n")
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as info:
        call_command(
            "route", "--batch", str(path), "--sender", "main", "--against", "1", stderr=stderr
        )
    assert info.value.code == 2
    assert (
        stderr.getvalue() == 'line 2, column 2 (size): "big" is not a whole number of 0 or more.\n'
    )


def test_a_missing_revision_exits_2(table: MailSender, batch: str) -> None:
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("route", "--batch", batch, "--sender", "main", "--against", "9", stderr=stderr)
    assert info.value.code == 2
    assert stderr.getvalue() == 'sender "main" has no revision 9\n'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sender", "main"], "argument --batch: needs one of --against REVISION or --table FILE"),
        (["--against", "1"], "argument --batch: needs --sender SLUG (the old side)"),
        (
            ["--sender", "main", "--against", "1", "--to", "x.org"],
            "argument --to: not allowed with argument --batch",
        ),
    ],
)
def test_wrong_combinations_are_refused(
    table: MailSender, batch: str, args: list[str], message: str
) -> None:
    with pytest.raises(CommandError) as info:
        call_command("route", "--batch", batch, *args)
    assert str(info.value) == f"Error: {message}"
