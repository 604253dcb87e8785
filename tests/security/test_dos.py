"""Denial of service: no user can make the site slow for everyone else.

Expensive requests (checking or saving a whole table, importing one, testing a message
against unsaved text, comparing revisions) run at most MAX_EXPENSIVE_PER_USER per user
and MAX_EXPENSIVE_REQUESTS in all; one over either limit gets 429 at once. The last test
runs the heaviest allowed requests in parallel against a real gunicorn and times the
log-in page meanwhile.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote as urllib_quote

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from senders import limits
from senders.models import MailSender, WorkSlot
from tests.security.conftest import client_as

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "verdict"}
YOURS = (
    "Another check of yours is still running. Try again in a moment. Your text is not lost: "
    "if it is not on the page any more, go back (the browser's Back button) and send it again."
)


@pytest.fixture
def viewer(table: MailSender, django_user_model: Any) -> Client:
    return client_as(django_user_model, "viewer")


def user_of(client: Client) -> Any:
    return client.session["_auth_user_id"]


def hold(name: str, age: timedelta = timedelta(0)) -> None:
    WorkSlot.objects.create(name=name, token="other", started_at=timezone.now() - age)


def plain(response: Any) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def test_a_second_check_of_the_same_user_gets_429_at_once(
    viewer: Client, table: MailSender
) -> None:
    hold(f"user:{user_of(viewer)}:0")  # a check of this user is running
    url = reverse("senders:bulk", args=[table.slug])
    response = viewer.post(url, {"text": "a.example b.example\n"})
    assert response.status_code == 429
    assert response["Retry-After"] == "2"
    assert YOURS in plain(response)
    assert viewer.get(url).status_code == 200  # reading the page is not limited


@pytest.mark.parametrize(
    ("name", "send"),
    [
        ("bulk check", lambda c, s: c.post(f"/senders/{s}/bulk/", {"text": "x y\n"})),
        (
            "bulk save",
            lambda c, s: c.post(f"/senders/{s}/bulk/", {"text": "x y\n", "action": "save"}),
        ),
        ("import", lambda c, s: c.post(f"/senders/{s}/import/", {"mode": "replace"})),
        (
            "test of unsaved text",
            lambda c, s: c.post(
                f"/senders/{s}/test/", {"recipients": "x", "table": "text", "text": "x y\n"}
            ),
        ),
        ("history diff", lambda c, s: c.get(f"/senders/{s}/history/diff/", {"a": 1, "b": 2})),
        (
            "impact of a change",
            lambda c, s: c.post(
                f"/senders/{s}/impact/",
                {
                    "compare": "revisions",
                    "a": 1,
                    "b": 2,
                    "recipients": "x@y.example",
                    "run": "page",
                },
            ),
        ),
    ],
)
def test_every_expensive_request_is_limited(
    table: MailSender, django_user_model: Any, name: str, send: Any
) -> None:
    client = client_as(django_user_model, "admin")
    hold(f"user:{user_of(client)}:0")
    assert send(client, table.slug).status_code == 429, name


def test_htmx_gets_the_message_in_place_of_the_region(viewer: Client, table: MailSender) -> None:
    hold(f"user:{user_of(viewer)}:0")
    response = viewer.post(reverse("senders:bulk", args=[table.slug]), {"text": "x y\n"}, **HX)
    assert response.status_code == 429
    body = response.content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<div id="verdict" class="message error" role="alert">')
    assert response["HX-Reswap"] == "outerHTML"  # the region keeps its id for the next check


def test_other_users_are_not_held_up_by_one_users_check(
    viewer: Client, table: MailSender, django_user_model: Any
) -> None:
    hold(f"user:{user_of(viewer)}:0")
    other = client_as(django_user_model, "editor")
    response = other.post(reverse("senders:bulk", args=[table.slug]), {"text": "x y\n"})
    assert response.status_code == 200
    assert WorkSlot.objects.count() == 1  # the other user's slots were given back


def test_when_all_slots_are_taken_everyone_gets_429(viewer: Client, table: MailSender) -> None:
    hold("all:0")
    hold("all:1")
    response = viewer.post(reverse("senders:bulk", args=[table.slug]), {"text": "x y\n"})
    assert response.status_code == 429
    assert "The server is busy checking other tables. Try again in a moment." in plain(response)
    assert set(WorkSlot.objects.values_list("name", flat=True)) == {"all:0", "all:1"}


def test_a_slot_left_behind_by_a_killed_worker_is_taken_over(
    viewer: Client, table: MailSender
) -> None:
    hold(f"user:{user_of(viewer)}:0", age=timedelta(seconds=121))
    response = viewer.post(reverse("senders:bulk", args=[table.slug]), {"text": "x y\n"})
    assert response.status_code == 200
    assert not WorkSlot.objects.exists()


def test_slots_are_given_back_when_the_view_fails(viewer: Client, table: MailSender) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    view = limits.expensive()(broken)
    request = viewer.get("/").wsgi_request
    with pytest.raises(RuntimeError):
        view(request)
    assert not WorkSlot.objects.exists()


# ---------------------------------------------------------------- a real server under load

ROOT = Path(__file__).resolve().parents[2]
SETUP = """
from django.contrib.auth.models import Group, User
from django.test import Client
from senders.models import MailSender
from senders.roles import VIEWER
MailSender.objects.create(name="Main", slug="main")
for n in range(3):
    user = User.objects.create_user(f"viewer{n}", password=None)
    user.groups.add(Group.objects.get(name=VIEWER))
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    print(client.cookies["sessionid"].value)  # one line each, 32 characters
"""
# The heaviest requests allowed: checks of the largest table we support, and tests of a
# message against it as unsaved text (20 recipient domains).
BIG_TABLE = "".join(f"d{n}.example relay{n % 7}.example.net:587 $size>{n}\n" for n in range(10_000))
LOAD_SECONDS = 3  # before the first sample
LOGIN_SAMPLES = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _request(port: int, method: str, path: str, body: str = "", cookie: str = "") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    csrf = "a" * 32
    headers = {"Cookie": f"sessionid={cookie}; csrftoken={csrf}", "X-CSRFToken": csrf}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body.encode(), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """gunicorn with 4 sync workers (as in the README) on its own SQLite file."""
    env = {
        **os.environ,
        "DATA_DIR": str(tmp_path),
        "DATABASE_URL": "",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "PRODUCTION": "0",
        "DJANGO_SETTINGS_MODULE": "overrides_admin.settings",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    setup = subprocess.run(
        [*manage, "shell", "-c", SETUP], env=env, cwd=ROOT, check=True, capture_output=True
    )
    sessions = re.findall(r"^[a-z0-9]{32}$", setup.stdout.decode(), re.MULTILINE)
    assert len(sessions) == 3
    port = _free_port()
    gunicorn = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "overrides_admin.wsgi",
            "--workers",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
    )
    try:
        for _ in range(100):
            try:
                if _request(port, "GET", "/accounts/login/") == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield port, sessions
    finally:
        gunicorn.send_signal(signal.SIGTERM)
        gunicorn.wait(20)


@pytest.mark.django_db(transaction=False)
def test_the_login_page_stays_fast_while_the_heaviest_requests_run(
    server: tuple[int, list[str]],
) -> None:
    port, sessions = server
    check = "text=" + urllib_quote(BIG_TABLE)
    recipients = ",".join(f"x@d{n * 500}.example" for n in range(20))
    test = f"recipients={recipients}&dns=manual&table=text&text={urllib_quote(BIG_TABLE)}"
    statuses: list[int] = []
    done = threading.Event()

    def load(session: str, path: str, body: str) -> None:
        while not done.is_set():  # until the last sample is taken: every one is under load
            statuses.append(_request(port, "POST", path, body, session))

    # Six at once, never pausing (a 429 is sent again at once): each of three viewers
    # sends a check of the largest table and a test of it in parallel.
    jobs = [
        (
            sessions[n % 3],
            "/senders/main/bulk/" if n % 2 else "/senders/main/test/",
            check if n % 2 else test,
        )
        for n in range(6)
    ]
    threads = [threading.Thread(target=load, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    time.sleep(LOAD_SECONDS)  # the load is running
    samples = []
    for _ in range(LOGIN_SAMPLES):
        start = time.perf_counter()
        assert _request(port, "GET", "/accounts/login/") == 200
        samples.append(time.perf_counter() - start)
        time.sleep(0.3)
    done.set()
    for thread in threads:
        thread.join(90)
    print(
        f"login page: best {min(samples):.3f} s, worst {max(samples):.3f} s; "
        f"heavy requests: {statuses.count(200)} done, {statuses.count(429)} refused (429)"
    )
    assert statuses.count(200) >= 2  # the heavy requests really ran...
    assert statuses.count(429) >= 2  # ...and the ones over the limits were refused at once
    assert set(statuses) <= {200, 429}
    assert min(samples) < 1.0
