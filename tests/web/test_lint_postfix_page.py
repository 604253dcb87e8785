"""The admin shows what the Postfix agent cannot honour, beside the rule, on the table page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from senders.engine.lint import POSTFIX_CONDITION, POSTFIX_LOGIN
from senders.lint import lint_entries, lint_sender
from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _postfix_agent(settings: Any) -> None:
    settings.POSTFIX_AGENT = True  # POSTFIX_AGENT=1: this admin's senders deliver through it


ACTOR = Actor(source=Revision.Source.COMMAND)


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    add_rule(sender, "* relay.myisp.com:587 $size>10000000 $end", actor=ACTOR)
    add_rule(sender, "a.example ann:pw-alpha@smtp.x.com:587", actor=ACTOR)
    add_rule(sender, "b.example bob:pw-beta@smtp.x.com:587", actor=ACTOR)
    sender.refresh_from_db()
    return sender


def test_the_stored_table_gets_the_postfix_warnings(table: MailSender) -> None:
    codes = [(w.line, w.code) for w in lint_sender(table)]
    assert (1, POSTFIX_CONDITION) in codes
    assert (2, POSTFIX_LOGIN) in codes


def test_the_bulk_editor_gets_them_too() -> None:
    entries = parse_document("# big mail\n* relay.myisp.com $from~=*@corp.example\n")
    assert [(w.line, w.code) for w in lint_entries(entries)] == [(2, POSTFIX_CONDITION)]


def test_the_table_page_shows_them_without_passwords(
    viewer_client: Client, table: MailSender
) -> None:
    body = viewer_client.get(reverse("senders:detail", args=[table.slug])).content.decode()
    assert (
        "Postfix cannot check $size&gt;10000000 (its transport lookup gives only the "
        "recipient): the Postfix agent routes as if rule 1 were not in the table"
    ) in body
    assert (
        "rules 2 and 3 use different users for smtp.x.com:587 (ann, bob); Postfix can use "
        "only one: the agent gives it the one of rule 2 (ann)"
    ) in body
    assert "pw-alpha" not in body and "pw-beta" not in body


def test_without_postfix_agent_there_are_no_postfix_warnings(
    table: MailSender, settings: Any
) -> None:
    settings.POSTFIX_AGENT = False
    codes = {w.code for w in lint_sender(table)}
    assert POSTFIX_CONDITION not in codes and POSTFIX_LOGIN not in codes


def _fetch(client: Client, sender: MailSender, user_agent: str) -> None:
    from senders.export import create_token

    token = create_token(sender)
    response = client.get(
        f"/export/{sender.slug}.txt",
        headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
    )
    assert response.status_code == 200


def test_once_the_agent_fetched_the_export_its_warnings_show_without_the_setting(
    table: MailSender, settings: Any, viewer_client: Client
) -> None:
    """No setting to forget: the agent's User-Agent on the export says who delivers."""
    settings.POSTFIX_AGENT = False
    _fetch(Client(), table, "overrides-agent/0.1.0 (+https://example.org)")
    table = MailSender.objects.get(pk=table.pk)
    assert table.follows_postfix_agent
    codes = {w.code for w in lint_sender(table)}
    assert POSTFIX_CONDITION in codes and POSTFIX_LOGIN in codes
    body = viewer_client.get(reverse("senders:detail", args=[table.slug])).content.decode()
    assert "Postfix cannot check $size&gt;10000000" in body


def test_a_fetch_by_another_client_does_not_bring_them(table: MailSender, settings: Any) -> None:
    settings.POSTFIX_AGENT = False
    _fetch(Client(), table, "curl/8.0")
    table = MailSender.objects.get(pk=table.pk)
    assert not table.follows_postfix_agent
    assert POSTFIX_CONDITION not in {w.code for w in lint_sender(table)}
