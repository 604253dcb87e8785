"""Test a message: "as the Postfix agent will route it", where that differs."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postfix_agent(settings: Any) -> None:
    settings.POSTFIX_AGENT = True


ACTOR = Actor(source=Revision.Source.COMMAND)
TABLE = """\
example.com smtp.myisp.com
* relay.myisp.com:587 $size>10000000 $end
* joe:let:me@in@smtp.corp.example $authsender=joe $end
last.example relay.example.net
"""
MX = "x.org 10 mx1.x.org\n"


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document(TABLE), actor=ACTOR)
    sender.refresh_from_db()
    return sender


def run(client: Client, sender: MailSender, **fields: Any) -> Any:
    data = {"dns": "manual", "mx_records": MX, "size": "2k", "retries": "0", **fields}
    return client.get(reverse("senders:test", args=[sender.slug]), data)


def outcome_of(response: Any) -> Any:
    (outcome,) = response.context["report"].outcomes
    return outcome


def test_a_size_rule_postfix_cannot_check_is_shown_beside_the_full_route(
    viewer_client: Client, table: MailSender
) -> None:
    response = run(viewer_client, table, recipients="a@x.org", size="20M")
    outcome = outcome_of(response)
    assert outcome.status == "override"
    assert outcome.postfix.answer == "NOTFOUND"
    assert outcome.postfix.left_out == [2, 3]
    assert outcome.postfix.reason == (
        "no rule the agent uses matched: Postfix delivers to the MX hosts of x.org"
    )
    body = response.content.decode()
    assert "As the Postfix agent will route it" in body
    assert (
        "Postfix's transport lookup gets <code>NOTFOUND</code>; it cannot check conditions "
        "on the sender, the size or the retries, so the agent leaves out rules 2, 3."
    ) in body


def test_the_postfix_route_with_its_hops_and_no_password(
    viewer_client: Client, table: MailSender
) -> None:
    response = run(viewer_client, table, recipients="a@last.example", auth_sender="joe")
    outcome = outcome_of(response)
    assert [(h.host, h.port) for h in outcome.hops] == [("smtp.corp.example", 25)]
    assert outcome.postfix.answer == "OK smtp:[relay.example.net]:25"
    assert [(h.host, h.port, h.line) for h in outcome.postfix.hops] == [
        ("relay.example.net", 25, 4)
    ]
    assert "let:me" not in response.content.decode()


def test_nothing_more_is_shown_when_postfix_routes_the_same(
    viewer_client: Client, table: MailSender
) -> None:
    response = run(viewer_client, table, recipients="a@example.com")
    assert outcome_of(response).postfix is None
    assert "As the Postfix agent will route it" not in response.content.decode()


def test_a_table_postfix_honours_fully_never_shows_it(
    viewer_client: Client, sender: MailSender
) -> None:
    replace_table(sender, parse_document("example.com smtp.myisp.com\n"), actor=ACTOR)
    sender.refresh_from_db()
    assert outcome_of(run(viewer_client, sender, recipients="a@example.com")).postfix is None


def test_without_postfix_agent_the_postfix_route_is_not_shown(
    viewer_client: Client, table: MailSender, settings: Any
) -> None:
    settings.POSTFIX_AGENT = False
    response = run(viewer_client, table, recipients="a@x.org", size="20M")
    assert outcome_of(response).postfix is None
    assert "As the Postfix agent will route it" not in response.content.decode()
