"""International domains read as people write them; their punycode shows on hover."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule
from senders.templatetags.idn_tags import idn, to_unicode

pytestmark = pytest.mark.django_db

BUECHER = '<span class="idn" title="xn--bcher-kva.example">bücher.example</span>'
MUELLER = '<span class="idn" title="smtp.xn--mller-kva.de">smtp.müller.de</span>'


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    add_rule(
        sender, "bücher.example smtp.müller.de:587", actor=Actor(source=Revision.Source.COMMAND)
    )
    return sender


def test_punycode_labels_are_decoded_and_others_kept() -> None:
    assert to_unicode("*.xn--bcher-kva.example") == "*.bücher.example"
    assert to_unicode("XN--BCHER-KVA.example") == "bücher.example"
    assert to_unicode("xn--.example") == "xn--.example"  # not valid punycode: as it is
    assert idn("smtp.example.org") == "smtp.example.org"
    assert idn("<b>.xn--bcher-kva.example") == (
        '<span class="idn" title="&lt;b&gt;.xn--bcher-kva.example">&lt;b&gt;.bücher.example</span>'
    )


def test_the_table_breakdown_shows_unicode(editor_client: Client, table: MailSender) -> None:
    html = editor_client.get(reverse("senders:detail", args=[table.slug])).content.decode()
    assert f"<dt>Domain</dt><dd><code>{BUECHER}</code></dd>" in html
    assert f"<dt>Server</dt><dd><code>{MUELLER}</code> port 587</dd>" in html


def test_the_tester_shows_unicode(editor_client: Client, table: MailSender) -> None:
    response = editor_client.get(
        reverse("senders:test", args=[table.slug]),
        {"recipients": "anna@bücher.example", "dns": "manual", "mx_records": ""},
    )
    html = response.content.decode()
    assert f"<code>{BUECHER}</code>" in html
    assert f"<td><code>{MUELLER}</code></td>" in html
