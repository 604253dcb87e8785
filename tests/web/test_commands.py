"""Operator commands: import_overrides, export_overrides, lint_overrides."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from senders.export import create_token
from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule, document_of, entries_of

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.EDITOR)
ROOT = Path(__file__).resolve().parents[2]

TABLE = """\
# The parent company
example.com   smtp.myisp.com
*  relay.myisp.com:587 $size>10000000 $END
#disabled: *.example.org relay.example.net
*  joe:let:me@in@smtp.corp.example $authsender=joe $end
"""


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


def run(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """call_command with captured output; returns (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        call_command(*args, stdout=out, stderr=err)
        status = 0
    except SystemExit as exit:
        status = int(exit.code or 0)
    finally:
        sys.stdin = old_stdin
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def table_file(tmp_path: Path) -> Path:
    path = tmp_path / "table.txt"
    path.write_text(TABLE)
    return path


# ---------------------------------------------------------------- import


def test_import_replaces_the_table_and_records_a_command_revision(
    sender: MailSender, table_file: Path
) -> None:
    add_rule(sender, "old.example relay.example.net", actor=ACTOR)
    status, out, err = run(
        "import_overrides", "main", str(table_file), "--replace", "--message", "from the old box"
    )
    assert (status, err) == (0, "")
    assert out == f"Replaced the table of main: 4 rules from {table_file}, now revision 2.\n"
    sender.refresh_from_db()
    assert document_of(sender) == (
        "# The parent company\n"
        "example.com smtp.myisp.com\n"
        "* relay.myisp.com:587 $size>10000000 $end\n"
        "#disabled: *.example.org relay.example.net\n"
        "* joe:let:me@in@smtp.corp.example $authsender=joe $end\n"
    )
    revision = Revision.objects.get(sender=sender, number=2)
    assert revision.source == Revision.Source.COMMAND
    assert revision.message == "from the old box"
    assert revision.author is None


def test_import_without_replace_adds_after_the_existing_rules(
    sender: MailSender, table_file: Path
) -> None:
    add_rule(sender, "old.example relay.example.net", actor=ACTOR)
    status, out, _ = run("import_overrides", "main", str(table_file))
    assert status == 0
    assert out.startswith("Added to the table of main: 4 rules")
    assert [e.text for e in entries_of(sender)][:2] == [
        "old.example relay.example.net",
        "example.com smtp.myisp.com",
    ]
    assert Revision.objects.get(sender=sender, number=2).message == f"import_overrides {table_file}"


def test_import_lists_every_error_with_its_line_and_changes_nothing(
    sender: MailSender, tmp_path: Path
) -> None:
    add_rule(sender, "old.example relay.example.net", actor=ACTOR)
    path = tmp_path / "bad.txt"
    path.write_text(
        "ok.example a.net\nexample.com smtp.example.com $sizee>5\n\n* x.net $end $end\n"
    )
    status, out, err = run("import_overrides", "main", str(path), "--replace")
    assert status == 2
    assert out == ""
    assert err == (
        'line 2, col 30: unknown attribute "$sizee" (did you mean $size?)\n'
        "line 4, col 14: repeated option $end\n"
        "2 errors: nothing was imported\n"
    )
    sender.refresh_from_db()
    assert sender.revision == 1
    assert document_of(sender) == "old.example relay.example.net\n"


def test_import_reads_standard_input(sender: MailSender) -> None:
    status, out, _ = run(
        "import_overrides", "main", "-", stdin=b"a.example x.net\r\nb.example y.net\r\n"
    )
    assert status == 0
    assert out == "Added to the table of main: 2 rules from standard input, now revision 1.\n"
    assert document_of(sender) == "a.example x.net\nb.example y.net\n"


def test_import_keeps_a_stored_password_behind_the_mask(sender: MailSender) -> None:
    add_rule(sender, "a.example joe:secret@smtp.example.net", actor=ACTOR)
    status, _, _ = run(
        "import_overrides",
        "main",
        "-",
        "--replace",
        stdin=b"b.example joe:********@smtp.example.net\n",
    )
    assert status == 0
    assert document_of(sender) == "b.example joe:secret@smtp.example.net\n"


def test_import_refuses_a_mask_without_a_stored_password(sender: MailSender) -> None:
    status, _, err = run(
        "import_overrides", "main", "-", stdin=b"b.example ann:********@smtp.example.net\n"
    )
    assert status == 2
    assert err == (
        "line 1, col 15: type the password for ann at smtp.example.net:25: "
        "******** only keeps a password that is already stored\n"
        "1 error: nothing was imported\n"
    )
    assert not Revision.objects.filter(sender=sender).exists()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("nosuch", "-"), b"", 'unknown sender "nosuch"\n'),
        (
            ("main", "/nonexistent/file.txt"),
            None,
            "cannot read /nonexistent/file.txt: No such file or directory\n",
        ),
        (
            ("main", "-"),
            b"a.example x.net\nb.example \xff.net\n",
            "line 2, col 11: standard input is not UTF-8 text (byte 0xff)\n",
        ),
        (("main", "-", "--user", "ghost"), b"a.example x.net\n", 'unknown user "ghost"\n'),
    ],
)
def test_import_explains_bad_input_with_exit_2(
    sender: MailSender, args: tuple[str, ...], stdin: bytes | None, message: str
) -> None:
    status, out, err = run("import_overrides", *args, stdin=stdin)
    assert (status, out, err) == (2, "", message)
    assert not Revision.objects.filter(sender=sender).exists()


