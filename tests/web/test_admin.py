"""Django admin: senders with rules inline (through the table services), revisions read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.forms import BooleanField
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
SECRET = "pa:ss@word"
TEXTS = [
    "a.example relay.example.net",
    f"* joe:{SECRET}@smtp.corp.example $authsender=joe $end",
    "c.example relay.example.net:587",
]


def change_url(sender: MailSender) -> str:
    return reverse("admin:senders_mailsender_change", args=[sender.pk])


def rule_url(sender: MailSender, position: int) -> str:
    rule = sender.rules.get(position=position)
    return reverse("admin:senders_overriderule_change", args=[rule.pk])


def rules_url(sender: MailSender) -> str:
    return reverse("admin:senders_overriderule_changelist") + f"?sender__id__exact={sender.pk}"


def texts(sender: MailSender) -> list[str]:
    return list(sender.rules.order_by("position").values_list("text", flat=True))


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document("\n".join(TEXTS) + "\n"), actor=ACTOR)
    sender.refresh_from_db()
    return sender


def staff(user: Any) -> Client:
    user.is_staff = True
    user.save()
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_site(admin_user: Any) -> Client:
    """A user in the admin role, allowed into the Django admin."""
    return staff(admin_user)


def posted(response: Any) -> dict[str, Any]:
    """The data the change page's form would post back, untouched."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, BooleanField):
            value = "on" if value else None
        if value not in (None, ""):
            data[form.add_prefix(name)] = value
    return data


# ------------------------------------------------------------------ reading


def test_the_list_shows_rule_counts_without_a_query_per_sender(
    admin_site: Client, table: MailSender
) -> None:
    other = MailSender.objects.create(name="Branch", slug="branch")
    add_rule(other, "x.example relay.example.net", actor=ACTOR)
    with CaptureQueriesContext(connection) as few:
        response = admin_site.get(reverse("admin:senders_mailsender_changelist"))
    assert response.status_code == 200
    counts = {s.slug: s.rule_count for s in response.context["cl"].result_list}
    assert counts == {"main": 3, "branch": 1}
    for n in range(5):
        MailSender.objects.create(name=f"More {n}", slug=f"more-{n}")
    with CaptureQueriesContext(connection) as more:
        admin_site.get(reverse("admin:senders_mailsender_changelist"))
    assert len(more) == len(few)


def test_the_list_can_be_searched_and_filtered(admin_site: Client, table: MailSender) -> None:
    MailSender.objects.create(name="Branch", slug="branch", enabled=False)
    url = reverse("admin:senders_mailsender_changelist")
    found = admin_site.get(url, {"q": "bran"}).context["cl"].result_list
    assert [s.slug for s in found] == ["branch"]
    found = admin_site.get(url, {"enabled__exact": "1"}).context["cl"].result_list
    assert [s.slug for s in found] == ["main"]


def test_the_sender_page_links_to_its_rules_instead_of_showing_them(
    admin_site: Client, table: MailSender
) -> None:
    response = admin_site.get(change_url(table))
    assert response.status_code == 200
    body = response.content.decode()
    assert f'<a href="{rules_url(table)}">Rules (3) →</a>' in body
    assert "relay.example.net" not in body
    assert response.context["inline_admin_formsets"] == []


def test_the_slug_help_shows_the_export_url_as_text(admin_site: Client, table: MailSender) -> None:
    body = admin_site.get(change_url(table)).content.decode()
    assert "Used in URLs and by delivery agents: /export/&lt;slug&gt;.txt" in body


def test_the_rule_list_shows_a_senders_rules_in_order_with_passwords_masked(
    admin_site: Client, table: MailSender
) -> None:
    other = MailSender.objects.create(name="Branch", slug="branch")
    add_rule(other, "x.example relay.example.net", actor=ACTOR)
    response = admin_site.get(rules_url(table))
    assert response.status_code == 200
    body = response.content.decode()
    assert SECRET not in body
    assert "pa:ss" not in body
    assert [r.position for r in response.context["cl"].result_list] == [1, 2, 3]
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in body
    assert "password set" in body
    assert "x.example" not in body


def test_the_rule_list_is_paginated(admin_site: Client, table: MailSender) -> None:
    entries = parse_document("".join(f"d{n}.example relay.example.net\n" for n in range(250)))
    replace_table(table, entries, actor=ACTOR)
    response = admin_site.get(rules_url(table), {"p": "2"})
    assert [r.position for r in response.context["cl"].result_list] == list(range(101, 201))
    assert response.context["cl"].result_count == 250


