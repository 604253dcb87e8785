"""`manage.py route`, end to end in a subprocess (and --sender through call_command)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.engine.dnsserver import DnsTestServer

ROOT = Path(__file__).resolve().parents[2]

TABLE = """\
# the worked example of the spec
example.com      smtp.myisp.com
*                relay.myisp.com:587 $size>10000000 $end
*                joe:let:me@in@smtp.corp.example $authsender=joe $end
*                backup.example.net $retries>=3 $priority:20 $adddns
"""


def route(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "route", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def table_file(tmp_path: Path) -> str:
    path = tmp_path / "table.txt"
    path.write_text(TABLE, encoding="utf-8")
    return str(path)


def test_it_prints_a_readable_report(table_file: str) -> None:
    done = route("--to", "bob@example.com", "--size", "20000000", "--table", table_file)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (
        "status: override\n"
        "reason: lines 2 and 3 matched ($end on line 3)\n"
        "domain: example.com\n"
        "\n"
        "hops:\n"
        "  pref  host             port  source             credentials\n"
        "  10    smtp.myisp.com   25    override (line 2)  -\n"
        "  10    relay.myisp.com  587   override (line 3)  -\n"
        "\n"
        "trace:\n"
        "  line  result        why\n"
        '  2     matched       domain "example.com" matches "example.com"\n'
        '  3     matched, end  domain "example.com" matches "*"; $size>10000000 holds '
        "(size is 20000000); $end: later lines are not checked\n"
    )


def test_it_prints_json_and_hides_passwords(table_file: str) -> None:
    done = route("--to", "a@x.org", "--auth-sender", "JOE", "--table", table_file, "--json")
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {
        "status": "override",
        "reason": "line 4 matched ($end)",
        "domain": "x.org",
        "hops": [
            {
                "host": "smtp.corp.example",
                "port": 25,
                "preference": 10,
                "source": "override",
                "line": 4,
                "username": "joe",
                "password_set": True,
            }
        ],
        "trace": [
            {
                "line": 2,
                "matched": False,
                "why": 'domain "x.org" does not match "example.com"',
                "end": False,
            },
            {"line": 3, "matched": False, "why": "$size>10000000 failed (size is 0)", "end": False},
            {
                "line": 4,
                "matched": True,
                "why": 'domain "x.org" matches "*"; $authsender=joe holds (auth sender is "JOE"); '
                "$end: later lines are not checked",
                "end": True,
            },
        ],
    }
    assert "let:me@in" not in done.stdout


def test_show_secrets_adds_the_password(table_file: str) -> None:
    args = ["--to", "a@x.org", "--auth-sender", "joe", "--table", table_file]
    data = json.loads(route(*args, "--json", "--show-secrets").stdout)
    assert data["hops"][0]["password"] == "let:me@in"
    text = route(*args, "--show-secrets").stdout
    assert "joe:let:me@in" in text
    assert "joe:********" in route(*args).stdout


def test_it_reads_the_table_from_standard_input() -> None:
    done = route("--to", "example.com", "--table", "-", "--json", stdin=TABLE)
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert (data["status"], data["domain"], data["hops"][0]["host"]) == (
        "override",
        "example.com",
        "smtp.myisp.com",
    )


def test_it_uses_the_given_name_server_for_dns_results(dns_server: DnsTestServer) -> None:
    args = ["--table", "-", "--nameserver", dns_server.address, "--timeout", "0.5", "--json"]
    done = route("--to", "a@mx.test", *args, stdin="")
    assert done.returncode == 0
    data = json.loads(done.stdout)
    assert (data["status"], [hop["host"] for hop in data["hops"]]) == (
        "dns",
        ["mx1.mx.test", "mx2.mx.test"],
    )
    assert data["hops"][0] == {
        "host": "mx1.mx.test",
        "port": 25,
        "preference": 10,
        "source": "dns",
        "line": None,
        "username": None,
        "password_set": False,
    }
    # Every evaluation result exits 0, defer and undeliverable included.
    for recipient, table, status in [
        ("a@silent.test", "* relay.example $dnsmx:!*\n", "defer"),
        ("nullmx.test", "", "undeliverable"),
    ]:
        done = route("--to", recipient, *args, stdin=table)
        assert (done.returncode, json.loads(done.stdout)["status"]) == (0, status)


def test_syntax_errors_exit_2_with_every_error_on_stderr() -> None:
    done = route("--to", "x.org", "--table", "-", stdin="x s $sizee>1\n\nbad$ s\n")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        'line 1, col 5: unknown attribute "$sizee" (did you mean $size?)\n'
        'line 3, col 4: invalid character "$" in domain pattern\n'
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--to", "a@b..c", "--table", "-"],
            '--to: invalid domain "b..c": empty label in domain\n',
        ),
        (
            ["--to", "x.org", "--table", "/nonexistent/t"],
            "cannot read /nonexistent/t: No such file or directory\n",
        ),
    ],
)
def test_bad_arguments_exit_2(args: list[str], message: str) -> None:
    done = route(*args, stdin="")
    assert (done.returncode, done.stderr) == (2, message)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--to", "x.org", "--table", "-", "--size", "-1"],
            'argument --size: expected a whole number of 0 or more, not "-1"',
        ),
        (
            ["--to", "x.org", "--table", "-", "--retries", "x"],
            'argument --retries: expected a whole number of 0 or more, not "x"',
        ),
        (
            ["--to", "x.org", "--table", "-", "--timeout", "0"],
            'argument --timeout: expected a number of seconds (0-600), not "0"',
        ),
        (
            ["--to", "x.org", "--table", "-", "--nameserver", "dns.example"],
            'argument --nameserver: invalid name server "dns.example" '
            "(expected IP, IP:PORT or [IPv6]:PORT)",
        ),
        (["--table", "-"], "the following arguments are required: --to"),
        (["--to", "x.org"], "one of the arguments --table --sender is required"),
        (
            ["--to", "x.org", "--table", "-", "--sender", "s"],
            "argument --sender: not allowed with argument --table",
        ),
    ],
)
def test_argparse_errors_exit_2(args: list[str], message: str) -> None:
    done = route(*args, stdin="")
    assert done.returncode == 2
    assert done.stderr.endswith(f"manage.py route: error: {message}\n")


def test_a_table_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"example.com smtp.example\nb\xfccher.example smtp.example\n")
    done = route("--to", "x.org", "--table", str(path))
    assert (done.returncode, done.stderr) == (2, f"line 2: {path} is not UTF-8 text\n")


@pytest.mark.django_db
def test_an_unknown_sender_exits_2() -> None:
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as info:
        call_command("route", "--to", "x.org", "--sender", "nope", stderr=stderr)
    assert info.value.code == 2
    assert stderr.getvalue() == 'unknown sender "nope"\n'


@pytest.mark.django_db
def test_a_stored_senders_table_is_routed(monkeypatch: Any) -> None:
    from senders.engine import parse_table

    calls: list[str] = []

    def load_rules(slug: str) -> Any:
        calls.append(slug)
        return parse_table(TABLE)

    monkeypatch.setattr("senders.tables.load_rules", load_rules)
    stdout = io.StringIO()
    call_command("route", "--to", "example.com", "--sender", "main", "--json", stdout=stdout)
    assert calls == ["main"]
    data = json.loads(stdout.getvalue())
    # A stored table's numbers are rule positions, and the JSON says so.
    assert data["hops"][0]["rule"] == 2
    assert [step["rule"] for step in data["trace"]] == [2, 3, 4, 5]
    assert "line" not in json.dumps(data)
