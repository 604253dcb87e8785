"""No page tells whether a typed relay password is the stored one (issue 10, items 2, 3).

An editor types a guess next to (or instead of) a stored password: the bulk editor's
conflict page and the lint warnings look exactly the same for the right guess and
for a wrong one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from senders.models import MailSender
from senders.tables import document_of
from tests.security.conftest import SECRET, fill

pytestmark = pytest.mark.django_db

WRONG = "Zq7-relay-WRONG-x9"  # as long as SECRET
GUESS = "<the guess>"


def page(response: Any, guess: str) -> str:
    """The page with the typed guess (echoed in the textarea) and CSRF tokens left out."""
    body = response.content.decode().replace(guess, GUESS)
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", body)


def stale_save(client: Client, sender: MailSender, guess: str) -> Any:
    masked = document_of(sender, mask_passwords=True)
    text = masked.replace("joe:********@", f"joe:{guess}@")
    assert text != masked
    url = reverse("senders:bulk", args=[sender.slug])
    return client.post(url, {"text": text, "action": "save", "revision": "0"})


def test_the_conflict_page_is_the_same_for_a_right_and_a_wrong_guess(
    editor_client: Client, table: MailSender
) -> None:
    right = stale_save(editor_client, table, SECRET)
    wrong = stale_save(editor_client, table, WRONG)
    assert right.status_code == wrong.status_code == 409
    assert page(right, SECRET) == page(wrong, WRONG)
    yours = right.context["conflict"].yours
    assert yours.summary == "1 rule changed."
    assert [line.note for line in yours.lines if line.note] == ["password entered"]
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in page(right, SECRET)


def test_masked_passwords_stay_unchanged_in_the_conflict_diff(
    editor_client: Client, table: MailSender
) -> None:
    url = reverse("senders:bulk", args=[table.slug])
    text = document_of(table, mask_passwords=True)
    response = editor_client.post(url, {"text": text, "action": "save", "revision": "0"})
    assert response.status_code == 409
    assert response.context["conflict"].yours.summary == "No changes."


def test_lint_is_the_same_for_a_right_and_a_wrong_guess(
    editor_client: Client, table: MailSender
) -> None:
    pages = []
    for guess in (SECRET, WRONG):
        text = document_of(table, mask_passwords=True)
        text += f"oracle.example joe:{guess}@smtp.corp.example\n"
        url = reverse("senders:bulk", args=[table.slug])
        response = editor_client.post(url, {"text": text, "revision": str(table.revision)})
        assert response.status_code == 200
        pages.append(page(response, guess))
    assert pages[0] == pages[1]
    assert "send to smtp.corp.example:25 as joe" in pages[0]


def test_an_added_rule_gets_the_same_lint_for_a_right_and_a_wrong_guess(
    editor_client: Client, sender: MailSender
) -> None:
    warnings = []
    for guess in (SECRET, WRONG):
        fill(sender)
        url = reverse("senders:rule_add", args=[sender.slug])
        rule = f"oracle.example joe:{guess}@smtp.corp.example"
        data = {"text": rule, "enabled": "on", "revision": str(sender.revision)}
        response = editor_client.post(url, data, follow=True)
        assert response.status_code == 200
        warnings.append([str(w) for w in response.context["lint_warnings"]])
    assert warnings[0] == warnings[1]
    assert any("send to smtp.corp.example:25 as joe" in w for w in warnings[0])
