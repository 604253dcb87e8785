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
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.append(inline.formset.management_form)
        forms.extend(inline.formset.forms)
    data: dict[str, Any] = {}
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if isinstance(field, BooleanField):
                value = "on" if value else None
            if value not in (None, ""):
                data[form.add_prefix(name)] = value
    return data


def rule_fields(data: dict[str, Any], index: int) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k.startswith(f"rules-{index}-")}


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


def test_the_change_page_shows_rules_in_order_with_passwords_masked(
    admin_site: Client, table: MailSender
) -> None:
    response = admin_site.get(change_url(table))
    assert response.status_code == 200
    body = response.content.decode()
    assert SECRET not in body
    assert "pa:ss" not in body
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in body
    assert "password set" in body
    data = posted(response)
    assert [data[f"rules-{i}-text"] for i in range(3)] == [
        TEXTS[0],
        "* joe:********@smtp.corp.example $authsender=joe $end",
        TEXTS[2],
    ]
    assert [data[f"rules-{i}-order"] for i in range(3)] == [1, 2, 3]


def test_the_change_page_queries_do_not_grow_with_the_rules(
    admin_site: Client, table: MailSender
) -> None:
    with CaptureQueriesContext(connection) as few:
        admin_site.get(change_url(table))
    for n in range(20):
        add_rule(table, f"d{n}.example u:p@relay.example.net", actor=ACTOR)
    with CaptureQueriesContext(connection) as more:
        admin_site.get(change_url(table))
    assert len(more) == len(few)


# ------------------------------------------------------------------ saving rules


def test_an_edited_rule_is_saved_canonical_with_an_admin_revision(
    admin_site: Client, admin_user: Any, table: MailSender
) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["rules-0-text"] = "  A.Example   Relay.Example.NET:2525  $END "
    response = admin_site.post(change_url(table), data)
    assert response.status_code == 302, response.context["errors"]
    assert texts(table) == [
        "a.example relay.example.net:2525 $end",
        TEXTS[1],  # masked and untouched: the password is kept
        TEXTS[2],
    ]
    table.refresh_from_db()
    revision = table.revisions.get(number=table.revision)
    assert revision.number == 2
    assert revision.source == Revision.Source.ADMIN
    assert revision.author == admin_user


def test_editing_a_masked_rule_keeps_its_password(admin_site: Client, table: MailSender) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["rules-1-text"] = "* joe:********@smtp.corp.example $authsender=joe $priority:5 $end"
    data["rules-1-comment"] = "head office"
    assert admin_site.post(change_url(table), data).status_code == 302
    rule = table.rules.get(position=2)
    assert rule.text == f"* joe:{SECRET}@smtp.corp.example $authsender=joe $priority:5 $end"
    assert rule.comment == "head office"


def test_a_bad_rule_is_refused_with_its_column_and_nothing_changes(
    admin_site: Client, table: MailSender
) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["rules-2-text"] = "c.example relay.example.net $sizee>5"
    response = admin_site.post(change_url(table), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[2].errors["text"] == [
        'col 29: unknown attribute "$sizee" (did you mean $size?)'
    ]
    assert texts(table) == TEXTS
    assert table.revisions.count() == 1
    assert "c.example relay.example.net $sizee&gt;5" in response.content.decode()


def test_a_mask_with_no_stored_password_must_be_typed(
    admin_site: Client, table: MailSender
) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["rules-1-text"] = "* joe:********@other.example $authsender=joe $end"
    response = admin_site.post(change_url(table), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.forms[1].errors["text"] == [
        "col 7: type the password for joe at other.example:25: ******** only keeps a "
        "password that is already stored"
    ]
    assert texts(table) == TEXTS


def test_deleting_a_rule_keeps_positions_dense(admin_site: Client, table: MailSender) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["rules-0-DELETE"] = "on"
    assert admin_site.post(change_url(table), data).status_code == 302
    assert texts(table) == TEXTS[1:]
    assert list(table.rules.values_list("position", flat=True)) == [1, 2]


def test_positions_reorder_and_new_rows_go_last(admin_site: Client, table: MailSender) -> None:
    data = posted(admin_site.get(change_url(table)))
    data["rules-2-order"] = "1"
    data["rules-0-order"] = "3"
    data["rules-3-text"] = "new.example relay.example.net"
    data["rules-3-enabled"] = "on"
    assert admin_site.post(change_url(table), data).status_code == 302
    assert texts(table) == [TEXTS[2], TEXTS[1], TEXTS[0], "new.example relay.example.net"]
    assert list(table.rules.values_list("position", flat=True)) == [1, 2, 3, 4]


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
    data = posted(admin_site.get(change_url(table)))
    add_rule(table, "someone.example else.example.net", actor=ACTOR)
    data["rules-0-comment"] = "mine"
    response = admin_site.post(change_url(table), data)
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert formset.non_form_errors() == [
        "The rules were changed by someone else since this page was opened (it showed "
        "revision 1, the table is now at revision 2). Reload the page to see their change; "
        "your rule changes were not saved."
    ]
    assert texts(table) == [*TEXTS, "someone.example else.example.net"]


def test_a_new_sender_with_rules_gets_its_first_revision(admin_site: Client, db: None) -> None:
    response = admin_site.get(reverse("admin:senders_mailsender_add"))
    data = posted(response)
    data.update(
        {
            "name": "Branch",
            "slug": "branch",
            "rules-0-text": "Example.COM  smtp.example.net",
            "rules-0-enabled": "on",
        }
    )
    response = admin_site.post(reverse("admin:senders_mailsender_add"), data)
    assert response.status_code == 302
    sender = MailSender.objects.get(slug="branch")
    assert texts(sender) == ["example.com smtp.example.net"]
    assert sender.revision == 1
    assert sender.revisions.get().source == Revision.Source.ADMIN


# ------------------------------------------------------------------ permissions


def test_non_staff_users_are_sent_to_the_admin_login(
    admin_client_role: Client, table: MailSender
) -> None:
    response = admin_client_role.get(change_url(table))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_a_staff_viewer_can_look_but_not_change(viewer: Any, table: MailSender) -> None:
    client = staff(viewer)
    response = client.get(change_url(table))
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    data = posted(response)
    data["rules-0-text"] = "z.example relay.example.net"
    assert client.post(change_url(table), data).status_code == 403
    assert texts(table) == TEXTS


def test_staff_without_rule_permissions_cannot_change_rules(nobody: Any, table: MailSender) -> None:
    nobody.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_mailsender", "change_mailsender"])
    )
    client = staff(nobody)
    response = client.get(change_url(table))
    assert response.status_code == 200
    assert response.context["inline_admin_formsets"] == []
    data = posted(response)
    data["name"] = "Renamed"
    data["rules-TOTAL_FORMS"] = "1"
    data["rules-INITIAL_FORMS"] = "0"
    data["rules-0-text"] = "z.example relay.example.net"
    assert client.post(change_url(table), data).status_code == 302
    assert texts(table) == TEXTS
    table.refresh_from_db()
    assert table.name == "Renamed"


def test_admin_posts_need_csrf(admin_user: Any, table: MailSender) -> None:
    admin_user.is_staff = True
    admin_user.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    data = posted(client.get(change_url(table)))
    data["rules-0-DELETE"] = "on"
    assert client.post(change_url(table), data).status_code == 403
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
