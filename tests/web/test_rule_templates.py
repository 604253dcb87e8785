"""Rule templates: each parses, fills the add form, and is never added unchanged."""

from __future__ import annotations

import pytest
from django.test import Client

from senders.engine import parse_rule
from senders.models import MailSender
from senders.rule_templates import PLACEHOLDER, TEMPLATES

pytestmark = pytest.mark.django_db

URL = "/senders/main/"


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.slug)
def test_every_template_is_a_rule_the_shared_parser_accepts(template: object) -> None:
    rule = parse_rule(template.text)  # type: ignore[attr-defined]
    assert rule.server.host == PLACEHOLDER


def test_the_gallery_covers_the_cases_admins_write_again_and_again() -> None:
    texts = "\n".join(t.text for t in TEMPLATES)
    for needle in (
        "$dnsmx:*.mail.protection.outlook.com",
        "$dnsmx:*.google.com",
        "$dnsmx:*.googlemail.com",
        "$size>",
        "$retries>=3",
        "$adddns",
        "$authsender=",
        "$from~=",
    ):
        assert needle in texts


def test_the_add_form_offers_the_templates(editor_client: Client, sender: MailSender) -> None:
    html = editor_client.get(URL).content.decode()
    assert "<summary>Start from a template</summary>" in html
    assert (
        '<a href="?template=microsoft-365#add-rule">'
        "Recipients hosted at Microsoft 365, through a relay</a>" in html
    )


def test_a_template_fills_the_add_form_and_saves_nothing(
    editor_client: Client, sender: MailSender
) -> None:
    html = editor_client.get(URL, {"template": "big-messages"}).content.decode()
    assert 'value="* relay.example.net:587 $size&gt;10000000 $end"' in html
    assert 'value="Messages over 10 MB go through the relay instead of direct"' in html
    assert "Filled in from the template “Big messages through a relay”" in html
    assert sender.rules.count() == 0


def test_an_unknown_template_is_ignored(editor_client: Client, sender: MailSender) -> None:
    response = editor_client.get(URL, {"template": "<script>"})
    assert response.status_code == 200
    assert "Filled in from the template" not in response.content.decode()


def test_a_template_is_not_added_unchanged(editor_client: Client, sender: MailSender) -> None:
    template = TEMPLATES[0]
    data = {"text": template.text, "comment": template.comment, "enabled": "on", "revision": 0}
    response = editor_client.post(f"{URL}rules/add/", data)
    assert response.status_code == 400
    assert (
        "This is the template as offered: put your own relay (and values) in place of "
        "relay.example.net before adding it." in response.content.decode()
    )
    assert sender.rules.count() == 0
    adapted = data | {"text": template.text.replace(PLACEHOLDER, "smtp.myisp.example")}
    assert editor_client.post(f"{URL}rules/add/", adapted).status_code == 302
    assert sender.rules.get().text == (
        "* smtp.myisp.example:587 $dnsmx:*.mail.protection.outlook.com $end"
    )
