"""Every URL pattern, as every role, with GET and POST: the expected status and nothing else.

The patterns are DISCOVERED (`get_resolver().url_patterns`, walked recursively, path
converters filled with real objects), so a view added tomorrow without an entry in
EXPECTED fails `test_every_url_pattern_has_an_expectation`. Each request runs in a
savepoint that is rolled back, so a POST that deletes does not disturb the next one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from senders.models import MailSender, OverrideRule
from tests.security.conftest import ROLES, client_as

pytestmark = pytest.mark.django_db

ANON, NOBODY, VIEWER, EDITOR, ADMIN = ROLES
L = "login"  # 302 to the login page
A = "admin-login"  # 302 to the Django admin's login page


def each(status: int | str) -> tuple[int | str, ...]:
    return (status,) * len(ROLES)


# Our views: (anonymous, nobody, viewer, editor, admin) for a GET and for an empty POST.
# 302 = a redirect somewhere else than the login page; 400/409 = a refused empty form
# (409: a change posted without the revision the page showed always counts as stale).
EXPECTED: dict[str, dict[str, tuple[int | str, ...]]] = {
    "login": {"GET": each(200), "POST": each(200)},
    "logout": {"GET": each(405), "POST": each(L)},
    "password_change": {"GET": (L, 200, 200, 200, 200), "POST": (L, 200, 200, 200, 200)},
    "export_text": {"GET": each(401), "POST": each(405)},
    "export_json": {"GET": each(401), "POST": each(405)},
    "senders:index": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 405, 405, 405)},
    "senders:create": {"GET": (L, 403, 403, 403, 200), "POST": (L, 403, 403, 403, 400)},
    "senders:detail": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 405, 405, 405)},
    "senders:edit": {"GET": (L, 403, 403, 403, 200), "POST": (L, 403, 403, 403, 400)},
    "senders:delete": {"GET": (L, 403, 403, 403, 200), "POST": (L, 403, 403, 403, 302)},
    "senders:rule_add": {"GET": (L, 403, 403, 405, 405), "POST": (L, 403, 403, 400, 400)},
    "senders:rule_validate": {"GET": (L, 403, 405, 405, 405), "POST": (L, 403, 200, 200, 200)},
    "senders:rule_edit": {"GET": (L, 403, 403, 200, 200), "POST": (L, 403, 403, 400, 400)},
    "senders:rule_delete": {"GET": (L, 403, 403, 200, 200), "POST": (L, 403, 403, 409, 409)},
    "senders:rule_toggle": {"GET": (L, 403, 403, 405, 405), "POST": (L, 403, 403, 400, 400)},
    "senders:rule_move": {"GET": (L, 403, 403, 405, 405), "POST": (L, 403, 403, 400, 400)},
    "senders:rule_acknowledge": {"GET": (L, 403, 403, 405, 405), "POST": (L, 403, 403, 400, 400)},
    "senders:bulk": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 200, 200, 200)},
    "senders:import": {"GET": (L, 403, 403, 302, 302), "POST": (L, 403, 403, 400, 400)},
    "senders:test": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 200, 200, 200)},
    "senders:impact": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 200, 200, 200)},
    "senders:history": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 405, 405, 405)},
    "senders:diff": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 405, 405, 405)},
    "senders:revision": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 405, 405, 405)},
    "senders:rollback": {"GET": (L, 403, 403, 405, 405), "POST": (L, 403, 403, 409, 409)},
    "senders:relays": {"GET": (L, 403, 200, 200, 200), "POST": (L, 403, 403, 400, 400)},
    "senders:token": {"GET": (L, 403, 403, 403, 200), "POST": (L, 403, 403, 403, 400)},
    # The Django admin's own pages (model pages are checked against the role's
    # permissions, see admin_expectation). Every role here is staff.
    "admin:index": {"GET": (A, 200, 200, 200, 200), "POST": (A, 200, 200, 200, 200)},
    "admin:login": {"GET": (200, 302, 302, 302, 302), "POST": each(200)},
    "admin:logout": {"GET": (302, 405, 405, 405, 405), "POST": (302, L, L, L, L)},
    "admin:password_change": {"GET": (A, 200, 200, 200, 200), "POST": (A, 200, 200, 200, 200)},
    "admin:password_change_done": {"GET": (A, 200, 200, 200, 200), "POST": (A, *(405,) * 4)},
    "admin:autocomplete": {"GET": (A, 403, 403, 403, 403), "POST": (A, 405, 405, 405, 405)},
    "admin:jsi18n": {"GET": (A, 200, 200, 200, 200), "POST": (A, 405, 405, 405, 405)},
    "admin:auth_user_password_change": {
        "GET": (A, 403, 403, 403, 200),
        "POST": (A, 403, 403, 403, 200),
    },
    "admin:view_on_site": {"GET": (A, 302, 302, 302, 302), "POST": (A, 302, 302, 302, 302)},
    "admin:app_list": {"GET": (A, 404, 200, 200, 200), "POST": (A, 404, 200, 200, 200)},
    "admin:<catch-all>": {"GET": (A, 404, 404, 404, 404), "POST": (A, 404, 404, 404, 404)},
}
ADMIN_MODEL_PAGES = re.compile(
    r"^admin:(?P<app>\w+?)_(?P<model>[a-z]+)_(?P<page>changelist|add|history|delete|change)$"
)


@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name", "admin:<object redirect>" or "admin:<catch-all>"
    route: str  # the pattern as written, prefixes joined

    def url(self, objects: dict[str, Any]) -> str:
        """The route with every converter (or regex group) filled with a real object."""
        path = self.route
        app_model = re.match(r"admin/(\w+)/(\w+)/<path:object_id>", path)
        if app_model:  # the admin's <object_id>: a real object of that model
            model = ContentType.objects.get(app_label=app_model[1], model=app_model[2])
            pk = objects["pks"].get(model.model_class())
            path = path.replace("<path:object_id>", str(pk))
        path = path.replace("<path:content_type_id>", str(objects["sender_type"]))
        path = path.replace("<path:object_id>", str(objects["sender"].pk))
        path = path.replace("<id>", str(objects["pks"]["user"]))
        path = path.replace("<slug:slug>", objects["sender"].slug)
        path = path.replace("<int:pk>", str(objects["rule"].pk))
        path = path.replace("<int:number>", str(objects["sender"].revision - 1))
        path = path.replace("^(?P<app_label>auth|axes|senders)/$", "senders/")
        path = path.replace("(?P<url>.*)$", "no/such/page/")
        assert "<" not in path and "(" not in path, f"unfilled converter in {self.route}"
        return "/" + path


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        else:
            assert isinstance(pattern, URLPattern)
            route = prefix + str(pattern.pattern)
            name = pattern.name
            if name is None:
                name = "<catch-all>" if "(?P<url>" in route else "<object redirect>"
            yield Route(namespace + name, route)


def discovered() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def admin_expectation(route: Route, user: Any, method: str) -> int | str:
    """What the Django admin must answer a staff user of this role: the role's permissions."""
    if route.name == "admin:<object redirect>":
        return A if not user.is_authenticated else 302  # → the change page
    match = ADMIN_MODEL_PAGES.match(route.name)
    assert match, route.name
    if not user.is_authenticated:
        return A
    app, model, page = match["app"], match["model"], match["page"]

    def may(action: str) -> bool:
        return bool(user.has_perm(f"{app}.{action}_{model}"))

    if (app, model) == ("senders", "revision") and page in ("add", "delete"):
        return 403  # history is never rewritten: nobody may, whatever the permissions
    allowed = {
        "changelist": may("view") or may("change"),
        "history": may("view") or may("change"),
        "change": may("view") or may("change"),
        "add": may("add"),
        "delete": may("delete"),
    }[page]
    if not allowed:
        return 403
    if method == "POST" and page == "change" and not may("change"):
        return 403  # a view-only user may look, not post
    return 200


