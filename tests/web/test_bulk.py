"""The bulk editor: the whole table as text, validated live, saved all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule, document_of, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "s3cr:et@pw"


def url(sender: MailSender) -> str:
    return reverse("senders:bulk", args=[sender.slug])


def texts(sender: MailSender) -> list[str]:
    return list(sender.rules.order_by("position").values_list("text", flat=True))


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(
        sender,
        parse_document(
            "# The parent company\n"
            "example.com smtp.myisp.com\n"
            f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end\n"
            "#disabled: *.demon.co.uk smtp.demon.net\n"
        ),
        actor=ACTOR,
    )
    sender.refresh_from_db()
    return sender


def save(client: Client, sender: MailSender, text: str, revision: int | None = None) -> Any:
    revision = sender.revision if revision is None else revision
    data = {"text": text, "revision": revision, "action": "save"}
    return client.post(url(sender), data)


# ------------------------------------------------------------------ reading


def test_it_shows_the_table_as_text_with_passwords_masked(
    viewer_client: Client, table: MailSender
) -> None:
    response = viewer_client.get(url(table))
    assert response.status_code == 200
    body = response.content.decode()
    assert "# The parent company\nexample.com smtp.myisp.com\n" in body
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in body
    assert "#disabled: *.demon.co.uk smtp.demon.net" in body
    assert SECRET not in body
    assert "s3cr" not in body


def test_a_viewer_gets_a_read_only_textarea_and_no_save_button(
    viewer_client: Client, table: MailSender
) -> None:
    body = viewer_client.get(url(table)).content.decode()
    assert " readonly" in body
    assert 'value="save"' not in body
    assert "changing it needs the editor role" in body
    assert 'value="test"' in body  # viewers may still test the text


def test_an_editor_gets_save_and_import(editor_client: Client, table: MailSender) -> None:
    body = editor_client.get(url(table)).content.decode()
    assert " readonly" not in body
    assert 'value="save"' in body
    assert reverse("senders:import", args=[table.slug]) in body


def test_it_needs_login(client: Client, table: MailSender) -> None:
    response = client.get(url(table))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_needs_a_role(client: Client, nobody: Any, table: MailSender) -> None:
    client.force_login(nobody)
    assert client.get(url(table)).status_code == 403


def test_an_unknown_sender_is_404(editor_client: Client, db: None) -> None:
    response = editor_client.get(reverse("senders:bulk", args=["no-such-sender"]))
    assert response.status_code == 404


def test_page_queries_do_not_grow_with_the_table(editor_client: Client, sender: MailSender) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert editor_client.get(url(sender)).status_code == 200
        return len(queries)

    add_rule(sender, "a.example relay.example.net", actor=ACTOR)
    few = count()
    for n in range(30):
        add_rule(sender, f"d{n}.example u:p@relay.example.net", actor=ACTOR)
    assert count() == few


# ------------------------------------------------------------------ validating


def test_validate_lists_every_error_with_its_line(editor_client: Client, table: MailSender) -> None:
    text = "example.com smtp.myisp.com\nexample.org relay:99999\n* smtp.x.net $sizee>5\n"
    response = editor_client.post(url(table), {"text": text, "revision": table.revision})
    assert response.status_code == 200
    errors = response.context["form"].errors["text"]
    assert len(errors) == 2
    assert errors[0].startswith("line 2, col ")
    assert errors[1] == 'line 3, col 14: unknown attribute "$sizee" (did you mean $size?)'
    body = response.content.decode()
    assert "2 errors" in body
    assert "Nothing was saved" not in body  # validating saves nothing anyway


def test_validate_says_how_many_rules_are_ready(editor_client: Client, table: MailSender) -> None:
    text = "a.example relay.example.net\n#disabled: b.example relay.example.net\n"
    response = editor_client.post(url(table), {"text": text, "revision": table.revision})
    assert "No errors: 2 rules, ready to save." in response.content.decode()


def test_validate_over_htmx_returns_only_the_verdict(
    viewer_client: Client, table: MailSender
) -> None:
    response = viewer_client.post(
        url(table),
        {"text": "example.com smtp.myisp.com $end $end\n", "revision": table.revision},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="verdict"')
    assert "<html" not in body
    assert "<textarea" not in body
    assert "1 error." in body
    # The place links into the text (app.js puts the cursor there).
    assert (
        '<li><a href="#id_text" class="error-link" data-line="1" data-column="33">'
        "line 1, col 33</a>: repeated option $end</li>" in body
    )


def test_validate_reports_a_mask_with_no_stored_password(
    editor_client: Client, table: MailSender
) -> None:
    text = "a.example ann:********@relay.example.net\n"
    response = editor_client.post(url(table), {"text": text, "revision": table.revision})
    assert response.context["form"].errors["text"] == [
        "line 1, col 15: type the password for ann at relay.example.net:25: "
        "******** only keeps a password that is already stored"
    ]


# ------------------------------------------------------------------ saving


def test_save_replaces_the_table_and_records_a_bulk_revision(
    editor_client: Client, editor: Any, table: MailSender
) -> None:
    text = (
        "# first\nB.example   Relay.Example.NET:587  $END\r\n"
        "#disabled: c.example relay.example.net\n"
    )
    response = save(editor_client, table, text)
    assert response.status_code == 302
    assert response["Location"] == reverse("senders:detail", args=[table.slug])
    assert texts(table) == ["b.example relay.example.net:587 $end", "c.example relay.example.net"]
    assert list(table.rules.values_list("enabled", "comment")) == [(True, "first"), (False, "")]
    revision = table.revisions.get(number=table.revision + 1)
    assert revision.source == Revision.Source.BULK
    assert revision.author == editor
    table.refresh_from_db()
    assert table.revision == revision.number


def test_save_says_what_it_saved(editor_client: Client, table: MailSender) -> None:
    response = save(editor_client, table, "a.example relay.example.net\n")
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert messages == [f"Saved the table: 1 rule (revision {table.revision + 1})."]


def test_saving_the_masked_text_keeps_the_password(
    editor_client: Client, table: MailSender
) -> None:
    masked = document_of(table, mask_passwords=True)
    assert SECRET not in masked
    response = save(editor_client, table, masked + "z.example relay.example.net\n")
    assert response.status_code == 302
    assert texts(table)[1] == f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end"


def test_one_bad_line_among_many_changes_nothing_and_keeps_the_text(
    editor_client: Client, table: MailSender
) -> None:
    before, document = texts(table), document_of(table)
    lines = [f"d{n}.example relay{n}.example.net" for n in range(40)]
    lines[26] = "d26.example relay.example.net:0"
    lines[33] = "d33.example relay.example.net $retries>=x"
    text = "\n".join(lines) + "\n"
    response = save(editor_client, table, text)
    assert response.status_code == 400
    assert texts(table) == before
    assert document_of(table) == document
    assert table.revisions.count() == 1
    errors = response.context["form"].errors["text"]
    assert [e.split(":")[0] for e in errors] == ["line 27, col 31", "line 34, col 41"]
    body = response.content.decode()
    assert "Nothing was saved:" in body
    assert "2 errors" in body
    assert "d39.example relay39.example.net" in body  # the typed text is still there
    assert "d26.example relay.example.net:0" in body


def test_a_stale_save_is_refused_with_409_and_keeps_the_text(
    editor_client: Client, table: MailSender
) -> None:
    seen = table.revision
    add_rule(table, "someone.example else.example.net", actor=ACTOR)
    response = save(editor_client, table, "mine.example relay.example.net\n", revision=seen)
    assert response.status_code == 409
    assert texts(table)[-1] == "someone.example else.example.net"
    body = response.content.decode()
    assert (
        f"This table was changed by someone else since you opened it (you saw revision {seen}, "
        f"it is now at revision {seen + 1}). Your text is kept below; review the changes and "
        "save again."
    ) in body
    assert "mine.example relay.example.net" in body
    assert "The table as saved now (revision 2)" in body
    assert "someone.example else.example.net" in body
    assert SECRET not in body
    assert f'name="revision" value="{seen + 1}"' in body  # saving again is a knowing choice


def test_a_save_without_a_revision_counts_as_stale(
    editor_client: Client, table: MailSender
) -> None:
    response = editor_client.post(url(table), {"text": "", "action": "save"})
    assert response.status_code == 409
    assert table.rules.count() == 3


def test_a_save_without_text_changes_nothing(editor_client: Client, table: MailSender) -> None:
    response = editor_client.post(url(table), {"action": "save", "revision": table.revision})
    assert response.status_code == 400
    assert response.context["form"].errors["text"] == ["No table text was sent."]
    assert table.rules.count() == 3


def test_an_empty_text_empties_the_table(editor_client: Client, table: MailSender) -> None:
    assert save(editor_client, table, "").status_code == 302
    assert table.rules.count() == 0


def test_too_much_text_is_refused_with_its_length(
    editor_client: Client, table: MailSender, settings: Any
) -> None:
    settings.MAX_TABLE_UPLOAD_BYTES = 2000
    response = save(editor_client, table, "a.example relay.example.net\n" * 100)
    assert response.status_code == 400
    assert response.context["form"].errors["text"] == [
        "The table text is too long: 2800 characters, at most 2000."
    ]
    assert table.rules.count() == 3


def test_a_post_over_the_request_limit_is_a_413_in_words_not_a_500(
    editor_client: Client, table: MailSender, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = save(editor_client, table, "a.example relay.example.net\n" * 1000)
    assert response.status_code == 413
    assert "What you sent is too big." in response.content.decode()
    assert table.rules.count() == 3


def test_a_viewer_cannot_save(viewer_client: Client, table: MailSender) -> None:
    response = save(viewer_client, table, "a.example relay.example.net\n")
    assert response.status_code == 403
    assert table.rules.count() == 3


def test_save_needs_csrf(editor: Any, table: MailSender) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(editor)
    response = save(client, table, "a.example relay.example.net\n")
    assert response.status_code == 403
    assert table.rules.count() == 3


def test_a_password_typed_in_error_is_not_shown_twice(
    editor_client: Client, table: MailSender
) -> None:
    text = "a.example ann:topsecret@relay.example.net $sizee>1\n"
    body = save(editor_client, table, text).content.decode()
    # Kept in the textarea (the admin's own typing), but not echoed in the errors.
    assert body.count("topsecret") == 1


def test_a_stale_save_shows_what_the_other_person_changed_and_what_yours_would_do(
    editor_client: Client, table: MailSender
) -> None:
    seen = table.revision
    add_rule(table, "someone.example else.example.net", actor=ACTOR)
    response = save(editor_client, table, "mine.example relay.example.net\n", revision=seen)
    body = response.content.decode()
    assert "What changed since you opened the editor" in body
    assert "What saving your text now would change" in body
    theirs, yours = body.split("What changed since you opened the editor")[1].split(
        "What saving your text now would change"
    )
    assert "someone.example else.example.net" in theirs
    assert "mine.example relay.example.net" in yours
    assert SECRET not in body


def test_validate_shows_lint_warnings_for_a_valid_text(
    editor_client: Client, table: MailSender
) -> None:
    text = "* relay.example.net $end\nexample.com smtp.myisp.com\n"
    response = editor_client.post(url(table), {"text": text, "revision": table.revision})
    body = response.content.decode()
    assert "No errors: 2 rules, ready to save." in body
    assert "1 warning" in body
    assert '<span class="badge warn">line 2</span>' in body