def test_the_rule_change_page_shows_the_rule_masked(admin_site: Client, table: MailSender) -> None:
    response = admin_site.get(rule_url(table, 2))
    assert response.status_code == 200
    body = response.content.decode()
    assert SECRET not in body
    assert "pa:ss" not in body
    data = posted(response)
    assert data["text"] == "* joe:********@smtp.corp.example $authsender=joe $end"
    assert data["order"] == 2
    assert data["table_revision"] == 1


def test_the_sender_page_is_fast_with_a_large_table(admin_site: Client, table: MailSender) -> None:
    with CaptureQueriesContext(connection) as few:
        admin_site.get(change_url(table))
    entries = parse_document("".join(f"d{n}.example u:p@relay.example.net\n" for n in range(2000)))
    replace_table(table, entries, actor=ACTOR)
    with CaptureQueriesContext(connection) as more:
        response = admin_site.get(change_url(table))
    assert len(more) == len(few)
    assert len(response.content) < 50_000
    assert "Rules (2000) →" in response.content.decode()


# ------------------------------------------------------------------ saving rules


def test_an_edited_rule_is_saved_canonical_with_an_admin_revision(
    admin_site: Client, admin_user: Any, table: MailSender
) -> None:
    data = posted(admin_site.get(rule_url(table, 1)))
    data["text"] = "  A.Example   Relay.Example.NET:2525  $END "
    response = admin_site.post(rule_url(table, 1), data)
    assert response.status_code == 302, response.context["errors"]
    assert texts(table) == [
        "a.example relay.example.net:2525 $end",
        TEXTS[1],  # untouched: the password is kept
        TEXTS[2],
    ]
    table.refresh_from_db()
    revision = table.revisions.get(number=table.revision)
    assert revision.number == 2
    assert revision.source == Revision.Source.ADMIN
    assert revision.author == admin_user


def test_editing_a_masked_rule_keeps_its_password(admin_site: Client, table: MailSender) -> None:
    data = posted(admin_site.get(rule_url(table, 2)))
    data["text"] = "* joe:********@smtp.corp.example $authsender=joe $priority:5 $end"
    data["comment"] = "head office"
    assert admin_site.post(rule_url(table, 2), data).status_code == 302
    rule = table.rules.get(position=2)
    assert rule.text == f"* joe:{SECRET}@smtp.corp.example $authsender=joe $priority:5 $end"
    assert rule.comment == "head office"