def test_import_records_the_named_user(sender: MailSender, editor: Any) -> None:
    run("import_overrides", "main", "-", "--user", "eddie", stdin=b"a.example x.net\n")
    assert Revision.objects.get(sender=sender, number=1).author == editor


def test_importing_an_empty_file_without_replace_changes_nothing(sender: MailSender) -> None:
    status, out, _ = run("import_overrides", "main", "-", stdin=b"\n")
    assert status == 0
    assert out == "No rules in standard input: the table of main is unchanged.\n"
    assert not Revision.objects.filter(sender=sender).exists()


# ---------------------------------------------------------------- export


def test_export_prints_exactly_what_the_url_serves(
    sender: MailSender, table_file: Path, client: Client
) -> None:
    run("import_overrides", "main", str(table_file))
    sender.refresh_from_db()
    token = create_token(sender)
    url_body = client.get(f"/export/main.txt?token={token}").content
    status, out, _ = run("export_overrides", "main")
    assert status == 0
    assert out.encode() == url_body
    status, out, _ = run("export_overrides", "main", "--json")
    assert out.encode() == client.get(f"/export/main.json?token={token}").content


def test_export_import_export_gives_the_same_bytes(sender: MailSender, table_file: Path) -> None:
    run("import_overrides", "main", str(table_file))
    _, first, _ = run("export_overrides", "main")
    other = MailSender.objects.create(name="Copy", slug="copy")
    status, _, _ = run("import_overrides", "copy", "-", "--replace", stdin=first.encode())
    assert status == 0
    _, second, _ = run("export_overrides", "copy")
    assert second == first
    assert first == (
        "example.com smtp.myisp.com\n"
        "* relay.myisp.com:587 $size>10000000 $end\n"
        "* joe:let:me@in@smtp.corp.example $authsender=joe $end\n"
    )
    assert other.revisions.get().source == Revision.Source.COMMAND


def test_export_of_an_unknown_sender_exits_2(db: None) -> None:
    assert run("export_overrides", "nosuch") == (2, "", 'unknown sender "nosuch"\n')


def test_export_of_a_switched_off_sender_still_prints_with_a_note(sender: MailSender) -> None:
    add_rule(sender, "a.example x.net", actor=ACTOR)
    MailSender.objects.filter(pk=sender.pk).update(enabled=False)
    assert run("export_overrides", "main") == (
        0,
        "a.example x.net\n",
        "note: main is switched off; its export URL answers 403\n",
    )


# ---------------------------------------------------------------- lint


def test_lint_prints_warnings_and_exits_1(sender: MailSender) -> None:
    add_rule(sender, "* relay.example.net $end", actor=ACTOR)
    add_rule(sender, "example.com smtp.example.net", actor=ACTOR)
    MailSender.objects.create(name="Clean", slug="clean")
    status, out, err = run("lint_overrides")
    assert status == 1
    assert out == (
        "main: rule 2: can never match: rule 1 (* with $end and no conditions) comes first "
        "and takes every domain — move rule 2 above rule 1, give rule 1 a condition, or "
        "delete rule 2\n"
    )
    assert err == "1 warning\n"


def test_lint_uses_the_senders_local_domains(sender: MailSender) -> None:
    add_rule(sender, "* relay.example.net", actor=ACTOR)
    assert run("lint_overrides", "main")[0] == 0
    MailSender.objects.filter(pk=sender.pk).update(local_domains="mycompany.com\n")
    status, out, _ = run("lint_overrides", "main")
    assert status == 1
    assert "own domain mycompany.com" in out


def test_lint_of_a_clean_table_exits_0(sender: MailSender) -> None:
    add_rule(sender, "example.com smtp.example.net", actor=ACTOR)
    assert run("lint_overrides", "main") == (0, "No warnings.\n", "")


def test_lint_of_an_unknown_sender_exits_2(db: None) -> None:
    assert run("lint_overrides", "nosuch") == (2, "", 'unknown sender "nosuch"\n')


def test_lint_skips_disabled_rules(sender: MailSender) -> None:
    add_rule(sender, "* relay.example.net $end", actor=ACTOR)
    add_rule(sender, "example.com smtp.example.net", actor=ACTOR, enabled=False)
    assert run("lint_overrides", "main")[0] == 0


# ---------------------------------------------------------------- as real processes


def test_the_commands_as_processes_with_real_exit_codes(tmp_path: Path) -> None:
    # A database of its own: the test database may live in this process's memory.
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }

    def manage(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            input=stdin,
            capture_output=True,
            cwd=ROOT,
            env=env,
            timeout=120,
            check=False,
        )

    assert manage("migrate", "-v0").returncode == 0
    create = (
        "from senders.models import MailSender; MailSender.objects.create(name='M', slug='main')"
    )
    assert manage("shell", "-c", create).returncode == 0
    bad = manage("import_overrides", "main", "-", stdin=b"x.org y.net $bogus\n")
    assert bad.returncode == 2
    assert bad.stdout == b""
    assert bad.stderr.decode().splitlines()[-1] == "1 error: nothing was imported"
    assert bad.stderr.decode().startswith("line 1, col 13: ")
    good = manage("import_overrides", "main", "-", stdin=b"* a.net $end\nx.org b.net\n")
    assert good.returncode == 0, good.stderr
    exported = manage("export_overrides", "main")
    assert (exported.returncode, exported.stdout) == (0, b"* a.net $end\nx.org b.net\n")
    linted = manage("lint_overrides", "main")
    assert linted.returncode == 1
    assert linted.stdout.decode().startswith("main: rule 2: can never match")
    assert manage("lint_overrides", "nosuch").returncode == 2
