"""Friendly 403, 404 and 500 pages: the site's look, no details leaked."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path, reverse

from senders.models import MailSender

pytestmark = pytest.mark.django_db


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: DATABASE password hunter2")


# This module doubles as a URLconf with a view that fails.
urlpatterns = [path("boom/", boom), path("", include("overrides_admin.urls"))]
handler403 = "senders.views.errors.permission_denied"
handler404 = "senders.views.errors.page_not_found"
handler500 = "senders.views.errors.server_error"


@override_settings(DEBUG=False)
def test_an_unknown_address_gets_the_friendly_404(viewer_client: Client) -> None:
    response = viewer_client.get("/no/such/page/")
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["errors/404.html", "_base.html"]
    body = response.content.decode()
    assert "There is nothing at this address. It may have been deleted or renamed." in body
    assert "Log out vera" in body  # the site's own header, not Django's bare page


@override_settings(DEBUG=False)
def test_an_unknown_sender_gets_the_friendly_404(viewer_client: Client) -> None:
    response = viewer_client.get(reverse("senders:bulk", args=["gone"]))
    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()


@override_settings(DEBUG=False)
def test_anonymous_visitors_get_the_404_too(client: Client) -> None:
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.content.decode()


@override_settings(DEBUG=False)
def test_a_missing_permission_gets_the_friendly_403(
    viewer_client: Client, sender: MailSender
) -> None:
    response = viewer_client.post(
        reverse("senders:bulk", args=[sender.slug]),
        {"text": "", "action": "save", "revision": sender.revision},
    )
    assert response.status_code == 403
    assert "errors/403.html" in [t.name for t in response.templates]
    body = response.content.decode()
    assert "You may not do that" in body
    assert "Ask an administrator for the editor or admin role." in body


@override_settings(DEBUG=False)
def test_a_role_less_user_gets_the_friendly_403(client: Client, nobody: Any) -> None:
    client.force_login(nobody)
    MailSender.objects.create(name="X", slug="x")
    response = client.get(reverse("senders:test", args=["x"]))
    assert response.status_code == 403
    assert "You may not do that" in response.content.decode()


@override_settings(DEBUG=False, ROOT_URLCONF=__name__)
def test_a_crash_gets_the_friendly_500_without_details(viewer: Any) -> None:
    client = Client(raise_request_exception=False)
    client.force_login(viewer)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong on our side" in body
    assert "Nothing you typed was saved half-way" in body
    assert "hunter2" not in body
    assert "RuntimeError" not in body
    assert "Traceback" not in body
