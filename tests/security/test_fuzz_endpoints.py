"""Fuzz every form and endpoint that takes user input, through the whole Django stack.

Bodies are built from raw bytes (so invalid UTF-8 and encoded lone surrogates arrive
as a browser or an attacker could send them), with NUL, control characters, bidi
overrides, markup and rule fragments. The outcome is always a page with a clear
answer — never an exception (the test client re-raises them), never a 500.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from senders.models import MailSender
from tests.conftest_dns import dns_server  # noqa: F401  (a pytest fixture)
from tests.engine.dnsserver import DnsTestServer
from tests.security.conftest import WEB, client_as
from tests.security.strategies import NASTY, field_bytes, field_text, form_body, rule_like

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
HX = {"HTTP_HX_REQUEST": "true"}
# Figures for docs/security.md: requests sent per endpoint = WEB.max_examples.
revision = st.one_of(st.sampled_from([b"", b"0", b"2", b"-1", b"x", b"\xff"]), field_bytes())
flag = st.sampled_from([b"", b"on", b"1", b"0", b"\x00"])
htmx = st.booleans()


@pytest.fixture
def admin_client(table: MailSender, django_user_model: Any) -> Client:
    return client_as(django_user_model, "admin", staff=True)


def post(client: Client, url: str, fields: dict[str, bytes], hx: bool = False) -> Any:
    extra = HX if hx else {}
    return client.generic("POST", url, form_body(fields), content_type=FORM, **extra)


def get(client: Client, url: str, fields: dict[str, bytes], hx: bool = False) -> Any:
    extra = HX if hx else {}
    return client.get(url + "?" + form_body(fields).decode("ascii"), **extra)


def assert_answered(response: Any, allowed: set[int]) -> None:
    assert response.status_code in allowed, response.status_code
    if response.status_code in (400, 409):
        assert response.content, "a refusal says why"


@WEB
@given(text=field_bytes())
def test_rule_validate(admin_client: Client, table: MailSender, text: bytes) -> None:
    response = post(admin_client, f"/senders/{table.slug}/rules/validate/", {"text": text})
    assert_answered(response, {200})


@WEB
@given(text=field_bytes(), comment=field_bytes(), enabled=flag, position=field_bytes(), hx=htmx)
def test_rule_add(
    admin_client: Client,
    table: MailSender,
    text: bytes,
    comment: bytes,
    enabled: bytes,
    position: bytes,
    hx: bool,
) -> None:
    table.refresh_from_db()
    fields = {"text": text, "comment": comment, "enabled": enabled, "position": position}
    fields["revision"] = str(table.revision).encode()
    response = post(admin_client, f"/senders/{table.slug}/rules/add/", fields, hx)
    assert_answered(response, {200, 400} if hx else {302, 400})


@WEB
@given(text=field_bytes(), comment=field_bytes(), enabled=flag, rev=revision, hx=htmx)
def test_rule_edit(
    admin_client: Client,
    table: MailSender,
    text: bytes,
    comment: bytes,
    enabled: bytes,
    rev: bytes,
    hx: bool,
) -> None:
    rule = table.rules.order_by("position").first()
    assert rule is not None
    url = f"/senders/{table.slug}/rules/{rule.pk}/edit/"
    fields = {"text": text, "comment": comment, "enabled": enabled, "revision": rev}
    response = post(admin_client, url, fields, hx)
    assert_answered(response, {200, 400, 409} if hx else {302, 400, 409})
    assert_answered(get(admin_client, url, {"revision": rev}, hx), {200})


@WEB
@given(to=field_bytes(), enabled=field_bytes(), rev=revision, hx=htmx)
def test_rule_move_and_toggle(
    admin_client: Client, table: MailSender, to: bytes, enabled: bytes, rev: bytes, hx: bool
) -> None:
    rule = table.rules.order_by("position").first()
    assert rule is not None
    base = f"/senders/{table.slug}/rules/{rule.pk}"
    ok = {200, 400, 409} if hx else {302, 400, 409}
    assert_answered(post(admin_client, f"{base}/move/", {"to": to, "revision": rev}, hx), ok)
    fields = {"enabled": enabled, "revision": rev}
    assert_answered(post(admin_client, f"{base}/toggle/", fields, hx), ok)


@WEB
@given(text=field_bytes() | rule_like.map(lambda s: (s + "\n") * 50).map(str.encode), rev=revision)
def test_bulk_validate_and_save(
    admin_client: Client, table: MailSender, text: bytes, rev: bytes
) -> None:
    url = f"/senders/{table.slug}/bulk/"
    for action in (b"validate", b"save"):
        response = post(admin_client, url, {"text": text, "action": action, "revision": rev})
        assert_answered(response, {200, 302, 400, 409})
    assert_answered(post(admin_client, url, {"text": text}, hx=True), {200})


@WEB
@given(data=st.binary(max_size=3000) | field_bytes(), mode=field_bytes(), name=field_text)
def test_import_upload(
    admin_client: Client, table: MailSender, data: bytes, mode: bytes, name: str
) -> None:
    table.refresh_from_db()
    # The client itself refuses names with no file name left ("/", ".."): not our input.
    name = name.replace("/", "_").replace("\\", "_").strip(". ")[:100] or "t.txt"
    upload = SimpleUploadedFile(name, data)
    for chosen in (mode.decode("utf-8", "replace"), "replace", "append"):
        response = admin_client.post(
            f"/senders/{table.slug}/import/",
            {"file": upload, "mode": chosen, "revision": table.revision},
        )
        upload.seek(0)
        assert_answered(response, {302, 400, 409})


tester_fields = st.fixed_dictionaries(
    {
        "recipients": field_bytes(),
        "mail_from": field_bytes(),
        "auth_sender": field_bytes(),
        "size": field_bytes(),
        "retries": field_bytes(),
        # Never "live": no DNS leaves this machine (failures: test_failures_dns.py).
        "dns": st.sampled_from([b"manual", b"sender", b"", b"\xff", b"live\x00"]),
        "mx_records": field_bytes(),
        "table": st.sampled_from([b"saved", b"text", b"", b"\x00"]),
        "text": field_bytes(),
        "revision": st.one_of(field_bytes(), st.sampled_from([b"1", b"0", b"-1", b"9" * 30])),
    }
)


@WEB
@given(fields=tester_fields, hx=htmx)
def test_tester_get_and_post(
    admin_client: Client, table: MailSender, fields: dict[str, bytes], hx: bool
) -> None:
    url = f"/senders/{table.slug}/test/"
    assert_answered(get(admin_client, url, fields, hx), {200, 400})
    assert_answered(post(admin_client, url, fields, hx), {200, 400})


impact_fields = st.fixed_dictionaries(
    {
        "recipients": field_bytes()
        | st.sampled_from([b"recipient,size\nbob@example.com,x\n", b"to=<a@b.example>\n"]),
        "compare": st.sampled_from([b"text", b"revisions", b"", b"\xff"]),
        "a": revision,
        "b": revision,
        "text": field_bytes(),
        # Never "live": the sender's own DNS servers are the loopback test server.
        "dns": st.sampled_from([b"sender", b"", b"\xff", b"live\x00"]),
        "run": st.sampled_from([b"page", b"csv", b"", b"\x00"]),
    }
)


@WEB
@given(fields=impact_fields, upload=st.none() | st.binary(max_size=2000))
def test_impact_post(
    admin_client: Client,
    table: MailSender,
    dns_server: DnsTestServer,  # noqa: F811
    fields: dict[str, bytes],
    upload: bytes | None,
) -> None:
    MailSender.objects.filter(pk=table.pk).update(nameservers=dns_server.address)
    url = f"/senders/{table.slug}/impact/"
    assert_answered(post(admin_client, url, fields), {200, 400})
    if upload is not None:
        data = {name: value.decode("utf-8", "replace") for name, value in fields.items()}
        data["file"] = SimpleUploadedFile("list.txt", upload)  # type: ignore[assignment]
        assert_answered(admin_client.post(url, data), {200, 400})
    assert_answered(get(admin_client, url, {"a": fields["a"], "b": fields["b"]}), {200})


sender_fields = st.fixed_dictionaries(
    {
        "name": field_bytes(),
        "slug": field_bytes() | st.sampled_from([b"main", b"new-one", b"UPPER", b"a" * 101]),
        "description": field_bytes(),
        "enabled": flag,
        "nameservers": field_bytes() | st.sampled_from([b"192.0.2.1:99999", b"[::1]:53, ::1"]),
        "local_domains": field_bytes(),
    }
)


@WEB
@given(fields=sender_fields)
def test_sender_create_and_edit(
    admin_client: Client, table: MailSender, fields: dict[str, bytes]
) -> None:
    assert_answered(post(admin_client, "/senders/new/", fields), {302, 400})
    if MailSender.objects.filter(pk=table.pk).exists():
        response = post(admin_client, f"/senders/{table.slug}/edit/", fields)
        assert_answered(response, {302, 400})
        MailSender.objects.filter(pk=table.pk).update(slug="main")


@WEB
@given(a=field_bytes(), b=field_bytes(), page=field_bytes(), q=field_bytes(), hx=htmx)
def test_query_parameters(
    admin_client: Client, table: MailSender, a: bytes, b: bytes, page: bytes, q: bytes, hx: bool
) -> None:
    slug = table.slug
    assert_answered(
        get(admin_client, f"/senders/{slug}/history/diff/", {"a": a, "b": b}, hx), {200, 400}
    )
    assert_answered(get(admin_client, f"/senders/{slug}/history/", {"page": page}), {200})
    assert_answered(get(admin_client, f"/senders/{slug}/", {"page": page}, hx), {200})
    assert_answered(get(admin_client, "/", {"q": q, "page": page}, hx), {200})
    assert_answered(get(admin_client, f"/senders/{slug}/bulk/", {"page": page}), {200})


@WEB
@given(token=field_bytes(), header=field_text)
def test_export_query_and_header(
    client: Client, table: MailSender, token: bytes, header: str
) -> None:
    for kind in ("txt", "json"):
        url = f"/export/{table.slug}.{kind}"
        assert_answered(get(client, url, {"token": token}), {401})
        header_value = header.encode("utf-8").decode("latin-1")  # as WSGI hands it over
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {header_value}")
        assert_answered(response, {401})


@WEB
@given(
    sender=sender_fields,
    texts=st.lists(field_bytes(), min_size=1, max_size=3),
    comment=field_bytes(),
    order=field_bytes(),
)
def test_django_admin_add_and_change(
    admin_client: Client,
    table: MailSender,
    sender: dict[str, bytes],
    texts: list[bytes],
    comment: bytes,
    order: bytes,
) -> None:
    table.refresh_from_db()
    add = post(admin_client, reverse("admin:senders_mailsender_add"), sender)
    assert_answered(add, {200, 302})
    change_url = reverse("admin:senders_mailsender_change", args=[table.pk])
    assert_answered(post(admin_client, change_url, sender), {200, 302})
    # Rules are added and changed one at a time, on the rule admin's own pages.
    rule_add = reverse("admin:senders_overriderule_add")
    for text in texts:
        fields = {"sender": str(table.pk).encode(), "text": text, "comment": comment}
        fields |= {"order": order, "enabled": b"on"}
        assert_answered(post(admin_client, rule_add, fields), {200, 302})
        rule = table.rules.order_by("position").first()
        if rule is not None:
            rule_change = reverse("admin:senders_overriderule_change", args=[rule.pk])
            table.refresh_from_db()
            fields |= {"table_revision": str(table.revision).encode()}
            assert_answered(post(admin_client, rule_change, fields), {200, 302})
    MailSender.objects.filter(pk=table.pk).update(slug="main")
    assert_answered(admin_client.get(change_url), {200})


# ------------------------------------------------------------------ the sweep
# Hypothesis samples; the sweep is exhaustive: every nasty value in every field of every
# endpoint, the other fields left benign.

# The "test a message" form takes the same fields by GET and by POST.
TESTER_FIELDS = (
    "recipients",
    "mail_from",
    "auth_sender",
    "size",
    "retries",
    "dns",
    "mx_records",
    "table",
    "text",
    "revision",
)

SWEEP_VALUES = [
    *(value.encode() for value in NASTY),
    b"\xff\xfe",  # not UTF-8 at all
    b"\xed\xa0\x80",  # a lone surrogate, UTF-8 encoded
    b"\xc3",  # a cut multi-byte character
    b"x" * 5000,  # a very long line
    b"example.com smtp.example.net\n" * 2000,  # a long paste
]
BENIGN = {
    "text": b"example.com smtp.example.net",
    "comment": b"",
    "enabled": b"on",
    "revision": b"2",
    "recipients": b"bob@example.com",
    "dns": b"manual",
    "mx_records": b"example.com 10 mx.example.com",
    "name": b"Fuzzed",
    "slug": b"fuzzed",
    "compare": b"text",
    "run": b"page",
}
# (method, url template, fields, statuses a non-htmx request may get)
ENDPOINTS: list[tuple[str, str, tuple[str, ...], set[int]]] = [
    ("POST", "/senders/{slug}/rules/validate/", ("text",), {200}),
    (
        "POST",
        "/senders/{slug}/rules/add/",
        ("text", "comment", "enabled", "position", "revision"),
        {302, 400, 409},
    ),
    (
        "POST",
        "/senders/{slug}/rules/{pk}/edit/",
        ("text", "comment", "enabled", "revision"),
        {302, 400, 409},
    ),
    ("GET", "/senders/{slug}/rules/{pk}/edit/", ("revision",), {200}),
    ("GET", "/senders/{slug}/rules/{pk}/delete/", ("revision",), {200}),
    ("POST", "/senders/{slug}/rules/{pk}/move/", ("to", "revision"), {302, 400, 409}),
    ("POST", "/senders/{slug}/rules/{pk}/toggle/", ("enabled", "revision"), {302, 400, 409}),
    ("POST", "/senders/{slug}/bulk/", ("text", "action", "revision"), {200, 302, 409}),
    (
        "GET",
        "/senders/{slug}/test/",
        TESTER_FIELDS,
        {200, 400},
    ),
    (
        "POST",
        "/senders/{slug}/test/",
        TESTER_FIELDS,
        {200, 400},
    ),
    (
        "POST",
        "/senders/{slug}/impact/",
        ("recipients", "compare", "a", "b", "text", "dns", "run"),
        {200, 400},
    ),
    ("GET", "/senders/{slug}/impact/", ("a", "b", "text"), {200}),
    (
        "POST",
        "/senders/new/",
        ("name", "slug", "description", "nameservers", "local_domains"),
        {302, 400},
    ),
    (
        "POST",
        "/senders/{slug}/edit/",
        ("name", "description", "nameservers", "local_domains"),
        {302, 400},
    ),
    ("GET", "/senders/{slug}/history/diff/", ("a", "b"), {200, 400}),
    ("GET", "/senders/{slug}/history/", ("page",), {200}),
    ("GET", "/senders/{slug}/", ("page",), {200}),
    ("GET", "/", ("q", "page"), {200}),
    ("POST", "/senders/{slug}/history/1/rollback/", ("message", "revision"), {302, 409}),
    ("POST", "/senders/{slug}/token/", ("action",), {200, 400}),
    ("GET", "/export/{slug}.txt", ("token",), {401}),
    ("GET", "/export/{slug}.json", ("token",), {401}),
]
SWEPT = sum(len(fields) for _, _, fields, _ in ENDPOINTS) * len(SWEEP_VALUES)


@pytest.mark.parametrize(
    ("method", "template", "fields", "allowed"),
    ENDPOINTS,
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_nasty_value_in_every_field(
    admin_client: Client,
    table: MailSender,
    method: str,
    template: str,
    fields: tuple[str, ...],
    allowed: set[int],
) -> None:
    pk = table.rules.order_by("position").values_list("pk", flat=True).first()
    url = template.format(slug=table.slug, pk=pk)
    for name in fields:
        for value in SWEEP_VALUES:
            data = {field: BENIGN.get(field, b"") for field in fields} | {name: value}
            send = post if method == "POST" else get
            with transaction.atomic():
                response = send(admin_client, url, data)
                transaction.set_rollback(True)
            assert response.status_code in allowed, (name, value[:40], response.status_code)
