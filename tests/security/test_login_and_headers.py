"""Log-in lockout, cookies and security headers, no inline script or style, check --deploy,
and htmx requests from a logged-out user sent to the login page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from senders.models import MailSender
from tests.conftest import PASSWORD
from tests.security.conftest import client_as
from tests.security.test_access import discovered

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style= attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "on*= event handler"),
    (re.compile(r"\bhx-on", re.I), "hx-on (evaluated script)"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def inline_code(html: str) -> list[str]:
    return [what for pattern, what in INLINE if pattern.search(html)]


# ------------------------------------------------------------------ log-in


def test_repeated_failures_lock_the_account_out(client: Client, viewer: Any) -> None:
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(url, {"username": "vera", "password": "wrong"})
        assert response.status_code == 200
        assert "Please enter a correct username and password." in response.content.decode()
    # The fifth failure locks vera out from this address, even with the right password.
    assert client.post(url, {"username": "vera", "password": "wrong"}).status_code == 429
    response = client.post(url, {"username": "vera", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert "registration/locked_out.html" in [t.name for t in response.templates]
    # Another account from the same address is not locked by vera's failures.
    other = Client()
    assert other.post(url, {"username": "nobody-here", "password": "x"}).status_code == 200


def test_a_successful_login_resets_the_count(client: Client, viewer: Any) -> None:
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": "vera", "password": "wrong"})
    assert client.post(url, {"username": "vera", "password": PASSWORD}).status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(url, {"username": "vera", "password": "wrong"})
    assert client.post(url, {"username": "vera", "password": PASSWORD}).status_code == 302


# ------------------------------------------------------------------ headers


def test_every_page_sends_the_security_headers(table: MailSender, django_user_model: Any) -> None:
    client = client_as(django_user_model, "admin", staff=True)
    from tests.security.test_access import objects as _  # noqa: F401  (fixture module)

    checked = 0
    for url in (
        "/",
        "/accounts/login/",
        f"/senders/{table.slug}/",
        f"/senders/{table.slug}/bulk/",
        f"/senders/{table.slug}/test/",
        f"/senders/{table.slug}/history/",
        "/admin/",
        f"/admin/senders/mailsender/{table.pk}/change/",
        f"/export/{table.slug}.txt",
        "/no/such/page/",
    ):
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["Referrer-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        checked += 1
    assert checked == 10


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_is_sent_over_https(client: Client) -> None:
    response = client.get("/accounts/login/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "Strict-Transport-Security" not in client.get("/accounts/login/")


def test_no_template_holds_inline_script_style_or_handlers() -> None:
    templates = sorted((ROOT / "templates").rglob("*.html"))
    assert len(templates) > 20
    found = {str(t.relative_to(ROOT)): inline_code(t.read_text()) for t in templates}
    assert {name: what for name, what in found.items() if what} == {}


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_no_page_renders_inline_script_style_or_handlers(
    role: str, table: MailSender, django_user_model: Any
) -> None:
    """Every GET page of every URL pattern (Django admin included), as rendered."""
    from tests.security.test_access import Route

    client = client_as(django_user_model, role, staff=True)
    objects = {
        "sender": table,
        "rule": table.rules.get(position=2),
        "sender_type": 0,
        "pks": {"user": 1},
    }
    pages = 0
    for route in discovered():
        if "<path:" in route.route or "<id>" in route.route:
            continue  # admin object pages: covered by test_output_safety
        response = client.get(Route(route.name, route.route).url(objects))
        if response.get("Content-Type", "").startswith("text/html"):
            assert inline_code(response.content.decode()) == [], route.name
            pages += 1
    assert pages >= 20


def test_htmx_is_told_not_to_inject_its_indicator_style(viewer_client: Client) -> None:
    body = viewer_client.get("/").content.decode()
    assert '"includeIndicatorStyles": false' in body
    assert ".htmx-indicator" in (ROOT / "static/senders/app.css").read_text()


def test_the_500_page_has_no_inline_style() -> None:
    assert inline_code((ROOT / "templates/errors/500.html").read_text()) == []


# ------------------------------------------------------------------ production


def _production(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    # A deployment has neither pytest's variables nor the browser tests' async opt-out
    # (which another test in the same worker may have set).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    env |= {
        "PRODUCTION": "1",
        "DEBUG": "0",
        "SECRET_KEY": "x" * 60 + "-production-test-key-not-used-anywhere",
        "SECRETS_ENCRYPTION_KEYS": settings.TEST_ENCRYPTION_KEY,
        "ALLOWED_HOSTS": "overrides.example.org",
    }
    command = [sys.executable, *(["-c", code] if code else ["manage.py", *args])]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_production_settings_secure_the_cookies_and_pass_check_deploy() -> None:
    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'overrides_admin.settings');"
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.CSRF_COOKIE_HTTPONLY, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.DEBUG)"
    )
    result = _production(code=code)
    assert result.stdout.split() == ["True", "True", "True", "True", "True", "31536000", "False"]
    result = _production("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


# ------------------------------------------------------------------ htmx, logged out


def test_a_logged_out_htmx_request_is_sent_to_the_login_page(
    client: Client, table: MailSender
) -> None:
    page = f"/senders/{table.slug}/bulk/"
    response = client.post(
        f"/senders/{table.slug}/rules/validate/",
        {"text": "a.example b.example"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/accounts/login/?next={page}"  # the page, not the fragment
    assert response.content == b""
    # Without htmx: the ordinary redirect.
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={page}"
