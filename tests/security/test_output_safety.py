"""Output safety: markup, quotes and template syntax in stored text are shown as text on
every page (Django admin included) and in the export; the JSON export is valid JSON
for any stored text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from hypothesis import given
from hypothesis import strategies as st

from senders import export
from senders.models import MailSender, Revision
from senders.tables import Actor, replace_table
from senders.tabletext import Entry
from tests.security.conftest import WEB, client_as, fill
from tests.security.test_access import Route, discovered

pytestmark = pytest.mark.django_db

EVIL = "<script>alert(1)</script>"
QUOTES = "\"'><b>x</b>"
TEMPLATE = "{{ request.user }}{% debug %}"
MARKERS = [b"<script>alert(1)", b"<b>x</b>"]  # markup that would be live


@pytest.fixture
def hostile(sender: MailSender) -> MailSender:
    sender.name = f"Main {EVIL}{QUOTES}"
    sender.description = f"{TEMPLATE} {EVIL}"
    sender.local_domains = "example.com"
    sender.save()
    fill(
        sender,
        f"# {EVIL} {QUOTES} {TEMPLATE}\n"
        f"* relay.example $authsender={EVIL} $end\n"
        f"* u:{QUOTES}@relay.example $from~=/{QUOTES}/\n",
    )
    replace_table(
        sender,
        [Entry(f"* relay.example $authsender={TEMPLATE.replace(' ', '')}", comment=EVIL)],
        actor=Actor(source=Revision.Source.COMMAND, message=f"{EVIL}{TEMPLATE}"),
    )
    fill(sender, f"# {EVIL}\n* relay.example $authsender={EVIL} $end\n")
    sender.refresh_from_db()
    return sender


def test_every_page_shows_hostile_text_as_text(hostile: MailSender, django_user_model: Any) -> None:
    client = client_as(django_user_model, "admin", staff=True)
    objects = {
        "sender": hostile,
        "rule": hostile.rules.get(position=1),
        "sender_type": ContentType.objects.get_for_model(MailSender).pk,
        "pks": {
            "user": django_user_model.objects.first().pk,
            MailSender: hostile.pk,
            Revision: hostile.revisions.get(number=2).pk,
        },
    }
    pages = {}
    for route in discovered():
        if route.name in ("logout", "admin:logout") or "delete" in route.name:
            continue
        url = Route(route.name, route.route).url(objects)
        pages[url] = client.get(url).content
    slug = hostile.slug
    for url, data in [
        (
            f"/senders/{slug}/test/",
            {"recipients": "x.example", "auth_sender": EVIL, "dns": "manual"},
        ),
        (f"/senders/{slug}/history/diff/", {"a": "1", "b": "3"}),
        (f"/senders/{slug}/rules/validate/", {"text": f"* r.example $from={EVIL} $x"}),
    ]:
        pages[url + "?" + str(data)] = client.get(url, data).content
    bulk = f"/senders/{slug}/bulk/"
    pages["bulk-post"] = client.post(bulk, {"text": f"# {EVIL}\n{EVIL} x\n"}).content
    shown = [url for url, body in pages.items() if any(m in body for m in MARKERS)]
    assert shown == []
    escaped = [url for url, body in pages.items() if b"&lt;script&gt;alert(1)" in body]
    assert len(escaped) >= 12, escaped  # the text is there, escaped
    assert any(f"/admin/senders/mailsender/{hostile.pk}/change/" in u for u in escaped)
    # Template syntax is never evaluated: it comes back exactly as typed.
    assert b"{{ request.user }}{% debug %}" in pages[f"/senders/{slug}/"]


def test_the_text_export_is_plain_text(hostile: MailSender, client: Any) -> None:
    token = export.create_token(hostile)
    response = client.get(f"/export/{hostile.slug}.txt?token={token}")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == f"* relay.example $authsender={EVIL} $end\n".encode()


text_value = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp", "Cf")), min_size=1, max_size=30
)


@WEB
@given(values=st.lists(text_value, min_size=1, max_size=5))
def test_the_json_export_is_valid_json_for_any_stored_text(
    sender: MailSender, values: list[str]
) -> None:
    # `==`: with `=`, a value starting with "=" would be read as the operator `==`.
    lines = [f"* u:{v}@relay.example $authsender=={v} $from!={v}" for v in values]
    replace_table(sender, [Entry(line) for line in lines], actor=Actor())
    sender.refresh_from_db()
    body = export.export_body(sender, "json")
    body.decode("ascii")  # ASCII only: \\u escapes
    data = json.loads(body)
    assert [rule["server"]["password"] for rule in data["rules"]] == values
    assert [rule["conditions"][0]["value"] for rule in data["rules"]] == values
