"""Big input: 100,000-line pastes, very long lines, huge uploads and bodies.

Every one gets a clear answer quickly: a size limit named in words, or the first
errors and where checking stopped — never a page listing a million errors, never a
hang, never Django's bare "Bad Request".
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test import Client
from django.urls import reverse

from senders.models import MailSender
from senders.tabletext import MAX_ERRORS
from senders.uploads import TableSizeLimitUploadHandler
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


def test_a_10000_line_paste_of_junk_stops_after_the_first_errors(
    editor: Client, table: MailSender
) -> None:
    url = reverse("senders:bulk", args=[table.slug])
    text = "junk\n" * 10_000  # the most lines allowed: errors are still listed up to a cap
    response, seconds = timed(lambda: editor.post(url, {"text": text, "action": "save"}))
    assert seconds < BOUND_SECONDS
    assert response.status_code == 400
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


TOO_BIG = (
    "What you sent is too big. A form may send at most 2.5 MB; a table (typed, pasted or "
    "uploaded) at most 2.0 MB. Split it into smaller parts."
)


def plain(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_a_huge_upload_is_refused_with_413_naming_the_limit(
    editor: Client, table: MailSender
) -> None:
    url = reverse("senders:import", args=[table.slug])
    data = b"a.example b.example\n" * (1024 * 1024)  # 20 MiB
    upload = SimpleUploadedFile("big.txt", data)
    response, seconds = timed(
        lambda: editor.post(url, {"file": upload, "mode": "replace", "revision": 2})
    )
    assert seconds < BOUND_SECONDS
    assert response.status_code == 413
    assert TOO_BIG in plain(response)
    assert "Nothing was saved." in plain(response)
    assert table.rules.count() == 4


@pytest.mark.parametrize("declared", [100 * 1024 * 1024, 200 * 1000 * 1000])
def test_a_declared_huge_body_is_refused_before_it_is_read(
    editor: Client, table: MailSender, declared: int
) -> None:
    url = reverse("senders:import", args=[table.slug])
    body = b"--x\r\n"  # only the start is sent: the answer comes before the rest would be read
    for headers in ({}, HX):
        response = editor.generic(
            "POST",
            url,
            body,
            content_type="multipart/form-data; boundary=x",
            CONTENT_LENGTH=str(declared),
            **headers,
        )
        assert response.status_code == 413
        assert TOO_BIG in plain(response)
    assert "<html" not in response.content.decode()  # htmx gets the message alone
    assert table.rules.count() == 4


def test_a_file_over_the_table_limit_stops_the_upload_at_the_limit(
    editor: Client, table: MailSender
) -> None:
    url = reverse("senders:import", args=[table.slug])
    data = b"a.example b.example\n" * (110 * 1024)  # 2.2 MB: the body itself is allowed
    upload = SimpleUploadedFile("big.txt", data)
    response = editor.post(url, {"file": upload, "mode": "replace", "revision": 2})
    assert response.status_code == 413
    assert TOO_BIG in plain(response)
    assert table.rules.count() == 4


class CountingHandler(FileUploadHandler):
    received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        CountingHandler.received += len(raw_data)

    def file_complete(self, file_size: int) -> None:
        return None


def test_the_upload_handler_stops_an_undeclared_stream_at_the_limit(settings: Any) -> None:
    settings.MAX_TABLE_UPLOAD_BYTES = 100_000
    chunk = b"a.example b.example\n" * 3200  # 64,000 bytes
    body = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="t.txt"\r\n\r\n'
        + chunk * 1000  # 64 MB, as a chunked upload might stream it
        + b"\r\n--x--\r\n"
    )
    meta = {"CONTENT_TYPE": "multipart/form-data; boundary=x", "CONTENT_LENGTH": str(len(body))}
    handlers = [TableSizeLimitUploadHandler(), CountingHandler()]
    CountingHandler.received = 0
    parser = MultiPartParser(meta, io.BytesIO(body), handlers)
    with pytest.raises(RequestDataTooBig):
        parser.parse()
    assert CountingHandler.received <= 100_000


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


def test_100000_short_rules_are_refused_before_parsing_with_the_limit(
    editor: Client, table: MailSender
) -> None:
    # 1.2 MB: under the byte limit, but ten times the largest table we support.
    text = "".join(f"d{n}.x r.example\n" for n in range(100_000))
    assert len(text) < 2 * 1024 * 1024
    message = (
        "The table has 100000 rules; at most 10000 are supported. Split it between senders, "
        "or remove unused rules."
    )
    url = reverse("senders:bulk", args=[table.slug])
    response, seconds = timed(lambda: editor.post(url, {"text": text, "action": "save"}))
    assert seconds < 2
    assert response.status_code == 400
    assert errors(response) == [message]
    response, seconds = timed(lambda: editor.post(url, {"text": text}, **HX))
    assert seconds < 2
    assert message in response.content.decode()
    test_url = reverse("senders:test", args=[table.slug])
    data = {"recipients": "d5.x", "dns": "manual", "table": "text", "text": text}
    response, seconds = timed(lambda: editor.post(test_url, data, **HX))
    assert seconds < 2
    assert response.status_code == 400
    assert message in response.content.decode()
    assert table.rules.count() == 4


def test_the_rule_limit_is_exact(editor: Client, table: MailSender, settings: Any) -> None:
    settings.MAX_TABLE_RULES, settings.MAX_TABLE_LINES = 5, 10
    url = reverse("senders:bulk", args=[table.slug])
    five = "# first\n" + "".join(f"d{n}.example r.example\n" for n in range(4)) + "#disabled: x y\n"
    response = editor.post(url, {"text": five, "action": "save", "revision": 2})
    assert response.status_code == 302
    assert table.rules.count() == 5
    six = five + "d9.example r.example\n"
    response = editor.post(url, {"text": six, "action": "save", "revision": 3})
    assert response.status_code == 400
    assert errors(response) == [
        "The table has 6 rules; at most 5 are supported. Split it between senders, or remove "
        "unused rules."
    ]
    response = editor.post(url, {"text": five + "\n" * 5, "action": "save", "revision": 3})
    assert errors(response) == [
        "The table text has 11 lines; at most 10 are accepted. Remove blank lines and long "
        "comments."
    ]
    assert table.rules.count() == 5
