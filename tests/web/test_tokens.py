"""The export token page: admins create, rotate and revoke; the token is shown once."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from senders.export import hash_token
from senders.models import MailSender

pytestmark = pytest.mark.django_db

URL = "/senders/main/token/"


def shown_token(html: str) -> str:
    match = re.search(r'id="new-token" class="code" value="([^"]+)"', html)
    assert match, "no token on the page"
    return match.group(1)


def test_creating_shows_the_token_once_with_urls_and_curl(
    admin_client_role: Client, sender: MailSender
) -> None:
    response = admin_client_role.post(URL, {"action": "rotate"})
    assert response.status_code == 200
    html = response.content.decode()
    token = shown_token(html)
    sender.refresh_from_db()
    assert sender.export_token_hash == hash_token(token)
    assert sender.export_token_created_at is not None
    assert "Only a hash is kept: it cannot be shown again." in html
    assert f'curl -fsS -H "Authorization: Bearer {token}"' in html
    assert "http://testserver/export/main.txt" in html
    assert "http://testserver/export/main.json" in html
    assert response["Cache-Control"].startswith("max-age=0")
    page = admin_client_role.get(URL).content.decode()
    assert token not in page
    assert "An export token is set" in page


def test_the_new_token_fetches_the_export(
    admin_client_role: Client, client: Client, sender: MailSender
) -> None:
    token = shown_token(admin_client_role.post(URL, {"action": "rotate"}).content.decode())
    assert client.get(f"/export/main.txt?token={token}").status_code == 200


def test_rotating_replaces_the_token(
    admin_client_role: Client, client: Client, sender: MailSender
) -> None:
    first = shown_token(admin_client_role.post(URL, {"action": "rotate"}).content.decode())
    html = admin_client_role.post(URL, {"action": "rotate"}).content.decode()
    second = shown_token(html)
    assert first != second
    assert "Any previous token stopped working." in html
    assert client.get(f"/export/main.txt?token={first}").status_code == 401
    assert client.get(f"/export/main.txt?token={second}").status_code == 200


def test_revoking_removes_the_token(
    admin_client_role: Client, client: Client, sender: MailSender
) -> None:
    token = shown_token(admin_client_role.post(URL, {"action": "rotate"}).content.decode())
    response = admin_client_role.post(URL, {"action": "revoke"}, follow=True)
    assert response.redirect_chain == [(URL, 302)]
    html = response.content.decode()
    assert "Export token revoked: delivery can no longer fetch." in html
    assert "No export token: delivery agents cannot fetch this table." in html
    sender.refresh_from_db()
    assert sender.export_token_hash == ""
    assert client.get(f"/export/main.txt?token={token}").status_code == 401


def test_htmx_gets_the_token_card_and_the_delivery_card_together(
    admin_client_role: Client, sender: MailSender
) -> None:
    response = admin_client_role.post(URL, {"action": "rotate"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="token-region">')
    assert "<html" not in html
    shown_token(html)
    # The delivery card below no longer says there is no token.
    assert 'id="export-status"' in html
    assert "no token" not in html
    response = admin_client_role.post(URL, {"action": "revoke"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Export token revoked: delivery can no longer fetch." in html
    assert "No export token: delivery agents cannot fetch this table." in html
    assert "Delivery agents cannot fetch this table yet." in html  # the delivery card


def test_rotating_asks_first_and_is_not_the_main_button(
    admin_client_role: Client, sender: MailSender
) -> None:
    html = admin_client_role.post(URL, {"action": "rotate"}).content.decode()
    rotate = re.search(r'<form[^>]*hx-confirm="([^"]+)"[^>]*>\s*<input[^>]*>\s*(<button[^>]*>)'
                       r"Rotate", html)  # fmt: skip
    assert rotate, "Rotate has no confirmation"
    assert rotate.group(1).startswith("Rotate the export token? The current token stops working")
    assert 'class="secondary"' in rotate.group(2)


def test_an_unknown_action_is_refused_and_changes_nothing(
    admin_client_role: Client, sender: MailSender
) -> None:
    response = admin_client_role.post(URL, {"action": "steal"})
    assert response.status_code == 400
    assert "Choose Create or Revoke." in response.content.decode()
    sender.refresh_from_db()
    assert sender.export_token_hash == ""


@pytest.mark.parametrize("who", ["viewer_client", "editor_client"])
def test_only_admins_manage_tokens(
    who: str, request: pytest.FixtureRequest, sender: MailSender
) -> None:
    client: Client = request.getfixturevalue(who)
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"action": "rotate"}).status_code == 403
    sender.refresh_from_db()
    assert sender.export_token_hash == ""


def test_the_page_needs_login(client: Client, sender: MailSender) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_changes_need_csrf(admin_user: object, sender: MailSender) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)  # type: ignore[arg-type]
    assert client.post(URL, {"action": "rotate"}).status_code == 403
    sender.refresh_from_db()
    assert sender.export_token_hash == ""


def test_an_unknown_sender_is_404(admin_client_role: Client, db: None) -> None:
    assert admin_client_role.get("/senders/nope/token/").status_code == 404
