"""The live check under a rule field gives the save's own verdict on a masked password."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
FRED = "*.example.org fred:s3cret@smtp.example.org:587"


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    add_rule(sender, "example.com smtp.myisp.com", actor=ACTOR)
    add_rule(sender, FRED, actor=ACTOR)
    sender.refresh_from_db()
    return sender


def _check(client: Client, sender: MailSender, text: str, rule: int | str | None = None) -> str:
    url = reverse("senders:rule_validate", args=[sender.slug])
    if rule is not None:
        url += f"?rule={rule}"
    response = client.post(url, {"text": text}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"s3cret" not in response.content
    return response.content.decode()


def test_a_mask_after_a_port_change_is_refused_live_as_on_save(
    editor_client: Client, table: MailSender
) -> None:
    fred = table.rules.get(position=2)
    # The edit form's field asks the live check about this rule.
    form = editor_client.get(reverse("senders:rule_edit", args=[table.slug, fred.pk]))
    live = reverse("senders:rule_validate", args=[table.slug]) + f"?rule={fred.pk}"
    assert f'hx-post="{live}"' in form.content.decode()
    text = "*.example.org fred:********@smtp.example.org:465"
    verdict = _check(editor_client, table, text, rule=fred.pk)
    message = (
        "col 20: type the password for fred at smtp.example.org:465: "
        "******** only keeps a password that is already stored"
    )
    assert message in verdict
    assert "Valid" not in verdict
    # The save says the same.
    save = editor_client.post(
        reverse("senders:rule_edit", args=[table.slug, fred.pk]),
        {"text": text, "enabled": "on", "revision": table.revision},
    )
    assert save.status_code == 400
    assert message in save.content.decode()


def test_a_mask_for_the_same_user_host_and_port_is_valid_live(
    editor_client: Client, table: MailSender
) -> None:
    fred = table.rules.get(position=2)
    text = "*.example.org fred:********@smtp.example.org:587"
    verdict = _check(editor_client, table, text, rule=fred.pk)
    assert "Valid" in verdict
    assert "fred</code>, password set" in verdict


def test_an_edit_keeps_only_its_own_rules_password(
    editor_client: Client, table: MailSender
) -> None:
    other = table.rules.get(position=1)
    text = "*.example.org fred:********@smtp.example.org:587"
    verdict = _check(editor_client, table, text, rule=other.pk)
    assert "type the password for fred at smtp.example.org:587" in verdict


def test_a_new_rule_may_reuse_any_stored_password(editor_client: Client, table: MailSender) -> None:
    assert "Valid" in _check(editor_client, table, "x.example fred:********@smtp.example.org:587")
    verdict = _check(editor_client, table, "x.example fred:********@smtp.example.org:25")
    assert "type the password for fred at smtp.example.org:25" in verdict


def test_junk_rule_ids_are_no_rule(editor_client: Client, table: MailSender) -> None:
    text = "*.example.org fred:********@smtp.example.org:587"
    for junk in ("x", "-1", "9" * 40, "\N{ARABIC-INDIC DIGIT ONE}"):
        assert "Valid" in _check(editor_client, table, text, rule=junk)
