"""Big input: 100,000-line pastes, very long lines, huge uploads and bodies.

Every one gets a clear answer quickly: a size limit named in words, or the first
errors and where checking stopped — never a page listing a million errors, never a
hang, never Django's bare "Bad Request".
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from senders.models import MailSender
from senders.tabletext import MAX_ERRORS
from tests.security.conftest import client_as

pytestmark = pytest.mark.django_db

# Generous: these run in well under a second; the bound only catches a hang.
BOUND_SECONDS = 20
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def editor(table: MailSender, django_user_model: Any) -> Client:
    return client_as(django_user_model, "editor")


def timed(send: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    response = send()
    return response, time.perf_counter() - start


def errors(response: Any) -> list[str]:
    return list(response.context["form"].errors.get("text", []))


def test_a_100000_line_paste_of_junk_stops_after_the_first_errors(
    editor: Client, table: MailSender
) -> None:
    url = reverse("senders:bulk", args=[table.slug])
    text = "junk\n" * 100_000
    response, seconds = timed(lambda: editor.post(url, {"text": text, "action": "save"}))
    assert seconds < BOUND_SECONDS
    listed = errors(response)
    assert len(listed) == MAX_ERRORS + 1
    assert listed[0] == 'line 1, col 5: expected a server after "junk"'
    assert listed[-1] == (
        f"line {MAX_ERRORS + 1}, col 1: more than {MAX_ERRORS} errors: checking stopped "
        "here; fix those above first"
    )
    assert len(response.content) < len(text) + 100_000  # the text is kept, errors are few
    assert table.rules.count() == 4


def test_a_100000_line_paste_of_rules_over_the_limit_is_refused_in_words(
    editor: Client, table: MailSender
) -> None:
    url = reverse("senders:bulk", args=[table.slug])
    text = "".join(f"d{n}.example relay.example.net:587\n" for n in range(100_000))
    for headers in ({}, HX):
        response, seconds = timed(lambda h=headers: editor.post(url, {"text": text}, **h))
        assert seconds < BOUND_SECONDS
        assert response.status_code == 413
        body = response.content.decode()
        assert "What you sent is too big." in body
        assert "a table (typed, pasted or uploaded) at most 2.0\xa0MB" in body
        assert "Nothing was saved." in body
    assert "<html" not in body  # htmx gets the message alone


def test_a_table_text_just_over_the_limit_is_refused_with_its_size(
    editor: Client, table: MailSender, settings: Any
) -> None:
    settings.MAX_TABLE_UPLOAD_BYTES = 100_000
    url = reverse("senders:bulk", args=[table.slug])
    text = "a.example b.example\n" * 6000
    response = editor.post(url, {"text": text, "action": "save", "revision": 2})
    assert errors(response) == ["The table text is too long: 120000 characters, at most 100000."]
    test_url = reverse("senders:test", args=[table.slug])
    response = editor.post(
        test_url, {"recipients": "a.example", "dns": "manual", "table": "text", "text": text}
    )
    assert (
        "The table text is too long: 120000 characters, at most 100000."
        in response.content.decode()
    )


def test_a_huge_upload_is_refused_with_the_limit_in_words(
    editor: Client, table: MailSender
) -> None:
    url = reverse("senders:import", args=[table.slug])
    data = b"a.example b.example\n" * (1024 * 1024)  # 20 MiB
    upload = SimpleUploadedFile("big.txt", data)
    response, seconds = timed(
        lambda: editor.post(url, {"file": upload, "mode": "replace", "revision": 2})
    )
    assert seconds < BOUND_SECONDS
    assert response.status_code == 400
    assert response.context["import_form"].errors["file"] == [
        "The file is 20.0\xa0MB; the limit is 2.0\xa0MB. Split it, or remove comments and "
        "unused rules."
    ]
    assert table.rules.count() == 4


def test_a_very_long_line_is_refused_at_4096_characters(editor: Client, table: MailSender) -> None:
    url = reverse("senders:rule_validate", args=[table.slug])
    response = editor.post(url, {"text": "a.example " + "b" * 1_000_000})
    assert "col 4097: line is longer than 4096 characters (it has 1000010)" in (
        response.content.decode()
    )
    bulk = reverse("senders:bulk", args=[table.slug])
    response = editor.post(bulk, {"text": "x" * 1_000_000 + "\n", "action": "save"})
    assert errors(response) == [
        "line 1, col 4097: line is longer than 4096 characters (it has 1000000)"
    ]


def test_a_form_with_too_many_fields_says_so(editor: Client, table: MailSender) -> None:
    url = reverse("senders:bulk", args=[table.slug])
    body = "&".join(f"f{n}=x" for n in range(2000))
    response = editor.generic("POST", url, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert "The form has too many fields." in response.content.decode()
    assert "Edit a long table in the bulk editor instead." in response.content.decode()
