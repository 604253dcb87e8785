"""Relay passwords and export tokens: shown only where they must be.

A relay password appears in no HTML page, htmx fragment, log line, error page or
history diff — only in the token-protected export. Editing a rule without retyping
its password keeps it. Export tokens are compared in constant time and never logged.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from senders import export
from senders.models import MailSender, OverrideRule, Revision
from senders.tables import Actor, update_rule
from tests.security.conftest import ACTOR, SECRET, client_as
from tests.security.test_access import Route, discovered

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def admin(table: MailSender, django_user_model: Any) -> Client:
    return client_as(django_user_model, "admin", staff=True)


def objects(table: MailSender, django_user_model: Any) -> dict[str, Any]:
    from django.contrib.contenttypes.models import ContentType

    return {
        "sender": table,
        "rule": table.rules.get(position=2),
        "sender_type": ContentType.objects.get_for_model(MailSender).pk,
        "pks": {
            "user": django_user_model.objects.first().pk,
            MailSender: table.pk,
            OverrideRule: table.rules.get(position=2).pk,
            Revision: table.revisions.get(number=table.revision).pk,
        },
    }


def test_no_page_fragment_or_log_line_shows_a_relay_password(
    admin: Client, table: MailSender, django_user_model: Any, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    rule = table.rules.get(position=2)
    # A change of password, so that the history has one to (not) show.
    update_rule(rule, actor=ACTOR, text=f"* joe:{SECRET}-2@smtp.corp.example $authsender=joe $end")
    update_rule(rule, actor=ACTOR, text=f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end")
    table.refresh_from_db()
    slug, pk = table.slug, rule.pk
    bodies: dict[str, bytes] = {}
    # Every GET page of every URL pattern, full page and htmx fragment.
    for route in discovered():
        url = Route(route.name, route.route).url(objects(table, django_user_model))
        if route.name in ("logout", "admin:logout") or "delete" in route.name:
            continue
        for headers in ({}, HX):
            response = admin.get(url, **headers)
            bodies[f"GET {url} {bool(headers)}"] = response.content
    # Forms that show a rule back: errors, conflicts, the tester's trace, diffs.
    posts = [
        (
            f"/senders/{slug}/rules/{pk}/edit/",
            {"text": "* joe:********@smtp.corp.example $x", "revision": table.revision},
        ),
        (
            f"/senders/{slug}/rules/{pk}/edit/",
            {"text": "* joe:********@smtp.corp.example", "revision": 0},
        ),
        (f"/senders/{slug}/rules/validate/", {"text": f"* joe:{SECRET}@smtp.corp.example"}),
        (f"/senders/{slug}/bulk/", {"text": "* joe:********@smtp.corp.example $bad"}),
        (
            f"/senders/{slug}/bulk/",
            {"text": "* joe:********@smtp.corp.example", "action": "save", "revision": 0},
        ),
        (
            f"/senders/{slug}/test/",
            {
                "recipients": "bob@x.example",
                "auth_sender": "joe",
                "dns": "manual",
                "mx_records": "",
            },
        ),
        (
            f"/senders/{slug}/test/",
            {
                "recipients": "x.example",
                "auth_sender": "joe",
                "dns": "manual",
                "table": "text",
                "text": "* joe:********@smtp.corp.example\n",
            },
        ),
        (f"/senders/{slug}/history/1/rollback/", {"revision": 0}),
        (f"/senders/{slug}/rules/{pk}/toggle/", {"enabled": "0", "revision": 0}),
    ]
    for url, data in posts:
        for headers in ({}, HX):
            bodies[f"POST {url} {data} {bool(headers)}"] = admin.post(url, data, **headers).content
    for number in range(0, table.revision + 1):
        for other in range(0, table.revision + 1):
            url = f"/senders/{slug}/history/diff/?a={number}&b={other}"
            bodies[url] = admin.get(url).content
    leaked = [where for where, body in bodies.items() if SECRET.encode() in body]
    (change,) = [
        k for k in bodies if re.fullmatch(r"GET /admin/senders/overriderule/\d+/change/ False", k)
    ]
    assert b"joe:********@smtp.corp.example" in bodies[change]  # the admin's rule, masked
    assert leaked == []
    assert len(bodies) > 150
    assert SECRET not in caplog.text
    # It is there all the same, and the pages say so.
    assert SECRET in table.rules.get(pk=pk).text
    assert b"password changed" in admin.get(f"/senders/{slug}/history/diff/?a=2&b=3").content


def test_error_pages_do_not_show_it(admin: Client, table: MailSender, settings: Any) -> None:
    settings.DEBUG = False
    for url in (f"/senders/{table.slug}/rules/999999/edit/", "/no/such/page/"):
        assert SECRET.encode() not in admin.get(url).content


def test_editing_without_retyping_keeps_the_password(admin: Client, table: MailSender) -> None:
    rule = table.rules.get(position=2)
    form = admin.get(f"/senders/{table.slug}/rules/{rule.pk}/edit/")
    shown = form.context["form"].initial["text"]
    assert shown == "* joe:********@smtp.corp.example $authsender=joe $end"
    response = admin.post(
        f"/senders/{table.slug}/rules/{rule.pk}/edit/",
        {"text": shown + " $priority:5", "enabled": "on", "revision": table.revision},
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.text == f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end $priority:5"
    # The bulk editor shows the mask too, and saving it as shown keeps the password.
    bulk = admin.get(f"/senders/{table.slug}/bulk/")
    text = bulk.context["form"].initial["text"]
    assert SECRET not in text and "joe:********@" in text
    table.refresh_from_db()
    data = {"text": text, "action": "save", "revision": table.revision}
    assert admin.post(f"/senders/{table.slug}/bulk/", data).status_code == 302
    assert SECRET in table.rules.get(position=2).text


def test_only_the_token_protected_export_shows_it(client: Client, table: MailSender) -> None:
    token = export.create_token(table)
    assert SECRET.encode() not in client.get(f"/export/{table.slug}.txt").content  # 401
    text = client.get(f"/export/{table.slug}.txt", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end\n" in text.content.decode()
    data = json.loads(client.get(f"/export/{table.slug}.json?token={token}").content)
    assert data["rules"][1]["server"]["password"] == SECRET


def test_tokens_are_compared_in_constant_time(table: MailSender) -> None:
    token = export.create_token(table)
    real = export.hmac.compare_digest
    with mock.patch.object(export.hmac, "compare_digest", side_effect=real) as compare:
        assert export.sender_for_token(table.slug, token) == table
        assert export.sender_for_token(table.slug, token[:-1] + "x") is None
        assert export.sender_for_token("no-such-sender", token) is None
        assert export.sender_for_token(table.slug, None) is None
        assert export.sender_for_token(table.slug, "x" * 10_000) is None
    # Every case takes the same path: one comparison of two SHA-256 hex digests.
    assert compare.call_count == 5
    assert all(len(a) == len(b) == 64 for (a, b), _ in compare.call_args_list)


def test_tokens_are_never_logged(
    client: Client, admin: Client, table: MailSender, caplog: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    response = admin.post(reverse("senders:token", args=[table.slug]), {"action": "rotate"})
    token = response.context["new_token"]
    assert token and token in response.content.decode()  # shown once, to the admin
    for url, headers in [
        (f"/export/{table.slug}.txt?token={token}", {}),
        (f"/export/{table.slug}.txt", {"HTTP_AUTHORIZATION": f"Bearer {token}"}),
        (f"/export/{table.slug}.txt?token=wrong-{token}", {}),
        (f"/export/{table.slug}.json", {"HTTP_AUTHORIZATION": f"Bearer wrong-{token}"}),
    ]:
        client.get(url, **headers)
    assert token not in caplog.text
    assert "export token of main rotated by admin-user" in caplog.text


def test_the_access_log_format_leaves_out_query_strings() -> None:
    """gunicorn.conf.py: `?token=` must not land in the access log."""
    import runpy
    from pathlib import Path

    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    access = config["access_log_format"]
    assert "%(U)s" in access  # the path alone
    assert "%(r)s" not in access and "%(q)s" not in access
    assert Actor  # (imported for the fixtures' history)