@pytest.fixture
def objects(table: MailSender, django_user_model: Any) -> dict[str, Any]:
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog

    someone = django_user_model.objects.create_user(username="someone", password="x")
    attempt = AccessAttempt.objects.create(
        username="x", ip_address="192.0.2.1", user_agent="", failures_since_start=1
    )
    log = AccessLog.objects.create(username="x", ip_address="192.0.2.1", user_agent="")
    failure = AccessFailureLog.objects.create(username="x", ip_address="192.0.2.1", user_agent="")
    return {
        "sender": table,
        "rule": table.rules.get(position=2),
        "sender_type": ContentType.objects.get_for_model(MailSender).pk,
        "pks": {
            "user": someone.pk,
            django_user_model: someone.pk,
            Group: Group.objects.get(name="viewer").pk,
            MailSender: table.pk,
            OverrideRule: table.rules.get(position=2).pk,
            type(table.revisions.first()): table.revisions.first().pk,
            AccessAttempt: attempt.pk,
            AccessLog: log.pk,
            AccessFailureLog: failure.pk,
        },
    }


def test_every_url_pattern_has_an_expectation() -> None:
    routes = discovered()
    missing = [
        r.name
        for r in routes
        if r.name not in EXPECTED
        and not ADMIN_MODEL_PAGES.match(r.name)
        and r.name != "admin:<object redirect>"
    ]
    assert missing == [], "add these views to EXPECTED (and decide who may use them)"
    assert len(routes) >= 75


