"""What stored text may hold: bidi overrides refused everywhere, a comment stays a comment.

Decision (docs/security.md): bidirectional embeddings, overrides and isolates
(U+202A-U+202E, U+2066-U+2069) are refused with a clear message in rule text (the
parser), comments (rule form, bulk editor, import, Django admin) and sender names and
descriptions; free-text notes (rollback reason, import file name) have them dropped.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from senders.models import MailSender
from senders.tabletext import Entry, format_document, parse_document
from tests.security.conftest import SECRET, client_as
from tests.web.test_admin import posted

pytestmark = pytest.mark.django_db

RLO = "\u202e"
BIDI_MESSAGE = (
    "Bidirectional control character U+202E is not allowed "
    "(it can make text look different from what it is)"
)


@pytest.fixture
def admin_client(table: MailSender, django_user_model: Any) -> Client:
    return client_as(django_user_model, "admin", staff=True)


def errors(response: Any, form: str = "form") -> str:
    return str(response.context[form].errors)


def test_rule_text_with_a_bidi_override_is_refused_by_the_parser(
    admin_client: Client, table: MailSender
) -> None:
    url = reverse("senders:rule_validate", args=[table.slug])
    response = admin_client.post(url, {"text": f"example.com smtp.example{RLO}.net"})
    assert "col 25: invisible character U+202E is not allowed" in response.content.decode()


def test_a_comment_with_a_bidi_override_is_refused_in_the_rule_form(
    admin_client: Client, table: MailSender
) -> None:
    url = reverse("senders:rule_add", args=[table.slug])
    data = {"text": "a.example b.example", "comment": f"ok{RLO}gnp.exe", "enabled": "on"}
    response = admin_client.post(url, data | {"revision": table.revision})
    assert response.status_code == 400
    assert f"{BIDI_MESSAGE} (character 3)." in errors(response, "add_form")
    assert table.rules.count() == 4


def test_a_comment_with_a_bidi_override_is_refused_in_the_bulk_editor(
    admin_client: Client, table: MailSender
) -> None:
    url = reverse("senders:bulk", args=[table.slug])
    text = f"# look{RLO}here\na.example b.example\n"
    response = admin_client.post(url, {"text": text, "action": "save", "revision": 2})
    assert response.status_code == 400
    assert f"line 1, col 7: {BIDI_MESSAGE[:1].lower()}{BIDI_MESSAGE[1:]}" in errors(response)
    assert table.rules.count() == 4


@pytest.mark.parametrize("field", ["name", "description"])
def test_sender_names_and_descriptions_refuse_bidi_overrides(
    admin_client: Client, table: MailSender, field: str
) -> None:
    data = {"name": "Main", "slug": "main", "description": "", field: f"x{RLO}y"}
    response = admin_client.post(reverse("senders:edit", args=[table.slug]), data)
    assert response.status_code == 400
    assert f"{BIDI_MESSAGE} (character 2)." in errors(response)
    response = admin_client.post(reverse("senders:create"), data | {"slug": "other"})
    assert f"{BIDI_MESSAGE} (character 2)." in errors(response)


def test_the_django_admin_refuses_bidi_overrides_and_line_breaks(
    admin_client: Client, table: MailSender
) -> None:
    sender_url = reverse("admin:senders_mailsender_change", args=[table.pk])
    rule = table.rules.get(position=1)
    rule_url = reverse("admin:senders_overriderule_change", args=[rule.pk])
    before = parse_document(table.revisions.get(number=table.revision).document)
    for url, field, value, message in [
        (sender_url, "name", f"x{RLO}", BIDI_MESSAGE),
        (rule_url, "comment", f"x{RLO}", BIDI_MESSAGE),
        (
            rule_url,
            "comment",
            "x\nevil.example attacker.example",
            "A line break is not allowed here (this is one line of text)",
        ),
    ]:
        data = posted(admin_client.get(url))
        response = admin_client.post(url, data | {field: value})
        assert response.status_code == 200, field
        assert message in response.content.decode(), field
    table.refresh_from_db()
    assert parse_document(table.revisions.get(number=table.revision).document) == before


def test_a_comment_with_a_line_break_can_never_become_a_rule() -> None:
    """Defence in depth: whatever a comment holds, the document keeps it a comment."""
    entry = Entry("a.example b.example", comment="x\r\nevil.example attacker.example")
    document = format_document([entry])
    assert document == "# x\n# evil.example attacker.example\na.example b.example\n"
    assert [e.text for e in parse_document(document)] == ["a.example b.example"]


def test_free_text_notes_lose_control_and_bidi_characters(
    admin_client: Client, table: MailSender
) -> None:
    url = reverse("senders:rollback", args=[table.slug, 1])
    response = admin_client.post(url, {"message": f"oops\x00{RLO}\x1b[31m", "revision": 2})
    assert response.status_code == 302
    table.refresh_from_db()
    message = table.revisions.get(number=table.revision).message
    assert message == "Rolled back to revision 1: oops[31m"
    assert SECRET in table.rules.get(position=2).text  # the rollback kept the password


@pytest.mark.parametrize(("char", "code"), [("\u2028", "U+2028"), ("\u2029", "U+2029")])
def test_comments_refuse_line_and_paragraph_separators_as_rule_text_does(
    admin_client: Client, table: MailSender, char: str, code: str
) -> None:
    """Spec decision: a comment may not hold what rule text may not (issue 10)."""
    message = f"Line or paragraph separator {code} is not allowed (character 3)."
    url = reverse("senders:rule_add", args=[table.slug])
    data = {"text": "a.example b.example", "comment": f"ok{char}then", "enabled": "on"}
    response = admin_client.post(url, data | {"revision": table.revision})
    assert response.status_code == 400
    assert message in errors(response, "add_form")

    url = reverse("senders:bulk", args=[table.slug])
    text = f"# ok{char}then\na.example b.example\n"
    response = admin_client.post(url, {"text": text, "action": "save", "revision": 2})
    assert f"line 1, col 5: line or paragraph separator {code} is not allowed" in errors(response)
    assert table.rules.count() == 4
