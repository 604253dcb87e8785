"""Accounts: the client address behind trusted proxies (lockouts, revisions, export
fetches), the lockout per (user, address) and per address across usernames, the
lockout page's duration, Cache-Control on logged-in pages, the session's idle timeout
and lifetime, and the way back in when the administrator's password is lost."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from senders.accounts import SESSION_LAST_SEEN, SESSION_STARTED, client_address
from senders.export import create_token
from senders.models import MailSender, Revision
from tests.conftest import PASSWORD
from tests.security.test_login_and_headers import _production

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PROXY = "10.0.0.1"  # REMOTE_ADDR of every request that came through the reverse proxy
ATTACKER = "198.51.100.66"
REAL_USER = "192.0.2.10"
behind_one_proxy = override_settings(TRUSTED_PROXY_COUNT=1)


def log_in(client: Client, username: str, password: str, forwarded_for: str) -> Any:
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


# ------------------------------------------------------------------ the client address


@pytest.mark.parametrize(
    ("count", "forwarded_for", "expected"),
    [
        (0, None, PROXY),
        (0, REAL_USER, PROXY),  # no proxy trusted: the header is the client's word
        (1, None, PROXY),  # did not come through the proxy
        (1, REAL_USER, REAL_USER),
        (1, f"{ATTACKER}, {REAL_USER}", REAL_USER),  # the left entry is the client's word
        (1, f"{REAL_USER},{ATTACKER}", ATTACKER),
        (2, f"203.0.113.5, {REAL_USER}, 10.0.0.2", REAL_USER),
        (2, REAL_USER, PROXY),  # fewer entries than proxies
        (1, "2001:DB8::1", "2001:db8::1"),
        (1, "192.0.2.10:51234", REAL_USER),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
        (1, "unknown", PROXY),
        (1, "", PROXY),
    ],
)
def test_the_client_address_is_taken_from_the_right_behind_trusted_proxies(
    count: int, forwarded_for: str | None, expected: str
) -> None:
    headers = {} if forwarded_for is None else {"HTTP_X_FORWARDED_FOR": forwarded_for}
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, **headers)
    with override_settings(TRUSTED_PROXY_COUNT=count):
        assert client_address(request) == expected


def test_production_behind_a_proxy_trusts_one_proxy_by_default() -> None:
    code = (
        "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'overrides_admin.settings');"
        "from django.conf import settings as s;"
        "print(s.TRUSTED_PROXY_COUNT, s.AXES_CLIENT_IP_CALLABLE)"
    )
    os.environ["BEHIND_PROXY"] = "1"
    try:
        result = _production(code=code)
    finally:
        del os.environ["BEHIND_PROXY"]
    assert result.stdout.split() == ["1", "senders.accounts.client_address"], result.stderr


# ------------------------------------------------------------------ lockout per (user, address)


@behind_one_proxy
def test_failures_from_one_address_do_not_lock_the_user_out_elsewhere(viewer: Any) -> None:
    attacker = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(attacker, "vera", "wrong", ATTACKER)
    # Locked out where the failures came from, even with the right password...
    response = log_in(attacker, "vera", PASSWORD, ATTACKER)
    assert response.status_code == 429
    assert "_auth_user_id" not in attacker.session
    # ...but the real user, through the same proxy, logs in from their own address.
    user = Client()
    response = log_in(user, "vera", PASSWORD, REAL_USER)
    assert response.status_code == 302
    assert user.session["_auth_user_id"] == str(viewer.pk)


@behind_one_proxy
def test_a_spoofed_forwarded_entry_cannot_choose_the_address(viewer: Any) -> None:
    attacker = Client()
    for n in range(settings.AXES_FAILURE_LIMIT):
        # A fresh made-up address on the left each time: the proxy's entry counts.
        log_in(attacker, "vera", "wrong", f"203.0.113.{n}, {ATTACKER}")
    assert log_in(attacker, "vera", PASSWORD, f"203.0.113.99, {ATTACKER}").status_code == 429
    # Naming the real user's address on the left does not lock them out either.
    for _ in range(settings.AXES_FAILURE_LIMIT):
        log_in(Client(), "vera", "wrong", f"{REAL_USER}, {ATTACKER}")
    assert log_in(Client(), "vera", PASSWORD, REAL_USER).status_code == 302


@behind_one_proxy
def test_a_revision_and_an_export_fetch_record_the_client_address(
    editor_client: Client, sender: MailSender
) -> None:
    response = editor_client.post(
        f"/senders/{sender.slug}/rules/add/",
        {"text": "a.example x.net", "enabled": "on", "revision": sender.revision},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{ATTACKER}, {REAL_USER}",
    )
    assert response.status_code == 302
    assert Revision.objects.get(sender=sender, number=1).remote_addr == REAL_USER
    token = create_token(sender)
    response = Client().get(
        f"/export/{sender.slug}.txt",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "192.0.2.77"},
        REMOTE_ADDR=PROXY,
    )
    assert response.status_code == 200
    sender.refresh_from_db()
    assert sender.last_fetched_by == "192.0.2.77"


# ------------------------------------------------------------------ spraying


@behind_one_proxy
def test_spraying_usernames_from_one_address_is_refused_after_the_limit(viewer: Any) -> None:
    assert settings.AXES_ADDRESS_FAILURE_LIMIT == 20
    statuses = [
        log_in(Client(), f"user{n}", "Summer2026!", ATTACKER).status_code for n in range(40)
    ]
    assert statuses == [200] * 19 + [429] * 21
    # Refused for every username from that address, the right password included.
    response = log_in(Client(), "vera", PASSWORD, ATTACKER)
    assert response.status_code == 429
    assert (
        "Too many log-ins failed from your address, for several accounts: log-in from your "
        "address is refused for every account. Try again in 15 minutes."
    ) in response.content.decode()
    # Other addresses are not affected.
    assert log_in(Client(), "vera", PASSWORD, REAL_USER).status_code == 302


@override_settings(AXES_ADDRESS_FAILURE_LIMIT=0)
def test_the_address_limit_can_be_switched_off() -> None:
    statuses = {log_in(Client(), f"user{n}", "x", ATTACKER).status_code for n in range(25)}
    assert statuses == {200}


# ------------------------------------------------------------------ the lockout page


def test_the_lockout_page_states_the_real_duration(viewer: Any) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "vera", "password": "wrong"})
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    html = response.content.decode()
    assert (
        "This account is locked from your address after too many failed log-ins. "
        "Try again in 15 minutes, or ask an administrator."
    ) in html
    assert "Each new attempt before then starts the wait again." in html
    assert "for a while" not in html


def _age_attempts(minutes: int) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def test_the_stated_wait_is_the_real_one(viewer: Any) -> None:
    client = Client()
    url = reverse("login")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(url, {"username": "vera", "password": "wrong"})
    _age_attempts(10)
    # An attempt 10 minutes into the wait starts it again...
    assert client.post(url, {"username": "vera", "password": PASSWORD}).status_code == 429
    _age_attempts(14)
    assert client.post(url, {"username": "vera", "password": PASSWORD}).status_code == 429
    # ...and 15 minutes after the last attempt, the right password works.
    _age_attempts(15)
    assert client.post(url, {"username": "vera", "password": PASSWORD}).status_code == 302


@override_settings(AXES_COOLOFF_TIME=timedelta(hours=1))
def test_the_lockout_page_follows_the_configured_cool_off(viewer: Any) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = client.post(reverse("login"), {"username": "vera", "password": "wrong"})
    assert "Try again in 1 hour, or ask an administrator." in response.content.decode()
    assert response["Retry-After"] == "3600"


# ------------------------------------------------------------------ Cache-Control


def test_pages_for_a_logged_in_user_are_not_stored(
    admin_client_role: Client, sender: MailSender
) -> None:
    for url in (
        "/",
        f"/senders/{sender.slug}/",
        f"/senders/{sender.slug}/bulk/",
        f"/senders/{sender.slug}/history/",
        f"/senders/{sender.slug}/test/",
        "/accounts/password/",
        "/no/such/page/",
    ):
        response = admin_client_role.get(url)
        assert "no-store" in response["Cache-Control"], url
        assert "private" in response["Cache-Control"], url
    # An htmx fragment too.
    response = admin_client_role.post(
        f"/senders/{sender.slug}/rules/validate/",
        {"text": "a.example b.example"},
        HTTP_HX_REQUEST="true",
    )
    assert response["Cache-Control"] == "private, no-store"


def test_the_login_page_and_the_export_keep_their_own_caching(sender: MailSender) -> None:
    client = Client()
    # The login page carries a CSRF token: Django's never_cache.
    assert "no-store" in client.get("/accounts/login/")["Cache-Control"]
    # The export revalidates with its ETag, even for a logged-in browser.
    token = create_token(sender)
    client.force_login(get_user_model().objects.create_user("ann", password=PASSWORD))
    response = client.get(
        f"/export/{sender.slug}.txt", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    # A static file is cached as whitenoise says.
    assert "no-store" not in client.get("/static/senders/app.css").get("Cache-Control", "")


# ------------------------------------------------------------------ sessions


def _age_session(client: Client, *, idle: int = 0, since_login: int = 0) -> None:
    session = client.session
    session[SESSION_LAST_SEEN] -= idle
    session[SESSION_STARTED] -= since_login
    session.save()


def test_the_session_cookie_lasts_the_idle_timeout(viewer: Any) -> None:
    assert settings.SESSION_IDLE_MINUTES == 480
    client = Client()
    response = client.post(reverse("login"), {"username": "vera", "password": PASSWORD})
    assert response.status_code == 302
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 8 * 3600


def test_an_idle_session_expires(viewer_client: Client) -> None:
    assert viewer_client.get("/").status_code == 200
    _age_session(viewer_client, idle=8 * 3600 + 1)
    response = viewer_client.get("/", follow=True)
    assert response.redirect_chain == [("/accounts/login/?next=/", 302)]
    assert "Your session ended after 8 hours without activity. Please log in again." in (
        response.content.decode()
    )
    assert "_auth_user_id" not in viewer_client.session


def test_activity_keeps_the_session_alive(viewer_client: Client) -> None:
    viewer_client.get("/")
    _age_session(viewer_client, idle=8 * 3600 - 120)
    assert viewer_client.get("/").status_code == 200  # seen now: the clock starts again
    _age_session(viewer_client, idle=8 * 3600 - 120)
    assert viewer_client.get("/").status_code == 200


def test_a_session_ends_at_its_absolute_lifetime(viewer_client: Client) -> None:
    viewer_client.get("/")
    _age_session(viewer_client, since_login=24 * 3600 + 1)
    response = viewer_client.get("/", follow=True)
    assert response.redirect_chain == [("/accounts/login/?next=/", 302)]
    assert "Your session ended 24 hours after you logged in. Please log in again." in (
        response.content.decode()
    )


def test_an_htmx_request_of_an_expired_session_goes_to_the_login_page(
    viewer_client: Client, sender: MailSender
) -> None:
    viewer_client.get("/")
    _age_session(viewer_client, idle=9 * 3600)
    page = f"/senders/{sender.slug}/"
    response = viewer_client.post(
        f"/senders/{sender.slug}/rules/validate/",
        {"text": "a.example b.example"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver{page}",
    )
    assert response["HX-Redirect"] == f"/accounts/login/?next={page}"


def test_the_export_never_touches_a_session(sender: MailSender) -> None:
    token = create_token(sender)
    response = Client().get(
        f"/export/{sender.slug}.txt", headers={"Authorization": f"Bearer {token}"}
    )
    assert "Cookie" not in response.get("Vary", "")
    assert settings.SESSION_COOKIE_NAME not in response.cookies


# ------------------------------------------------------------------ reset_admin_password


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_ensure_admin_points_at_the_reset_command(viewer: Any) -> None:
    assert _run("ensure_admin") == (
        "Users exist already; no administrator created. If the administrator's password "
        "is lost: manage.py reset_admin_password [USERNAME]\n"
    )


def test_the_reset_command_sets_a_new_password_and_prints_it_once() -> None:
    _run("ensure_admin")
    User = get_user_model()
    old_hash = User.objects.get(username="admin").password
    output = _run("reset_admin_password")
    lines = output.splitlines()
    assert lines[1] == "New password for the administrator 'admin':"
    password = lines[2].removeprefix("  password: ")
    assert len(password) >= 16
    assert output.count(password) == 1
    admin = User.objects.get(username="admin")
    assert admin.password != old_hash and admin.check_password(password)
    client = Client()
    response = client.post(reverse("login"), {"username": "admin", "password": password})
    assert response.status_code == 302


def test_the_reset_command_lifts_the_lockout_of_that_user() -> None:
    _run("ensure_admin")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "admin", "password": "wrong"})
    password = _run("reset_admin_password", "admin").splitlines()[2].removeprefix("  password: ")
    response = client.post(reverse("login"), {"username": "admin", "password": password})
    assert response.status_code == 302


def _refusal(*args: str) -> str:
    with pytest.raises(CommandError) as refused:
        _run(*args)
    return str(refused.value)


def test_the_reset_command_names_what_is_wrong(viewer: Any) -> None:
    assert _refusal("reset_admin_password", "bob") == "No user 'bob'."
    assert _refusal("reset_admin_password") == (
        "No superuser exists: name the user, e.g. manage.py reset_admin_password vera."
    )
    User = get_user_model()
    User.objects.create_superuser("root1", password=PASSWORD)
    User.objects.create_superuser("root2", password=PASSWORD)
    assert _refusal("reset_admin_password") == "Several superusers exist (root1, root2): name one."


# ------------------------------------------------------------------ runserver's log


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_runserver_does_not_log_the_export_token(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env |= {"DATA_DIR": str(tmp_path), "DEBUG": "1", "DATABASE_URL": ""}
    server = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "runserver",
            "--noreload",
            "--skip-checks",
            "--nothreading",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/export/main.txt?token=abc", timeout=5
                )
            except urllib.error.HTTPError:
                break  # answered (401, or 503 without tables): the line is logged
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/?next=/x", timeout=5)
        # One request at a time: once this one is answered, the lines above are written.
        urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=5)
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    requests = [line for line in log.splitlines() if '"GET /export/main.txt' in line]
    assert len(requests) == 1 and '"GET /export/main.txt HTTP/1.1"' in requests[0], log
    assert "abc" not in log
    # Other query strings stay in the log: they are useful and secret-free.
    assert '"GET /accounts/login/?next=/x HTTP/1.1" 200' in log