def _outcome(response: Any) -> int | str:
    if response.status_code == 302:
        location = response["Location"]
        if location.startswith("/admin/login/"):
            return A
        if location.startswith("/accounts/login/"):
            return L
    return int(response.status_code)


def _request(client: Client, method: str, url: str, user: Any = None) -> Any:
    if user is not None and user.is_authenticated:
        client.force_login(user)  # a POST to a logout page logged the last one out
    with transaction.atomic():
        response = client.get(url) if method == "GET" else client.post(url, {})
        transaction.set_rollback(True)
    return response


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_expected(
    role: str, objects: dict[str, Any], django_user_model: Any
) -> None:
    client = client_as(django_user_model, role, staff=True)
    user = client.session.get("_auth_user_id")
    user = django_user_model.objects.get(pk=user) if user else _Anonymous()
    wrong = []
    checked = 0
    for route in discovered():
        url = route.url(objects)
        resolve(url)  # the filled route is one of ours
        for method in ("GET", "POST"):
            if route.name in EXPECTED:
                expected = EXPECTED[route.name][method][ROLES.index(role)]
            else:
                expected = admin_expectation(route, user, method)
            got = _outcome(_request(client, method, url, user))
            checked += 1
            if got != expected:
                wrong.append(f"{method} {url} ({route.name}): expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)
    assert checked >= 150


class _Anonymous:
    is_authenticated = False

    def has_perm(self, perm: str) -> bool:
        return False


@pytest.mark.parametrize("role", [VIEWER, EDITOR, ADMIN])
def test_the_django_admin_is_closed_to_users_who_are_not_staff(
    role: str, objects: dict[str, Any], django_user_model: Any
) -> None:
    client = client_as(django_user_model, role)
    for route in discovered():
        if not route.name.startswith("admin:") or route.name in ("admin:login", "admin:logout"):
            continue
        url = route.url(objects)
        got = _outcome(_request(client, "GET", url))
        assert got in (A, 404), f"GET {url}: {got}"


def test_posts_without_the_csrf_token_are_refused(
    table: MailSender, django_user_model: Any
) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("root", password="x"))
    for url in (f"/senders/{table.slug}/bulk/", "/accounts/logout/", "/senders/new/"):
        assert client.post(url, {"text": "", "action": "save"}).status_code == 403, url
