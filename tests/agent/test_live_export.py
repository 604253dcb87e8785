"""The agent against the real export (pytest-django's live server, a real export token)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.core.cache import cache

from senders.agent.lookup import lookup
from senders.agent.service import Agent, Config
from senders.engine import StaticResolver
from senders.export import create_token
from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor(source=Revision.Source.COMMAND)


def publish(sender: MailSender, document: str) -> None:
    replace_table(sender, parse_document(document), actor=ACTOR)
    sender.refresh_from_db()


@pytest.fixture
def agent(live_server: object, sender: MailSender, tmp_path: Path) -> Agent:
    cache.clear()
    publish(sender, "Example.COM  joe:pw@smtp.myisp.com:587\n#disabled: x.org a.net\n")
    token = create_token(sender)
    url = f"{live_server.url}/export/{sender.slug}.txt"  # type: ignore[attr-defined]
    return Agent(Config(url=url, token=token, state_dir=str(tmp_path)))


def answer(agent: Agent, key: str, map_name: str = "transport") -> str:
    return str(lookup(agent.table, map_name, key, StaticResolver()))


def test_it_follows_the_real_export_and_the_admin_sees_the_fetch(
    agent: Agent, sender: MailSender
) -> None:
    fetched = agent.poll_once()
    assert (fetched.outcome, fetched.revision) == ("new", 1)
    assert answer(agent, "bob@example.com") == "OK smtp:[smtp.myisp.com]:587"
    assert answer(agent, "[smtp.myisp.com]:587", "sasl") == "OK joe:pw"
    sender.refresh_from_db()
    assert sender.last_fetched_revision == 1
    assert sender.last_fetched_by == "127.0.0.1"


def test_an_unchanged_table_costs_a_304(agent: Agent) -> None:
    agent.poll_once()
    again = agent.poll_once()
    assert (again.outcome, again.text) == ("unchanged", "304 not modified")


def test_a_saved_rule_reaches_the_next_poll(agent: Agent, sender: MailSender) -> None:
    agent.poll_once()
    publish(sender, "example.com relay.example.net:2525\n")
    fetched = agent.poll_once()
    assert (fetched.outcome, fetched.revision) == ("new", 2)
    assert answer(agent, "bob@example.com") == "OK smtp:[relay.example.net]:2525"


def test_a_table_the_server_cannot_read_keeps_the_good_one(
    agent: Agent, sender: MailSender, caplog: pytest.LogCaptureFixture
) -> None:
    agent.poll_once()
    publish(sender, "example.com relay.example.net\n")
    Revision.objects.filter(sender=sender, number=2).update(document="example.com $nonsense\n")
    cache.clear()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="overrides_agent"):
        fetched = agent.poll_once()
    assert fetched.text == "HTTP 503: 503 Service Unavailable: the stored table cannot be read"
    assert answer(agent, "bob@example.com") == "OK smtp:[smtp.myisp.com]:587"
    assert [r.getMessage() for r in caplog.records if r.name == "overrides_agent"] == [
        "fetch failed: HTTP 503: 503 Service Unavailable: the stored table cannot be read; "
        "keeping revision 1"
    ]


def test_a_wrong_token_is_refused_and_nothing_is_served(
    live_server: object, sender: MailSender, tmp_path: Path
) -> None:
    create_token(sender)
    url = f"{live_server.url}/export/{sender.slug}.json"  # type: ignore[attr-defined]
    agent = Agent(Config(url=url, token="not-the-token", state_dir=str(tmp_path)))
    fetched = agent.poll_once()
    assert fetched.text.startswith("HTTP 401: 401 Unauthorized: this export needs")
    assert agent.table is None


def test_the_json_export_gives_the_same_answers_with_admin_positions(
    live_server: object, sender: MailSender, tmp_path: Path
) -> None:
    publish(sender, "#disabled: x.org a.net\n*.org relay.example.net $size>100\n")
    url = f"{live_server.url}/export/{sender.slug}.json"  # type: ignore[attr-defined]
    agent = Agent(Config(url=url, token=create_token(sender), state_dir=str(tmp_path)))
    assert agent.poll_once().outcome == "new"
    assert agent.table is not None
    assert [rule.line for rule in agent.table.unused] == [2]  # the admin's position
