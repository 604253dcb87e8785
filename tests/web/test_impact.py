"""Impact of a change: which recipients a change routes elsewhere, on the page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import parse_document
from tests.conftest_dns import dns_server  # noqa: F401  (a pytest fixture)
from tests.engine.dnsserver import DnsTestServer

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "s3cret-pass"
# Every table ends with a catch-all, so no test here needs live DNS.
REV1 = "example.com relay.example:587 $end\n* catchall.example\n"
REV2 = f"example.com joe:{SECRET}@relay2.example:587 $end\n* catchall.example\n"
RECIPIENTS = "bob@example.com\nann@example.com\ncid@other.example\n"


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document(REV1), actor=ACTOR)
    change = replace_table(sender, parse_document(REV2), actor=ACTOR)
    return change.sender


def url(sender: MailSender) -> str:
    return reverse("senders:impact", args=[sender.slug])


def run(client: Client, sender: MailSender, **fields: Any) -> Any:
    data = {"compare": "revisions", "a": "1", "b": "2", "dns": "live", "run": "page"}
    data.update(fields)
    return client.post(url(sender), data)


def test_a_viewer_sees_the_form_with_the_limits(viewer_client: Client, table: MailSender) -> None:
    response = viewer_client.get(url(table) + "?a=1&b=2")
    assert response.status_code == 200
    page = response.content.decode()
    assert "At most 100,000 lines; an uploaded file or pasted text at most 2.0\xa0MB." in page
    assert 'name="a" id="id_a" value="1"' in page
    assert 'name="b" id="id_b" value="2"' in page


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client, table: MailSender) -> None:
    response = client.get(url(table))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_groups_the_recipients_of_two_revisions(
    viewer_client: Client, table: MailSender
) -> None:
    response = run(viewer_client, table, recipients=RECIPIENTS)
    assert response.status_code == 200
    page = response.content.decode()
    assert "From revision 1 to revision 2" in page
    assert "2 of 3 recipients would change route" in page
    assert "1 unchanged" in page
    assert "<code>override: relay.example:587</code>" in page
    assert "<code>override: joe:********@relay2.example:587</code>" in page
    assert "The trace for bob@example.com" in page
    assert "<td><code>example.com joe:********@relay2.example:587 $end</code></td>" in page
    assert "not reached: rule 1 ended the walk ($end)" in page
    assert SECRET not in page


def test_it_compares_the_saved_table_with_unsaved_text(
    viewer_client: Client, table: MailSender
) -> None:
    text = "example.com other-relay.example $end\n* catchall.example\n"
    response = run(viewer_client, table, compare="text", text=text, recipients=RECIPIENTS)
    page = response.content.decode()
    assert "From the saved table (revision 2) to the unsaved text" in page
    assert "<code>override: other-relay.example:25</code>" in page
    assert "2 of 3 recipients would change route" in page


def test_the_bulk_editors_button_opens_the_form_with_its_text(
    editor_client: Client, table: MailSender
) -> None:
    response = editor_client.post(
        url(table), {"text": "* x.example\n", "revision": "2", "action": "impact"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "* x.example" in page
    assert (
        '<input type="radio" name="compare" value="text" id="id_compare_1" required checked>'
        in (page)
    )
    assert "Nothing was evaluated" not in page


def test_the_bulk_editor_and_the_diff_link_to_the_page(
    editor_client: Client, table: MailSender
) -> None:
    bulk = editor_client.get(reverse("senders:bulk", args=[table.slug])).content.decode()
    assert f'formaction="{url(table)}"' in bulk
    assert "What would this change?" in bulk
    diff = editor_client.get(reverse("senders:diff", args=[table.slug]) + "?a=1&b=2")
    assert f'href="{url(table)}?a=1&amp;b=2">Impact on recipients</a>' in diff.content.decode()


def test_it_reports_bad_unsaved_text_by_line(viewer_client: Client, table: MailSender) -> None:
    response = run(
        viewer_client,
        table,
        compare="text",
        text="ok.example relay\nbad line here\n",
        recipients=RECIPIENTS,
    )
    assert response.status_code == 400
    assert "Unsaved table text: line 2, col" in response.content.decode()


def test_it_names_the_wrong_csv_column(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients="recipient,colour\nbob@example.com,red\n")
    assert response.status_code == 400
    assert (
        "Recipients (paste): line 1, column 2: unknown column &quot;colour&quot;"
        in response.content.decode()
    )


def test_it_refuses_a_binary_upload(viewer_client: Client, table: MailSender) -> None:
    upload = SimpleUploadedFile("list.txt", b"a.example\n\x00\x01\x02", "text/plain")
    response = run(viewer_client, table, file=upload)
    assert response.status_code == 400
    assert (
        "…or upload a file: line 2: this is not a text file (it holds binary data)."
        in response.content.decode()
    )


def test_it_refuses_a_missing_revision(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, b="9", recipients=RECIPIENTS)
    assert response.status_code == 400
    assert (
        "Revision B: Revision 9 does not exist (this table has revisions 1 to 2)."
        in response.content.decode()
    )


def test_it_reads_an_uploaded_postfix_log(viewer_client: Client, table: MailSender) -> None:
    log = (
        "Dec  4 10:00:02 mx postfix/smtp[123]: 4F3A2B: to=<bob@example.com>, "
        "relay=mx.example.com[192.0.2.1]:25, delay=1, status=sent (250 ok)\n"
    )
    upload = SimpleUploadedFile("mail.log", log.encode(), "text/plain")
    page = run(viewer_client, table, file=upload).content.decode()
    assert "Read as a Postfix log" in page
    assert "1 of 1 recipient would change route" in page


def test_it_downloads_every_recipient_as_csv(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients=RECIPIENTS, run="csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="impact-main.csv"'
    body = response.content.decode()
    assert SECRET not in body
    assert list(csv.reader(io.StringIO(body))) == [
        ["recipient", "old route", "new route", "changed"],
        [
            "bob@example.com",
            "override: relay.example:587",
            "override: joe:********@relay2.example:587",
            "yes",
        ],
        [
            "ann@example.com",
            "override: relay.example:587",
            "override: joe:********@relay2.example:587",
            "yes",
        ],
        [
            "cid@other.example",
            "override: catchall.example:25",
            "override: catchall.example:25",
            "no",
        ],
    ]


def test_it_links_each_changed_recipient_to_the_tester(
    viewer_client: Client, table: MailSender
) -> None:
    page = run(viewer_client, table, recipients="recipient,size\nbob@example.com,2000\n")
    tester = reverse("senders:test", args=[table.slug])
    assert (
        f'href="{tester}?recipients=bob%40example.com&amp;mail_from=&amp;auth_sender=&amp;'
        'size=2000&amp;retries=0&amp;dns=live&amp;revision=2"' in page.content.decode()
    )


def test_a_dns_failure_defers_those_recipients(
    viewer_client: Client,
    sender: MailSender,
    dns_server: DnsTestServer,  # noqa: F811
) -> None:
    sender.nameservers = dns_server.address
    sender.save()
    replace_table(sender, parse_document("* catchall.example\n"), actor=ACTOR)
    new = "* google.example $dnsmx:*.google.com $end\n* catchall.example\n"
    replace_table(sender, parse_document(new), actor=ACTOR)
    before = dns_server.count("servfail.test", "MX")
    recipients = "a@servfail.test\nb@servfail.test\nc@mx.test\n"
    response = run(viewer_client, sender, recipients=recipients, dns="sender")
    assert response.status_code == 200
    page = response.content.decode()
    assert dns_server.count("servfail.test", "MX") - before == 1
    assert "2 of 3 recipients would change route" in page
    assert "<code>override: catchall.example:25</code>" in page
    assert "<code>defer</code>" in page
    assert "retries=0&amp;dns=sender" in page  # the test page asks the same DNS servers


def test_a_million_lines_are_refused_naming_the_line(
    viewer_client: Client, table: MailSender
) -> None:
    upload = SimpleUploadedFile("list.txt", b"a\n" * 1_000_000, "text/plain")  # 2 MB
    response = run(viewer_client, table, file=upload)
    assert response.status_code == 400
    assert (
        "…or upload a file: line 100001: too many lines: a list may have at most 100,000."
        in response.content.decode()
    )


def test_an_upload_over_the_site_limit_is_refused_naming_it(
    viewer_client: Client, table: MailSender
) -> None:
    upload = SimpleUploadedFile("list.txt", b"a" * (2 * 1024 * 1024 + 1), "text/plain")
    response = run(viewer_client, table, file=upload)
    assert response.status_code == 413
    assert "a table (typed, pasted or uploaded) at most 2.0\xa0MB" in response.content.decode()


def test_each_changed_recipient_opens_its_test_against_both_revisions(
    viewer_client: Client, table: MailSender
) -> None:
    """Issue 12: every changed recipient's trace one click away, on either side."""
    import html as markup
    import re

    page = run(viewer_client, table, recipients=RECIPIENTS).content.decode()
    links = re.findall(r'<li><a href="([^"]+)">bob@example.com</a> <a href="([^"]+)"', page)
    assert links, "no test links for bob@example.com"
    new, old = (markup.unescape(link) for link in links[0])
    assert "revision=2" in new and "revision=1" in old
    after = viewer_client.get(new).content.decode()
    assert "routed by <strong>revision 2</strong> of the table" not in after  # current: plain
    assert "routed by the saved table (revision 2)" in after
    assert "joe:********@relay2.example" in after
    before = viewer_client.get(old).content.decode()
    assert "routed by <strong>revision 1</strong> of the table (the current one is revision 2)" in (
        before
    )
    assert "relay.example" in before and "relay2.example" not in before
    assert SECRET not in before + after


def test_against_unsaved_text_each_changed_recipient_is_one_click_from_its_test(
    viewer_client: Client, table: MailSender
) -> None:
    """The text travels once, in one form; each recipient's button posts it to the test."""
    import html as markup
    import re

    text = "example.com other-relay.example $end\n* catchall.example\n"
    page = run(
        viewer_client,
        table,
        compare="text",
        text=text,
        recipients="recipient,size\nbob@example.com,2000\n",
    ).content.decode()
    assert page.count('id="impact-tests"') == 1
    assert page.count("other-relay.example $end") >= 1
    button = re.search(
        r'<button type="submit" form="impact-tests" class="link" name="recipients" '
        r'value="bob@example.com" formaction="([^"]+)">',
        page,
    )
    assert button, "no test button for bob@example.com"
    action = markup.unescape(button.group(1))
    assert "size=2000" in action
    response = viewer_client.post(
        action, {"table": "text", "text": text, "recipients": "bob@example.com"}
    )
    tested = response.content.decode()
    assert response.status_code == 200
    assert "A message of 2000 bytes" in tested
    assert "routed by <strong>the unsaved text</strong>" in tested
    assert "other-relay.example" in tested and "relay2.example" in tested  # both sides
    assert SECRET not in page + tested