def test_a_bad_rule_is_refused_with_its_column_and_nothing_changes(
    admin_site: Client, table: MailSender
) -> None:
    data = posted(admin_site.get(rule_url(table, 3)))
    data["text"] = "c.example relay.example.net $sizee>5"
    response = admin_site.post(rule_url(table, 3), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["text"] == [
        'col 29: unknown attribute "$sizee" (did you mean $size?)'
    ]
    assert texts(table) == TEXTS
    assert table.revisions.count() == 1
    assert "c.example relay.example.net $sizee&gt;5" in response.content.decode()


def test_a_mask_with_no_stored_password_must_be_typed(
    admin_site: Client, table: MailSender
) -> None:
    data = posted(admin_site.get(rule_url(table, 2)))
    data["text"] = "* joe:********@other.example $authsender=joe $end"
    response = admin_site.post(rule_url(table, 2), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["text"] == [
        "col 7: type the password for joe at other.example:25: ******** only keeps a "
        "password that is already stored"
    ]
    assert texts(table) == TEXTS


def test_deleting_a_rule_keeps_positions_dense(admin_site: Client, table: MailSender) -> None:
    rule = table.rules.get(position=1)
    url = reverse("admin:senders_overriderule_delete", args=[rule.pk])
    assert admin_site.post(url, {"post": "yes"}).status_code == 302
    assert texts(table) == TEXTS[1:]
    assert list(table.rules.values_list("position", flat=True)) == [1, 2]
    table.refresh_from_db()
    assert table.revisions.get(number=table.revision).source == Revision.Source.ADMIN


def test_position_1_moves_a_rule_to_the_top(admin_site: Client, table: MailSender) -> None:
    # Issue 11, bug 5: Position 1 put the rule at 2 (ties kept the form order).
    data = posted(admin_site.get(rule_url(table, 3)))
    data["order"] = "1"
    assert admin_site.post(rule_url(table, 3), data).status_code == 302
    assert texts(table) == [TEXTS[2], TEXTS[0], TEXTS[1]]
    assert list(table.rules.values_list("position", flat=True)) == [1, 2, 3]


def test_a_position_past_the_end_puts_the_rule_last(admin_site: Client, table: MailSender) -> None:
    data = posted(admin_site.get(rule_url(table, 1)))
    data["order"] = "99"
    assert admin_site.post(rule_url(table, 1), data).status_code == 302
    assert texts(table) == [TEXTS[1], TEXTS[2], TEXTS[0]]


def test_a_new_rule_goes_where_its_position_says(admin_site: Client, table: MailSender) -> None:
    add = reverse("admin:senders_overriderule_add")
    response = admin_site.get(add, {"sender": table.pk})
    assert response.context["adminform"].form["sender"].value() == str(table.pk)
    data = {"sender": table.pk, "order": "2", "text": "New.Example relay.example.net"}
    data["enabled"] = "on"
    assert admin_site.post(add, data).status_code == 302
    assert texts(table) == [TEXTS[0], "new.example relay.example.net", *TEXTS[1:]]
    data = {"sender": table.pk, "text": "last.example relay.example.net", "enabled": "on"}
    assert admin_site.post(add, data).status_code == 302
    assert texts(table)[-1] == "last.example relay.example.net"
    table.refresh_from_db()
    assert table.revision == 3


def test_changing_only_the_sender_records_no_table_revision(
    admin_site: Client, table: MailSender
) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["name"] = "Head office"
    assert admin_site.post(change_url(table), data).status_code == 302
    table.refresh_from_db()
    assert table.name == "Head office"
    assert table.revision == 1
    assert texts(table) == TEXTS


def test_a_stale_page_is_refused(admin_site: Client, table: MailSender) -> None:
    data = posted(admin_site.get(rule_url(table, 1)))
    add_rule(table, "someone.example else.example.net", actor=ACTOR)
    data["comment"] = "mine"
    response = admin_site.post(rule_url(table, 1), data, follow=True)
    assert [str(m) for m in response.context["messages"]] == [
        "Nothing was saved: the rules were changed by someone else since this page was "
        "opened (now at revision 2). Review their change and make yours again."
    ]
    assert texts(table) == [*TEXTS, "someone.example else.example.net"]
    assert table.rules.get(position=1).comment == ""


# ------------------------------------------------------------------ permissions


def test_non_staff_users_are_sent_to_the_admin_login(
    admin_client_role: Client, table: MailSender
) -> None:
    response = admin_client_role.get(change_url(table))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_staff_viewer_can_look_but_not_change(viewer: Any, table: MailSender) -> None:
    client = staff(viewer)
    assert client.get(rules_url(table)).status_code == 200
    response = client.get(rule_url(table, 2))
    assert response.status_code == 200
    body = response.content.decode()
    assert SECRET not in body
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in body
    data = {"sender": table.pk, "text": "z.example relay.example.net", "enabled": "on"}
    assert client.post(rule_url(table, 1), data).status_code == 403
    assert texts(table) == TEXTS


def test_staff_without_rule_permissions_cannot_change_rules(nobody: Any, table: MailSender) -> None:
    nobody.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_mailsender", "change_mailsender"])
    )
    client = staff(nobody)
    assert client.get(change_url(table)).status_code == 200
    assert client.get(rules_url(table)).status_code == 403
    data = {"sender": table.pk, "text": "z.example relay.example.net", "enabled": "on"}
    assert client.post(rule_url(table, 1), data).status_code == 403
    assert texts(table) == TEXTS


def test_admin_posts_need_csrf(admin_user: Any, table: MailSender) -> None:
    admin_user.is_staff = True
    admin_user.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    rule = table.rules.get(position=1)
    url = reverse("admin:senders_overriderule_delete", args=[rule.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert texts(table) == TEXTS


# ------------------------------------------------------------------ revisions


def test_revisions_are_read_only_with_passwords_masked(
    admin_site: Client, table: MailSender
) -> None:
    revision = table.revisions.get()
    url = reverse("admin:senders_revision_change", args=[revision.pk])
    response = admin_site.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in body
    assert SECRET not in body
    assert "pa:ss" not in body
    assert admin_site.post(url, {"message": "rewritten"}).status_code == 403
    assert admin_site.get(reverse("admin:senders_revision_add")).status_code == 403
    delete = reverse("admin:senders_revision_delete", args=[revision.pk])
    assert admin_site.post(delete, {"post": "yes"}).status_code == 403
    assert Revision.objects.filter(pk=revision.pk, message="").exists()


def test_the_revision_list_works(admin_site: Client, table: MailSender) -> None:
    response = admin_site.get(reverse("admin:senders_revision_changelist"), {"q": "main"})
    assert response.status_code == 200
    assert [r.number for r in response.context["cl"].result_list] == [1]
