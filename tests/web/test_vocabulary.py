"""One vocabulary for numbers: "rule N" is a position in a stored table (disabled
rules count), "line N" a line of a typed or uploaded text. Each place is pinned here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from senders.engine import Message, StaticResolver, evaluate, parse_table
from senders.engine.lint import lint_table
from senders.export import create_token
from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document
from tests.web.test_commands import run as run_command

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)

# Rule 2 is disabled and rule 1 has a comment: positions, export lines and document
# lines all differ. Rule 4 can never match: rule 3 takes every domain first.
DOCUMENT = """\
# the parent company
example.com smtp.myisp.com
#disabled: *.example.org never.example.net
* relay.example.net $end
last.example other.example.net
"""


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document(DOCUMENT), actor=ACTOR)
    sender.refresh_from_db()
    return sender


def test_table_page_lint_names_rules_by_position(viewer_client: Client, table: MailSender) -> None:
    body = viewer_client.get(reverse("senders:detail", args=[table.slug])).content.decode()
    assert (
        '<span class="badge warn">rule 4</span> can never match: rule 3 (* with $end and no '
        "conditions) comes first and takes every domain — <em>move rule 4 above rule 3, give "
        "rule 3 a condition, or delete rule 4</em>"
    ) in body
    assert "line 4" not in body


def test_bulk_editor_lint_names_lines_of_the_text(editor_client: Client, table: MailSender) -> None:
    text = "# a comment\n* relay.example.net $end\n\nlast.example other.example.net\n"
    response = editor_client.post(
        reverse("senders:bulk", args=[table.slug]), {"text": text, "revision": table.revision}
    )
    body = response.content.decode()
    assert (
        '<span class="badge warn">line 4</span> can never match: line 2 (* with $end and no '
        "conditions) comes first and takes every domain — <em>move line 4 above line 2, give "
        "line 2 a condition, or delete line 4</em>"
    ) in body
    assert "rule 4" not in body


def _test(client: Client, sender: MailSender, **fields: str) -> object:
    data = {"dns": "manual", "mx_records": "", "size": "2k", "retries": "0", **fields}
    response = client.get(reverse("senders:test", args=[sender.slug]), data)
    report = response.context["report"]
    assert report is not None, response.context["form"].errors
    [outcome] = report.outcomes
    return outcome


def test_saved_table_tester_says_rule_in_reason_and_trace(
    viewer_client: Client, table: MailSender
) -> None:
    outcome = _test(viewer_client, table, recipients="bob@example.com")
    assert outcome.reason == "rules 1 and 3 matched ($end on rule 3)"
    why = {row.number: row.why for row in outcome.rows}
    assert why[3] == 'domain "example.com" matches "*"; $end: later rules are not checked'
    assert why[4] == "not reached: rule 3 ended the walk ($end)"
    texts = [outcome.reason, *(row.why for row in outcome.rows)]
    assert not [text for text in texts if "line" in text]


def test_text_tester_says_line_in_reason_and_trace(
    viewer_client: Client, table: MailSender
) -> None:
    text = "# a comment\nexample.com smtp.myisp.com\n\n* relay.example.net $end\nx.org y.net\n"
    outcome = _test(viewer_client, table, recipients="bob@example.com", table="text", text=text)
    assert outcome.reason == "lines 2 and 4 matched ($end on line 4)"
    why = {row.number: row.why for row in outcome.rows}
    assert why[4] == 'domain "example.com" matches "*"; $end: later lines are not checked'
    assert why[5] == "not reached: line 4 ended the walk ($end)"
    assert outcome.saved.reason == "rules 1 and 3 matched ($end on rule 3)"


def test_export_json_gives_each_rule_its_position_counting_disabled_rules(
    client: Client, table: MailSender
) -> None:
    token = create_token(table)
    response = client.get("/export/main.json", headers={"Authorization": f"Bearer {token}"})
    rules = json.loads(response.content)["rules"]
    assert [(r["rule"], r["line"], r["position"]) for r in rules] == [
        (1, 1, 1),
        (3, 2, 3),
        (4, 3, 4),
    ]


def test_route_sender_says_rule(table: MailSender) -> None:
    status, out, _ = run_command("route", "--sender", "main", "--to", "bob@example.com")
    assert status == 0
    assert "reason: rules 1 and 3 matched ($end on rule 3)\n" in out
    assert "override (rule 3)" in out
    assert "\ntrace:\n  rule " in out
    assert "line" not in out


def test_route_table_file_says_line(tmp_path: Path, db: None) -> None:
    path = tmp_path / "table.txt"
    path.write_text("# a comment\nexample.com smtp.myisp.com\n\n* relay.example.net $end\n")
    status, out, _ = run_command("route", "--table", str(path), "--to", "bob@example.com")
    assert status == 0
    assert "reason: lines 2 and 4 matched ($end on line 4)\n" in out
    assert "override (line 4)" in out
    assert "\ntrace:\n  line " in out
    assert "rule" not in out.replace("$end", "")


def test_lint_overrides_says_rule(table: MailSender) -> None:
    status, out, _ = run_command("lint_overrides", "main")
    assert status == 1
    assert out.startswith("main: rule 4: can never match: rule 3 ")


def test_the_engine_words_no_match_by_the_callers_word() -> None:
    rules = parse_table("a.example x.example.net\n")
    message = Message("bob@b.example")
    resolver = StaticResolver(mx={"b.example": [(10, "mx.b.example")]})
    assert evaluate(rules, message, resolver).reason.startswith("no line matched: ")
    assert evaluate(rules, message, resolver, word="rule").reason.startswith("no rule matched: ")


def test_lint_table_words_credentials_by_the_callers_word() -> None:
    rules = parse_table("a.example joe:x@relay.example\nb.example joe:y@relay.example\n")
    [as_lines] = lint_table(rules)
    [as_rules] = lint_table(rules, word="rule")
    assert as_lines.message == "lines 1, 2 send to relay.example:25 as joe"
    assert as_rules.message == "rules 1, 2 send to relay.example:25 as joe"
    assert as_rules.fix == as_lines.fix.replace("lines", "rules")
    assert str(as_rules).startswith("rule 1: rules 1, 2 send to")


def test_impact_numbers_a_revisions_rules_by_position(table: MailSender) -> None:
    from senders.impact import revision_table

    # The revision's document has a comment line: its rules are still rules 1-4.
    numbers = [number for number, _, _ in revision_table(table, table.revision).rules]
    assert numbers == [1, 2, 3, 4]


def test_route_batch_against_a_revision_numbers_its_rules_by_position(table: MailSender) -> None:
    from senders.management.commands.route import Command

    rules = Command()._revision_rules("main", table.revision)
    assert [rule.line for rule in rules] == [1, 3, 4]
