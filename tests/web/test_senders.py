"""The senders: list with counts and search; create, edit and delete for admins."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from senders.export import create_token
from senders.models import MailSender, OverrideRule, Revision
from senders.tables import Actor, add_rule

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
INDEX = reverse("senders:index")
CREATE = reverse("senders:create")
HX = {"HTTP_HX_REQUEST": "true"}


def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Branch office",
        "slug": "branch",
        "description": "Mail from the branch",
        "enabled": "on",
        "nameservers": "",
        "local_domains": "",
    }
    return data | overrides


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ------------------------------------------------------------------ the list


def test_the_list_needs_login(client: Client, db: None) -> None:
    response = client.get(INDEX)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_the_list_needs_a_role(nobody: Any) -> None:
    client = Client()
    client.force_login(nobody)
    assert client.get(INDEX).status_code == 403


def test_the_list_shows_rule_counts_and_the_last_change(
    viewer_client: Client, sender: MailSender, editor: Any
) -> None:
    add_rule(sender, "a.example b.example", actor=Actor(user=editor))
    add_rule(sender, "c.example d.example", actor=Actor(user=editor))
    MailSender.objects.create(name="Quiet", slug="quiet", enabled=False)
    html = viewer_client.get(INDEX).content.decode()
    assert '<a href="/senders/main/">Main office</a>' in html
    assert "<td>2</td>" in html and "<td>0</td>" in html
    assert " by eddie</td>" in html
    assert '<span class="muted">never</span>' in html
    assert '<tr class="disabled">' in html


def test_the_list_does_not_run_a_query_per_sender(
    viewer_client: Client, django_assert_max_num_queries: Any
) -> None:
    for n in range(3):
        sender = MailSender.objects.create(name=f"S{n}", slug=f"s{n}")
        add_rule(sender, "a.example b.example", actor=ACTOR)
    with django_assert_max_num_queries(12) as few:
        viewer_client.get(INDEX)
    for n in range(3, 40):
        sender = MailSender.objects.create(name=f"S{n}", slug=f"s{n}")
        add_rule(sender, "a.example b.example", actor=ACTOR)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = viewer_client.get(INDEX)
    assert response.content.count(b"<td>1</td>") == 40


@pytest.mark.parametrize("q", ["branch", "BRANCH", "only-here", "from the br"])
def test_search_looks_at_name_slug_and_description(
    viewer_client: Client, sender: MailSender, q: str
) -> None:
    MailSender.objects.create(name="Branch", slug="only-here", description="Mail from the branch")
    html = viewer_client.get(INDEX, {"q": q}).content.decode()
    assert '<a href="/senders/only-here/">Branch</a>' in html
    assert "Main office" not in html


def test_search_says_when_nothing_matches(viewer_client: Client, sender: MailSender) -> None:
    html = viewer_client.get(INDEX, {"q": "<zzz>"}).content.decode()
    assert "No sender matches “&lt;zzz&gt;”." in html


def test_search_with_htmx_returns_only_the_list(viewer_client: Client, sender: MailSender) -> None:
    response = viewer_client.get(INDEX, {"q": "main"}, **HX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="sender-list">')
    assert "<html" not in html and 'role="search"' not in html
    assert "Main office" in html


@pytest.mark.parametrize(
    "query", [{"page": "x"}, {"page": "-3"}, {"q": "x" * 10_000}, {"q": "\x00"}]
)
def test_the_list_survives_junk_queries(
    viewer_client: Client, sender: MailSender, query: Any
) -> None:
    assert viewer_client.get(INDEX, query).status_code == 200


def test_viewers_get_no_new_sender_button(viewer_client: Client, db: None) -> None:
    assert CREATE not in viewer_client.get(INDEX).content.decode()


# ------------------------------------------------------------------ create


def test_admins_create_a_sender(admin_client_role: Client, db: None) -> None:
    response = admin_client_role.post(
        CREATE,
        form_data(
            nameservers="192.0.2.53, 192.0.2.54:5353 [2001:db8::53]:53, 2001:db8::1",
            local_domains="Example.COM\nbücher.example, example.com",
        ),
    )
    assert response.status_code == 302
    assert response["Location"] == "/senders/branch/"
    assert messages_of(response) == ['Sender "Branch office" created. Add its first rule below.']
    sender = MailSender.objects.get(slug="branch")
    assert sender.nameservers == "192.0.2.53, 192.0.2.54:5353, [2001:db8::53]:53, 2001:db8::1"
    assert sender.local_domains == "example.com\nxn--bcher-kva.example"
    assert sender.enabled is True


def test_the_create_form_suggests_a_slug_from_the_name(admin_client_role: Client, db: None) -> None:
    html = admin_client_role.get(CREATE).content.decode()
    assert 'data-slug-from="id_name"' in html
    assert '<label for="id_slug">Slug:</label>' in html


def test_a_taken_slug_is_refused_in_words(admin_client_role: Client, sender: MailSender) -> None:
    response = admin_client_role.post(CREATE, form_data(slug="MAIN"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "The slug &quot;main&quot; is already used by another sender: choose another." in html
    assert html.count("already") == 1
    assert 'value="Branch office"' in html  # what was typed stays
    assert MailSender.objects.count() == 1


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ("8.8.8.x", "&quot;8.8.8.x&quot; is not a DNS server address: use an IP address, "
         "IP:port or [IPv6]:port."),
        ("dns.example", "&quot;dns.example&quot; is not a DNS server address"),
        ("192.0.2.1:0", "&quot;192.0.2.1:0&quot;: the port must be a number from 1 to 65535."),
        ("192.0.2.1:99999", "the port must be a number from 1 to 65535."),
        ("192.0.2.1:", "the port must be a number from 1 to 65535."),
        ("[192.0.2.1]:53", "&quot;[192.0.2.1]:53&quot;: only IPv6 addresses go in brackets."),
        ("[2001:db8::1", "is not a DNS server address"),
        ("2001:db8::1:53:x", "is not a DNS server address"),
    ],
)  # fmt: skip
def test_bad_dns_servers_are_named(
    admin_client_role: Client, db: None, servers: str, message: str
) -> None:
    response = admin_client_role.post(CREATE, form_data(nameservers=f"192.0.2.1, {servers}"))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MailSender.objects.exists()


def test_every_bad_dns_server_is_listed(admin_client_role: Client, db: None) -> None:
    response = admin_client_role.post(CREATE, form_data(nameservers="a, 192.0.2.1, b"))
    html = response.content.decode()
    assert "&quot;a&quot; is not a DNS server address" in html
    assert "&quot;b&quot; is not a DNS server address" in html
    assert 'aria-describedby="id_nameservers_helptext id_nameservers_error"' in html


def test_bad_local_domains_are_named(admin_client_role: Client, db: None) -> None:
    response = admin_client_role.post(CREATE, form_data(local_domains="ok.example bad_@x *.x"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "&quot;bad_@x&quot; is not a domain name." in html
    assert "&quot;*.x&quot; is not a domain name." in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "This field is required."),
        ("slug", "with space", "Enter a valid “slug” consisting of letters, numbers, "
         "underscores or hyphens."),
        ("name", "n" * 201, "Ensure this value has at most 200 characters (it has 201)."),
    ],
)  # fmt: skip
def test_it_explains_other_bad_fields(
    admin_client_role: Client, db: None, field: str, value: str, message: str
) -> None:
    response = admin_client_role.post(CREATE, form_data(**{field: value}))
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_junk_post_does_not_crash(admin_client_role: Client, db: None) -> None:
    assert admin_client_role.post(CREATE, {}).status_code == 400
    assert admin_client_role.post(CREATE, {"name": ["a", "b"], "slug": "\x00"}).status_code == 400


def test_only_admins_create_senders(editor_client: Client, viewer_client: Client, db: None) -> None:
    for client in (editor_client, viewer_client):
        assert client.get(CREATE).status_code == 403
        assert client.post(CREATE, form_data()).status_code == 403
    assert not MailSender.objects.exists()


def test_creating_needs_the_csrf_token(admin_user: Any, db: None) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(CREATE, form_data()).status_code == 403
    assert not MailSender.objects.exists()


# ------------------------------------------------------------------ edit


def test_admins_edit_a_sender_and_may_rename_its_slug(
    admin_client_role: Client, sender: MailSender
) -> None:
    url = reverse("senders:edit", args=[sender.slug])
    html = admin_client_role.get(url).content.decode()
    assert 'value="Main office"' in html
    assert "data-slug-from" not in html  # an existing slug is not rewritten while typing
    response = admin_client_role.post(url, form_data(name="Head office", slug="head", enabled=""))
    assert response.status_code == 302
    assert response["Location"] == "/senders/head/"
    sender.refresh_from_db()
    assert (sender.name, sender.slug, sender.enabled) == ("Head office", "head", False)


def test_renaming_the_slug_warns_that_the_export_url_changed(
    admin_client_role: Client, sender: MailSender
) -> None:
    url = reverse("senders:edit", args=[sender.slug])
    response = admin_client_role.post(url, form_data(slug="head"))
    assert messages_of(response) == [
        'Sender "Branch office" saved.',
        "The export URL changed from http://testserver/export/main.txt to "
        "http://testserver/export/head.txt: delivery agents still fetching the old URL "
        "get 401 until they are given the new one.",
    ]
    # What the warning says: the old URL answers 401 even with the sender's token.
    token = create_token(MailSender.objects.get(slug="head"))
    auth = {"Authorization": f"Bearer {token}"}
    assert Client().get("/export/main.txt", headers=auth).status_code == 401
    assert Client().get("/export/head.txt", headers=auth).status_code == 200


def test_an_edit_may_keep_its_own_slug(admin_client_role: Client, sender: MailSender) -> None:
    url = reverse("senders:edit", args=[sender.slug])
    response = admin_client_role.post(url, form_data(slug="main", name="Main"))
    assert response.status_code == 302
    assert messages_of(response) == ['Sender "Main" saved.']


def test_an_invalid_edit_changes_nothing(admin_client_role: Client, sender: MailSender) -> None:
    MailSender.objects.create(name="Other", slug="other")
    url = reverse("senders:edit", args=[sender.slug])
    response = admin_client_role.post(url, form_data(name="Typed", slug="other"))
    assert response.status_code == 400
    html = response.content.decode()
    assert "<h1>Edit sender Main office</h1>" in html
    assert 'value="Typed"' in html
    sender.refresh_from_db()
    assert sender.slug == "main" and sender.name == "Main office"


def test_editors_cannot_edit_senders(editor_client: Client, sender: MailSender) -> None:
    url = reverse("senders:edit", args=[sender.slug])
    assert editor_client.get(url).status_code == 403
    assert editor_client.post(url, form_data()).status_code == 403
    sender.refresh_from_db()
    assert sender.slug == "main"


# ------------------------------------------------------------------ delete


def test_delete_asks_first_and_says_what_will_be_lost(
    admin_client_role: Client, sender: MailSender
) -> None:
    add_rule(sender, "a.example b.example", actor=ACTOR)
    add_rule(sender, "c.example d.example", actor=ACTOR)
    response = admin_client_role.get(reverse("senders:delete", args=[sender.slug]))
    html = response.content.decode()
    assert "its override table: <strong>2 rules</strong>" in html
    assert "its history: <strong>2 revisions</strong>, so no rollback is possible" in html
    assert "its export address <code>http://testserver/export/main.txt</code>" in html
    assert (
        "delivery agents fetching it will get <strong>401</strong>, as for a wrong token "
        "(the export never says whether a sender exists)" in html
    )
    assert MailSender.objects.filter(pk=sender.pk).exists()


def test_deleting_removes_the_sender_its_rules_and_history(
    admin_client_role: Client, sender: MailSender
) -> None:
    add_rule(sender, "a.example b.example", actor=ACTOR)
    response = admin_client_role.post(reverse("senders:delete", args=[sender.slug]))
    assert response.status_code == 302
    assert response["Location"] == INDEX
    assert messages_of(response) == ['Sender "Main office" deleted, with its 1 rule.']
    assert not MailSender.objects.exists()
    assert not OverrideRule.objects.exists() and not Revision.objects.exists()


def test_only_admins_delete_senders(
    editor_client: Client, viewer_client: Client, client: Client, sender: MailSender
) -> None:
    url = reverse("senders:delete", args=[sender.slug])
    for someone in (editor_client, viewer_client):
        assert someone.get(url).status_code == 403
        assert someone.post(url).status_code == 403
    assert client.post(url).status_code == 302  # anonymous: to the login page
    assert MailSender.objects.filter(pk=sender.pk).exists()


def test_deleting_an_unknown_sender_is_not_found(admin_client_role: Client, db: None) -> None:
    assert admin_client_role.post("/senders/ghost/delete/").status_code == 404


def test_saving_a_sender_form_does_not_undo_a_table_change_made_meanwhile(
    admin_client_role: Client, sender: MailSender
) -> None:
    from senders.models import Revision
    from senders.tables import Actor, add_rule

    stale_copy = MailSender.objects.get(pk=sender.pk)  # what an open edit page loaded
    add_rule(sender, "example.com smtp.myisp.com", actor=Actor(source=Revision.Source.COMMAND))
    stale_copy.name = "Renamed"
    stale_copy.save()
    sender.refresh_from_db()
    assert (sender.name, sender.revision) == ("Renamed", 1)
    add_rule(sender, "example.org smtp.myisp.com", actor=Actor(source=Revision.Source.COMMAND))
    assert sender.revisions.count() == 2
