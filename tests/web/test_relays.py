"""The relays page and `check_relays`: real checks of the table's relays, within limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from senders.models import MailSender, RelayCheck
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document
from tests.relays.smtpservers import PASSWORD, USER, smtp_server

pytestmark = pytest.mark.django_db

URL = "/senders/main/relays/"
KEY = "joe@127.0.0.1:{port}"


@pytest.fixture
def relay_port() -> Iterator[int]:
    with smtp_server(auth=True) as (port, _):
        yield port


@pytest.fixture
def relayed(sender: MailSender, relay_port: int) -> MailSender:
    document = (
        f"a.example {USER}:{PASSWORD}@127.0.0.1:{relay_port}\n"
        "b.example 127.0.0.1:9\n"
        f"c.example {USER}:{PASSWORD}@127.0.0.1:{relay_port} $size>100\n"
    )
    replace_table(sender, parse_document(document), actor=Actor(user=None, source="command"))
    return sender


def test_the_page_lists_each_relay_once_with_the_rules_using_it(
    viewer_client: Client, relayed: MailSender, relay_port: int
) -> None:
    html = viewer_client.get(URL).content.decode()
    assert f"<code>joe at 127.0.0.1:{relay_port}</code>" in html
    assert "<code>127.0.0.1:9</code>" in html
    assert (
        'href="/senders/main/#rule-1">rule 1</a>, <a href="/senders/main/#rule-3">rule 3</a>'
        in html
    )
    assert "not checked yet" in html
    assert "Check all relays" not in html  # a viewer may look, not check
    assert PASSWORD not in html


def test_a_viewer_cannot_start_a_check(viewer_client: Client, relayed: MailSender) -> None:
    assert viewer_client.post(URL, {"relay": "all"}).status_code == 403
    assert not RelayCheck.objects.exists()


def test_an_editor_checks_one_relay_and_sees_the_result_without_the_password(
    editor_client: Client, relayed: MailSender, relay_port: int
) -> None:
    response = editor_client.post(URL, {"relay": KEY.format(port=relay_port)})
    assert response.status_code == 302
    html = editor_client.get(URL).content.decode()
    assert "Checked 1 relay: 0 ready." in html
    assert "no STARTTLS: mail to this relay travels in clear" in html
    assert "235 2.7.0 Authentication successful as joe" in html
    assert "by eddie" in html
    assert PASSWORD not in html
    check = RelayCheck.objects.get()
    assert check.level == "warn"
    assert PASSWORD not in json.dumps(check.steps)


def test_check_all_over_htmx_answers_the_card_alone(
    editor_client: Client, relayed: MailSender
) -> None:
    response = editor_client.post(URL, {"relay": "all"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.strip().startswith('<div class="card" id="relays-card"')
    assert "<h1>" not in html
    assert "Checked 2 relays: 0 ready." in html
    assert "connection refused by 127.0.0.1:9" in html


def test_only_relays_in_the_table_can_be_checked(
    editor_client: Client, relayed: MailSender
) -> None:
    response = editor_client.post(URL, {"relay": "@192.0.2.1:25"})
    assert response.status_code == 400
    assert (
        "That relay is not in this table (any more): reload the page." in response.content.decode()
    )
    assert not RelayCheck.objects.exists()


def test_a_relay_checked_moments_ago_is_not_checked_again(
    editor_client: Client, relayed: MailSender, relay_port: int
) -> None:
    key = KEY.format(port=relay_port)
    editor_client.post(URL, {"relay": key})
    response = editor_client.post(URL, {"relay": key})
    assert response.status_code == 429
    assert (
        f"joe at 127.0.0.1:{relay_port} was checked less than 10 s ago: try again shortly."
        in response.content.decode()
    )


def test_checks_per_person_per_minute_are_limited(
    editor_client: Client, relayed: MailSender, settings: Any
) -> None:
    settings.RELAY_CHECKS_PER_MINUTE = 3
    assert editor_client.post(URL, {"relay": "all"}).status_code == 302
    response = editor_client.post(URL, {"relay": "all"})
    assert response.status_code == 429
    assert "At most 3 relay checks a minute per person" in response.content.decode()


def test_the_command_prints_every_step_and_fails_when_a_relay_fails(
    relayed: MailSender, relay_port: int
) -> None:
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("check_relays", "main", "--timeout", "2", stdout=out)
    assert exit_.value.code == 1
    text = out.getvalue()
    assert f"joe at 127.0.0.1:{relay_port} (rule 1, rule 3): no STARTTLS" in text
    assert "  ok   AUTH: 235 2.7.0 Authentication successful as joe" in text
    assert "127.0.0.1:9 (rule 2): connection refused by 127.0.0.1:9" in text
    assert PASSWORD not in text


def test_the_command_speaks_json(relayed: MailSender) -> None:
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("check_relays", "main", "--json", stdout=out)
    results = json.loads(out.getvalue())
    assert [(r["username"], r["level"], r["rules"]) for r in results] == [
        ("joe", "warn", [1, 3]),
        (None, "fail", [2]),
    ]
    assert PASSWORD not in out.getvalue()


def test_the_table_shows_the_last_check_next_to_the_rules_using_the_relay(
    editor_client: Client, relayed: MailSender, relay_port: int
) -> None:
    editor_client.post(URL, {"relay": KEY.format(port=relay_port)})
    html = editor_client.get("/senders/main/").content.decode()
    rows = html.split('<tr id="rule-')[1:]
    checked = [row for row in rows if "Relay check:" in row]
    assert len(checked) == 2  # rules 1 and 3 name that relay; rule 2 was not checked
    assert (
        'class="badge warn" title="no STARTTLS: mail to this relay travels in clear"'
        in (checked[0])
    )
    assert PASSWORD not in html


def test_check_relay_on_a_rule_goes_back_to_the_table_with_the_verdict(
    editor_client: Client, relayed: MailSender, relay_port: int
) -> None:
    rule = relayed.rules.get(position=3)
    url = f"{URL}?back={rule.pk}"
    response = editor_client.post(url, {"relay": KEY.format(port=relay_port), "revision": 9})
    assert response.status_code == 302
    assert response["Location"] == f"/senders/main/?page=1#rule-{rule.pk}"
    html = editor_client.get(response["Location"]).content.decode()
    assert f"joe at 127.0.0.1:{relay_port}: no STARTTLS: mail to this relay travels in clear" in (
        html
    )
    assert 'aria-label="Check the relay of rule 3">Check relay</button>' in html
    assert PASSWORD not in html


def test_check_relay_over_htmx_answers_in_place_and_a_refusal_says_why(
    editor_client: Client, relayed: MailSender, relay_port: int
) -> None:
    # From the table page at any address (?page=1 too): only the verdict and the rows
    # using the relay come back; the page, and anything typed on it, stays.
    rule_1, rule_3 = (relayed.rules.get(position=n) for n in (1, 3))
    url = f"{URL}?back={rule_1.pk}"
    data = {"relay": KEY.format(port=relay_port)}
    response = editor_client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "HX-Redirect" not in response
    html = response.content.decode()
    verdict = f"joe at 127.0.0.1:{relay_port}: no STARTTLS: mail to this relay travels in clear"
    assert f'<p class="message" role="status">{verdict}</p>' in html
    swapped = {row.split('"')[0] for row in html.split('<tr id="rule-')[1:]}
    assert swapped == {str(rule_1.pk), str(rule_3.pk)}  # rule 2 uses another relay
    assert html.count("Relay check: ") == 2
    assert "<html" not in html
    assert PASSWORD not in html

    again = editor_client.post(url, data, headers={"HX-Request": "true"})
    assert again.status_code == 429
    html = again.content.decode()
    assert 'role="alert">' in html
    assert "was checked less than 10 s ago: try again shortly." in html
    assert "<html" not in html


def test_check_all_relays_from_the_table_page(
    editor_client: Client, viewer_client: Client, relayed: MailSender
) -> None:
    html = editor_client.get("/senders/main/").content.decode()
    assert (
        '<input type="hidden" name="relay" value="all">'
        '<button type="submit" class="secondary">Check all relays</button>'
    ) in html
    assert "Check all relays" not in viewer_client.get("/senders/main/").content.decode()
    response = editor_client.post(URL, {"relay": "all"})
    assert response["Location"] == URL
    assert RelayCheck.objects.count() == 2
