"""The export for delivery agents: bytes, headers, conditional requests, no leaks."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django.utils.http import http_date

from senders import export
from senders.export import create_token
from senders.models import ExportFetch, MailSender, Revision
from senders.tables import Actor, add_rule, replace_table
from senders.tabletext import parse_document

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)

DOCUMENT = """\
# Mail for the parent company
Example.COM   smtp.myisp.com
*  relay.myisp.com:587 $size>10000000 $END
#disabled: *.example.org relay.example.net
*  joe:let:me@in@smtp.corp.example $authsender=joe $end
*  backup.example.net $retries>=3 $priority:20 $adddns
*.demon.co.uk smtp.demon.net $dnsmx:!*.google.com $from~=/^bob@/i
"""

EXPECTED_TEXT = (
    "example.com smtp.myisp.com\n"
    "* relay.myisp.com:587 $size>10000000 $end\n"
    "* joe:let:me@in@smtp.corp.example $authsender=joe $end\n"
    "* backup.example.net $retries>=3 $priority:20 $adddns\n"
    "*.demon.co.uk smtp.demon.net $dnsmx:!*.google.com $from~=/^bob@/i\n"
)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document(DOCUMENT), actor=ACTOR)
    sender.refresh_from_db()
    return sender


@pytest.fixture
def token(table: MailSender) -> str:
    return create_token(table)


def fetch(
    client: Client,
    token: str | None,
    url: str = "/export/main.txt",
    remote_addr: str = "127.0.0.1",
    **headers: str,
) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.get(url, headers=headers, REMOTE_ADDR=remote_addr)


def test_it_serves_enabled_rules_in_canonical_form(client: Client, token: str) -> None:
    response = fetch(client, token)
    assert response.status_code == 200
    assert response.content == EXPECTED_TEXT.encode()
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert b"\r" not in response.content
    assert response["X-Table-Revision"] == "1"
    assert response["Cache-Control"] == "private, no-cache"


def test_the_export_parses_back_to_the_same_text(client: Client, token: str) -> None:
    from senders.engine import format_table, parse_table

    body = fetch(client, token).content.decode()
    assert format_table(parse_table(body)) == body


def test_an_empty_table_is_an_empty_body(client: Client, sender: MailSender) -> None:
    token = create_token(sender)
    response = fetch(client, token)
    assert response.status_code == 200
    assert response.content == b""
    assert "Last-Modified" not in response
    assert response["ETag"].startswith('"')


def test_json_has_the_same_rules_structured_with_passwords(client: Client, token: str) -> None:
    response = fetch(client, token, "/export/main.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = json.loads(response.content)
    assert data["sender"] == "main"
    assert [rule["text"] for rule in data["rules"]] == EXPECTED_TEXT.splitlines()
    assert [(rule["line"], rule["position"]) for rule in data["rules"]] == [
        (1, 1),
        (2, 2),
        (3, 4),
        (4, 5),
        (5, 6),
    ]
    assert data["rules"][2] == {
        "rule": 4,
        "line": 3,
        "position": 4,
        "text": "* joe:let:me@in@smtp.corp.example $authsender=joe $end",
        "domain": "*",
        "server": {
            "host": "smtp.corp.example",
            "port": 25,
            "username": "joe",
            "password": "let:me@in",
        },
        "conditions": [{"attribute": "authsender", "operator": "=", "value": "joe"}],
        "end": True,
        "adddns": False,
        "priority": None,
        "preference": 10,
    }
    assert data["rules"][1]["conditions"] == [
        {"attribute": "size", "operator": ">", "value": 10000000}
    ]
    assert data["rules"][4]["conditions"] == [
        {"attribute": "dnsmx", "pattern": "*.google.com", "negate": True},
        {"attribute": "from", "operator": "~=", "value": "/^bob@/i"},
    ]
    assert data["rules"][3]["priority"] == 20


def test_json_is_valid_for_any_characters(client: Client, sender: MailSender) -> None:
    add_rule(sender, 'bücher.example smtp.example.net $from~=/"ü\\\\n/', actor=ACTOR)
    sender.refresh_from_db()
    token = create_token(sender)
    response = fetch(client, token, "/export/main.json")
    assert response.content.isascii()
    rule = json.loads(response.content)["rules"][0]
    assert rule["domain"] == "xn--bcher-kva.example"
    assert rule["conditions"][0]["value"] == '/"ü\\\\n/'


# ---------------------------------------------------------------- authentication


def test_the_token_itself_is_not_stored(table: MailSender) -> None:
    token = create_token(table)
    table.refresh_from_db()
    assert token not in table.export_token_hash
    assert table.export_token_hash == export.hash_token(token)
    assert len(token) >= 43  # 256 bits


def test_a_query_token_works_too(client: Client, token: str) -> None:
    response = client.get(f"/export/main.txt?token={token}")
    assert response.status_code == 200
    assert response.content == EXPECTED_TEXT.encode()


@pytest.mark.parametrize(
    ("url", "given"),
    [
        ("/export/main.txt", None),
        ("/export/main.txt", "wrong"),
        ("/export/main.txt", ""),
        ("/export/nosuchsender.txt", None),
        ("/export/nosuchsender.txt", "wrong"),
        ("/export/main.json", "wrong"),
        ("/export/main.txt", "x" * 5000),
    ],
)
def test_unknown_sender_and_wrong_token_get_the_same_401(
    client: Client, token: str, url: str, given: str | None
) -> None:
    response = fetch(client, given, url)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="export"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == (
        b"401 Unauthorized: this export needs the sender's export token, sent as "
        b'"Authorization: Bearer <token>" (or ?token=<token>).\n'
    )


def test_a_valid_token_of_another_sender_is_refused(client: Client, token: str) -> None:
    other = MailSender.objects.create(name="Other", slug="other")
    create_token(other)
    assert fetch(client, token, "/export/other.txt").status_code == 401


def test_a_sender_without_a_token_cannot_be_fetched(client: Client, table: MailSender) -> None:
    assert fetch(client, export.hash_token("")).status_code == 401
    assert fetch(client, "").status_code == 401


def test_rotating_invalidates_the_old_token_at_once(client: Client, table: MailSender) -> None:
    old = create_token(table)
    new = create_token(table)
    assert new != old
    assert fetch(client, old).status_code == 401
    assert fetch(client, new).status_code == 200


def test_revoking_stops_the_export(client: Client, table: MailSender, token: str) -> None:
    export.revoke_token(table)
    assert fetch(client, token).status_code == 401


def test_a_switched_off_sender_answers_403_to_its_token_holder_only(
    client: Client, table: MailSender, token: str
) -> None:
    table.enabled = False
    table.save()
    response = fetch(client, token)
    assert response.status_code == 403
    assert response.content == b"403 Forbidden: sender main is switched off in the admin.\n"
    assert fetch(client, "wrong").status_code == 401


def test_the_export_needs_no_login_and_refuses_post(client: Client, token: str) -> None:
    response = client.post("/export/main.txt", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 405


@pytest.mark.parametrize("url", ["/export/main.txt", "/export/main.json"])
def test_a_post_without_a_csrf_token_gets_405_as_documented(url: str, token: str) -> None:
    client = Client(enforce_csrf_checks=True)  # as a real agent meets the middleware
    for method in ("post", "put", "delete"):
        response = getattr(client, method)(url, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
    assert MailSender.objects.get(slug="main").last_fetched_at is None


def test_the_bearer_scheme_is_case_insensitive(client: Client, token: str) -> None:
    response = client.get("/export/main.txt", headers={"Authorization": f"bearer  {token}"})
    assert response.status_code == 200


# ---------------------------------------------------------------- caching


def test_etag_is_strong_and_derived_from_the_content(client: Client, token: str) -> None:
    import hashlib

    response = fetch(client, token)
    assert response["ETag"] == f'"{hashlib.sha256(EXPECTED_TEXT.encode()).hexdigest()}"'


def test_if_none_match_gives_304_without_a_body(client: Client, token: str) -> None:
    etag = fetch(client, token)["ETag"]
    response = fetch(client, token, **{"If-None-Match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


def test_a_change_that_leaves_the_export_alone_keeps_the_etag(
    client: Client, table: MailSender, token: str
) -> None:
    etag = fetch(client, token)["ETag"]
    rule = table.rules.get(position=1)
    from senders.tables import update_rule

    update_rule(rule, actor=ACTOR, comment="only a comment")
    assert fetch(client, token, **{"If-None-Match": etag}).status_code == 304


def test_a_changed_table_gets_a_new_etag_and_body(
    client: Client, table: MailSender, token: str
) -> None:
    etag = fetch(client, token)["ETag"]
    add_rule(table, "new.example relay.example.net", actor=ACTOR)
    response = fetch(client, token, **{"If-None-Match": etag})
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert response.content.endswith(b"new.example relay.example.net\n")
    assert response["X-Table-Revision"] == "2"


def test_last_modified_is_the_revision_time(client: Client, table: MailSender, token: str) -> None:
    created = Revision.objects.get(sender=table, number=1).created_at
    response = fetch(client, token)
    assert response["Last-Modified"] == http_date(int(created.timestamp()))
    later = http_date(int(created.timestamp()) + 60)
    assert fetch(client, token, **{"If-Modified-Since": later}).status_code == 304
    earlier = http_date(int(created.timestamp()) - 60)
    assert fetch(client, token, **{"If-Modified-Since": earlier}).status_code == 200


def test_if_none_match_wins_over_if_modified_since(client: Client, token: str) -> None:
    later = http_date(int(timezone.now().timestamp()) + 3600)
    response = fetch(client, token, **{"If-None-Match": '"other"', "If-Modified-Since": later})
    assert response.status_code == 200


def test_head_has_the_headers_and_no_body(client: Client, token: str) -> None:
    get = fetch(client, token)
    head = client.head("/export/main.txt", headers={"Authorization": f"Bearer {token}"})
    assert head.status_code == 200
    assert head.content == b""
    assert head["Content-Length"] == str(len(EXPECTED_TEXT.encode()))
    for header in ("ETag", "Last-Modified", "Content-Type"):
        assert head[header] == get[header]


def test_the_body_is_rendered_once_per_revision(
    client: Client, table: MailSender, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    render = export._render

    def counting(*args: Any) -> bytes:
        calls.append(args[2])
        return render(*args)

    monkeypatch.setattr(export, "_render", counting)
    for _ in range(3):
        fetch(client, token)
    assert calls == ["txt"]
    add_rule(table, "new.example relay.example.net", actor=ACTOR)
    fetch(client, token)
    fetch(client, token, "/export/main.json")
    assert calls == ["txt", "txt", "json"]


def test_a_recreated_sender_does_not_get_the_old_cached_body(client: Client, token: str) -> None:
    assert fetch(client, token).content == EXPECTED_TEXT.encode()
    MailSender.objects.filter(slug="main").delete()
    fresh = MailSender.objects.create(name="Main again", slug="main")
    add_rule(fresh, "other.example relay.example.net", actor=ACTOR)
    fresh.refresh_from_db()
    new_token = create_token(fresh)
    assert fetch(client, new_token).content == b"other.example relay.example.net\n"


def test_the_json_export_names_the_new_slug_after_a_rename(
    client: Client, table: MailSender, token: str
) -> None:
    assert json.loads(fetch(client, token, "/export/main.json").content)["sender"] == "main"
    table.slug = "renamed"
    table.save()  # the revision stays: a rename is not a table change
    response = fetch(client, token, "/export/renamed.json")
    assert response["X-Table-Revision"] == "1"
    assert json.loads(response.content)["sender"] == "renamed"


def test_an_unreadable_stored_table_answers_503(
    client: Client, table: MailSender, token: str
) -> None:
    Revision.objects.filter(sender=table).update(document="example.com $nonsense\n")
    response = fetch(client, token)
    assert response.status_code == 503
    assert response.content == b"503 Service Unavailable: the stored table cannot be read.\n"


# ---------------------------------------------------------------- fetch records


def test_a_fetch_is_recorded_with_address_and_revision(client: Client, token: str) -> None:
    fetch(client, token, remote_addr="192.0.2.7")
    sender = MailSender.objects.get(slug="main")
    assert sender.last_fetched_by == "192.0.2.7"
    assert sender.last_fetched_revision == 1
    assert sender.last_fetched_at is not None


def test_polls_are_recorded_at_most_once_a_minute(
    client: Client, table: MailSender, token: str, django_assert_num_queries: Any
) -> None:
    fetch(client, token)
    first = MailSender.objects.get(pk=table.pk).last_fetched_at
    with django_assert_num_queries(1):  # the sender's row; body cached, nothing written
        fetch(client, token)
    assert MailSender.objects.get(pk=table.pk).last_fetched_at == first
    ExportFetch.objects.filter(sender=table).update(at=first - timedelta(minutes=2))
    fetch(client, token)
    assert MailSender.objects.get(pk=table.pk).last_fetched_at > first


def test_a_new_revision_is_recorded_at_once(client: Client, table: MailSender, token: str) -> None:
    fetch(client, token)
    add_rule(table, "new.example relay.example.net", actor=ACTOR)
    fetch(client, token)
    assert MailSender.objects.get(pk=table.pk).last_fetched_revision == 2


def test_refused_and_head_requests_are_not_recorded(client: Client, token: str) -> None:
    fetch(client, "wrong")
    client.head("/export/main.txt", headers={"Authorization": f"Bearer {token}"})
    assert MailSender.objects.get(slug="main").last_fetched_at is None


def test_recording_does_not_touch_the_senders_other_fields(
    client: Client, table: MailSender, token: str
) -> None:
    updated = MailSender.objects.get(pk=table.pk).updated_at
    fetch(client, token)
    assert MailSender.objects.get(pk=table.pk).updated_at == updated


# ---------------------------------------------------------------- status on the sender page


def test_export_status_says_whether_delivery_has_the_latest_revision(
    client: Client, table: MailSender, token: str
) -> None:
    from django.template.loader import render_to_string

    fetch(client, token, remote_addr="192.0.2.7")
    table.refresh_from_db()
    html = render_to_string(
        "senders/_export_status.html", {"export_status": export.export_status(table)}
    )
    assert "up to date" in html
    assert "192.0.2.7" in html
    assert "Last fetched just now" in html
    add_rule(table, "new.example relay.example.net", actor=ACTOR)
    table.refresh_from_db()
    status = export.export_status(table)
    assert not status.up_to_date
    html = render_to_string("senders/_export_status.html", {"export_status": status})
    assert "behind" in html
    assert "the table is now at revision 2, not picked up yet" in html


def test_export_status_without_a_token_says_so(sender: MailSender) -> None:
    from django.template.loader import render_to_string

    html = render_to_string(
        "senders/_export_status.html", {"export_status": export.export_status(sender)}
    )
    assert "Delivery agents cannot fetch this table yet." in html
    assert "Never fetched by a delivery agent." in html


def test_the_written_out_poll_query_reads_what_the_orm_reads(table: MailSender, token: str) -> None:
    from senders.export import EXPORT_FIELDS, _sender_for_export

    fetched = _sender_for_export("main")
    assert fetched is not None
    expected = MailSender.objects.only(*EXPORT_FIELDS).get(slug="main")
    for name in EXPORT_FIELDS:
        assert getattr(fetched, name) == getattr(expected, name), name
        assert type(getattr(fetched, name)) is type(getattr(expected, name)), name
    assert fetched.created_at.tzinfo is not None
    assert _sender_for_export("nobody") is None


def test_the_written_out_poll_query_reads_the_fetch_record_too(
    client: Client, table: MailSender, token: str, django_assert_num_queries: Any
) -> None:
    from senders.export import FETCH_FIELDS, _sender_for_export

    fetched = _sender_for_export("main")
    assert fetched is not None
    with django_assert_num_queries(0):
        assert fetched.fetch_record is None  # read with the sender: no record yet
    fetch(client, token, remote_addr="192.0.2.7")
    fetched = _sender_for_export("main")
    assert fetched is not None
    expected = ExportFetch.objects.get(sender=table)
    with django_assert_num_queries(0):
        record = fetched.fetch_record
    assert record is not None
    for name in FETCH_FIELDS:
        assert getattr(record, name) == getattr(expected, name), name
        assert type(getattr(record, name)) is type(getattr(expected, name)), name
    assert record.at.tzinfo is not None


def test_a_fetch_leaves_the_senders_row_alone(
    client: Client, table: MailSender, token: str
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fetch(client, token)
    writes = [q["sql"] for q in queries if not q["sql"].lstrip().upper().startswith("SELECT")]
    assert writes, "the first poll of a revision writes its fetch record"
    assert all("senders_mailsender" not in sql.split(" SET ")[0] for sql in writes)
    assert all(sql.split()[0].upper() in ("INSERT", "UPDATE") for sql in writes)
    assert all("senders_exportfetch" in sql for sql in writes)
