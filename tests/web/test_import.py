"""Import: a table file replaces (or extends) the table, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)


def url(sender: MailSender) -> str:
    return reverse("senders:import", args=[sender.slug])


def texts(sender: MailSender) -> list[str]:
    return list(sender.rules.order_by("position").values_list("text", flat=True))


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(
        sender,
        parse_document("old.example relay.example.net\n* joe:pw@smtp.corp.example $end\n"),
        actor=ACTOR,
    )
    sender.refresh_from_db()
    return sender


def upload(
    client: Client,
    sender: MailSender,
    content: bytes,
    mode: str = "replace",
    name: str = "table.txt",
    revision: int | None = None,
) -> Any:
    data = {
        "file": SimpleUploadedFile(name, content, content_type="text/plain"),
        "mode": mode,
        "revision": sender.revision if revision is None else revision,
    }
    return client.post(url(sender), data)


def test_a_good_file_replaces_the_table_and_records_an_import_revision(
    editor_client: Client, editor: Any, table: MailSender
) -> None:
    content = b"# routed via the ISP\nExample.com  smtp.myisp.com:587\n#disabled: b.example x.net\n"
    response = upload(editor_client, table, content)
    assert response.status_code == 302
    assert response["Location"] == reverse("senders:detail", args=[table.slug])
    assert texts(table) == ["example.com smtp.myisp.com:587", "b.example x.net"]
    assert list(table.rules.values_list("comment", "enabled")) == [
        ("routed via the ISP", True),
        ("", False),
    ]
    revision = table.revisions.get(number=table.revision + 1)
    assert revision.source == Revision.Source.IMPORT
    assert revision.author == editor
    assert revision.message == "import of table.txt (replace)"
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Saved the table: 2 rules (revision {revision.number})."
    ]


def test_append_adds_the_file_after_the_stored_rules_and_keeps_passwords(
    editor_client: Client, table: MailSender
) -> None:
    response = upload(editor_client, table, b"new.example relay.example.net\n", mode="append")
    assert response.status_code == 302
    assert texts(table) == [
        "old.example relay.example.net",
        "* joe:pw@smtp.corp.example $end",
        "new.example relay.example.net",
    ]
    assert table.revisions.get(number=table.revision + 1).message == "import of table.txt (append)"


def test_crlf_files_are_fine(editor_client: Client, table: MailSender) -> None:
    content = b"a.example relay.example.net\r\nb.example relay.example.net:587 $end\r\n"
    assert upload(editor_client, table, content).status_code == 302
    assert texts(table) == ["a.example relay.example.net", "b.example relay.example.net:587 $end"]


def test_a_byte_order_mark_is_ignored(editor_client: Client, table: MailSender) -> None:
    assert upload(editor_client, table, b"\xef\xbb\xbfa.example relay.net\n").status_code == 302
    assert texts(table) == ["a.example relay.net"]


def test_a_file_with_errors_changes_nothing_and_opens_in_the_editor(
    editor_client: Client, table: MailSender
) -> None:
    before = texts(table)
    content = b"a.example relay.example.net\nb.example relay.example.net $prio:5\n"
    response = upload(editor_client, table, content)
    assert response.status_code == 400
    assert texts(table) == before
    assert table.revisions.count() == 1
    assert response.context["form"].errors["text"] == [
        'line 2, col 29: unknown option "$prio" (did you mean $priority?)'
    ]
    body = response.content.decode()
    assert "Nothing was saved:" in body
    assert "b.example relay.example.net $prio:5" in body  # the upload, in the textarea


def test_append_errors_count_lines_in_the_editor_text(
    editor_client: Client, table: MailSender
) -> None:
    response = upload(editor_client, table, b"ok.example x.net\nbad.example x.net:0\n", "append")
    assert response.status_code == 400
    assert texts(table) == ["old.example relay.example.net", "* joe:pw@smtp.corp.example $end"]
    errors = response.context["form"].errors["text"]
    assert len(errors) == 1
    assert errors[0].startswith("line 4, col 19: ")
    body = response.content.decode()
    assert "the uploaded file starts at line 3" in body
    assert "* joe:********@smtp.corp.example $end\nok.example x.net" in body
    assert ":pw@" not in body


def test_invalid_utf8_points_at_the_line_and_keeps_the_text(
    editor_client: Client, table: MailSender
) -> None:
    content = b"a.example relay.example.net\n# caf\xe9 comment\nb.example relay.example.net\n"
    response = upload(editor_client, table, content)
    assert response.status_code == 400
    assert texts(table) == ["old.example relay.example.net", "* joe:pw@smtp.corp.example $end"]
    assert response.context["form"].errors["text"] == [
        "line 2, col 6: the file is not UTF-8 text (byte 0xe9); "
        "save it as UTF-8 and upload it again"
    ]
    assert "# caf\ufffd comment" in response.content.decode()


def test_binary_junk_is_an_error_not_a_crash(editor_client: Client, table: MailSender) -> None:
    response = upload(editor_client, table, bytes(range(256)) * 4)
    assert response.status_code == 400
    errors = response.context["form"].errors["text"]
    assert errors[0] == (
        "line 2, col 118: the file is not UTF-8 text (byte 0x80); save it as UTF-8 and upload "
        "it again"
    )
    assert "line 1, col 1: control character U+0000 is not allowed" in errors
    assert table.rules.count() == 2


def test_a_nul_in_a_comment_is_pointed_at(editor_client: Client, table: MailSender) -> None:
    response = upload(editor_client, table, b"# note\x00\na.example relay.example.net\n")
    assert response.context["form"].errors["text"] == [
        "line 1, col 7: control character U+0000 is not allowed"
    ]
    assert table.rules.count() == 2


def test_a_file_over_the_limit_is_refused_with_413_naming_the_limit(
    editor_client: Client, table: MailSender, settings: Any
) -> None:
    settings.MAX_TABLE_UPLOAD_BYTES = 1024
    # The upload handler stops reading at the limit (senders.uploads).
    response = upload(editor_client, table, b"a.example relay.example.net\n" * 100)
    assert response.status_code == 413
    assert "a table (typed, pasted or uploaded) at most 1.0\xa0KB" in response.content.decode()
    assert table.rules.count() == 2


def test_an_empty_file_is_refused(editor_client: Client, table: MailSender) -> None:
    response = upload(editor_client, table, b"")
    assert response.context["import_form"].errors["file"] == ["The submitted file is empty."]
    assert table.rules.count() == 2


def test_a_post_without_a_file_is_refused(editor_client: Client, table: MailSender) -> None:
    response = editor_client.post(url(table), {"mode": "replace", "revision": table.revision})
    assert response.status_code == 400
    assert response.context["import_form"].errors["file"] == ["This field is required."]


def test_an_unknown_mode_is_refused(editor_client: Client, table: MailSender) -> None:
    response = upload(editor_client, table, b"a.example x.net\n", mode="merge")
    assert response.context["import_form"].errors["mode"] == [
        "Select a valid choice. merge is not one of the available choices."
    ]
    assert table.rules.count() == 2


def test_a_stale_import_is_refused_with_409(editor_client: Client, table: MailSender) -> None:
    response = upload(editor_client, table, b"a.example x.net\n", revision=table.revision - 1)
    assert response.status_code == 409
    assert table.rules.count() == 2
    assert "a.example x.net" in response.content.decode()


def test_viewers_cannot_import(viewer_client: Client, table: MailSender) -> None:
    assert upload(viewer_client, table, b"a.example x.net\n").status_code == 403
    assert table.rules.count() == 2


def test_get_leads_to_the_import_form(editor_client: Client, table: MailSender) -> None:
    response = editor_client.get(url(table))
    assert response.status_code == 302
    assert response["Location"] == reverse("senders:bulk", args=[table.slug]) + "#import"
