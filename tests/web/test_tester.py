"""Test a message: where would it go, and why, with the saved table or unsaved text."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from senders.engine import MxAnswer, StaticResolver
from senders.models import MailSender, Revision
from senders.tables import Actor, add_rule, replace_table
from senders.tabletext import parse_document
from senders.tester import TimeBoundResolver, parse_recipients, parse_size, static_resolver
from tests.conftest_dns import dns_server  # noqa: F401  (a pytest fixture)
from tests.engine.dnsserver import DnsTestServer

pytestmark = pytest.mark.django_db

ACTOR = Actor(source=Revision.Source.COMMAND)
PASSWORD = "let:me@in"

# The spec's worked example, plus a disabled rule and a line after the $dnsmx one.
WORKED = f"""\
example.com smtp.myisp.com
* relay.myisp.com:587 $size>10000000 $end
* joe:{PASSWORD}@smtp.corp.example $authsender=joe $end
* backup.example.net $retries>=3 $priority:20 $adddns
#disabled: *.example.org never.example.net
*.demon.co.uk smtp.demon.net
* smtp.myisp.com $dnsmx:*.aspmx.l.google.com $end
last.example relay.example.net
"""

MX = """\
# typed-in DNS for the tests
x.org 10 mx1.x.org
x.org 20 mx2.x.org
customer.com 1 aspmx.l.google.com
customer.com 5 alt1.aspmx.l.google.com
null.org 0 .
implicit.org A
broken.org SERVFAIL
"""


def url(sender: MailSender) -> str:
    return reverse("senders:test", args=[sender.slug])


@pytest.fixture
def table(sender: MailSender) -> MailSender:
    replace_table(sender, parse_document(WORKED), actor=ACTOR)
    sender.refresh_from_db()
    return sender


def run(client: Client, sender: MailSender, **fields: Any) -> Any:
    data = {"dns": "manual", "mx_records": MX, "size": "2k", "retries": "0", **fields}
    return client.get(url(sender), data)


def only(response: Any) -> Any:
    """The one domain outcome of a response."""
    report = response.context["report"]
    assert report is not None, response.context["form"].errors
    assert len(report.outcomes) == 1
    return report.outcomes[0]


def states(outcome: Any) -> list[tuple[int, str]]:
    return [(row.number, row.state) for row in outcome.rows]


def hops(outcome: Any) -> list[tuple[str, int, int, int | None]]:
    return [(hop.host, hop.port, hop.preference, hop.line) for hop in outcome.hops]


# ------------------------------------------------------------------ access and page


def test_it_shows_an_empty_form_first(viewer_client: Client, table: MailSender) -> None:
    response = viewer_client.get(url(table))
    assert response.status_code == 200
    assert response.context["report"] is None
    body = response.content.decode()
    assert "Enter a recipient to see where the message would go." in body
    assert 'hx-trigger="input changed delay:100ms, submit"' in body
    assert 'method="get"' in body


def test_it_needs_login(client: Client, table: MailSender) -> None:
    response = client.get(url(table))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_needs_a_role(client: Client, nobody: Any, table: MailSender) -> None:
    client.force_login(nobody)
    assert client.get(url(table), {"recipients": "a@example.com"}).status_code == 403


def test_an_unknown_sender_is_404(viewer_client: Client, db: None) -> None:
    assert viewer_client.get(reverse("senders:test", args=["nope"])).status_code == 404


def test_other_methods_are_refused(viewer_client: Client, table: MailSender) -> None:
    assert viewer_client.delete(url(table)).status_code == 405


def test_htmx_gets_only_the_result_fragment(viewer_client: Client, table: MailSender) -> None:
    response = viewer_client.get(
        url(table),
        {"recipients": "bob@example.com", "dns": "manual", "mx_records": MX},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="result"')
    assert "<form" not in body
    assert "<html" not in body
    assert "rule 1 matched" in body


def test_htmx_errors_come_back_in_the_same_fragment(
    viewer_client: Client, table: MailSender
) -> None:
    response = viewer_client.get(
        url(table), {"recipients": "bob@", "size": "lots"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400  # refused input, as on every form
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="result"')
    assert "Fix these to see a result:" in body
    assert "Recipient address(es): " in body
    assert "Size ($size): “lots” is not a size." in body


# ------------------------------------------------------------------ statuses


def test_override_with_the_full_trace(viewer_client: Client, table: MailSender) -> None:
    outcome = only(run(viewer_client, table, recipients="bob@example.com"))
    assert outcome.status == "override"
    assert outcome.reason == "rule 1 matched"
    assert hops(outcome) == [("smtp.myisp.com", 25, 10, 1)]
    assert states(outcome) == [
        (1, "matched"),
        (2, "failed"),
        (3, "failed"),
        (4, "failed"),
        (5, "disabled"),
        (6, "failed"),
        (7, "failed"),
        (8, "failed"),
    ]
    why = {row.number: row.why for row in outcome.rows}
    assert why[2] == "$size>10000000 failed (size is 2048)"
    assert why[5] == "disabled, not evaluated"
    assert why[6] == 'domain "example.com" does not match "*.demon.co.uk"'
    assert why[7] == "$dnsmx:*.aspmx.l.google.com failed (example.com does not exist)"


def test_end_leaves_later_rules_not_reached(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients="bob@example.com", size="20M")
    outcome = only(response)
    assert outcome.status == "override"
    assert hops(outcome) == [("smtp.myisp.com", 25, 10, 1), ("relay.myisp.com", 587, 10, 2)]
    assert states(outcome)[2:] == [
        (3, "not-reached"),
        (4, "not-reached"),
        (5, "disabled"),
        (6, "not-reached"),
        (7, "not-reached"),
        (8, "not-reached"),
    ]
    assert outcome.rows[2].why == "not reached: rule 2 ended the walk ($end)"
    assert "A message of 20971520 bytes," in response.content.decode()


def test_credentials_show_the_user_and_password_set_only(
    viewer_client: Client, table: MailSender
) -> None:
    response = run(viewer_client, table, recipients="a@x.org", auth_sender="JOE")
    outcome = only(response)
    assert hops(outcome) == [("smtp.corp.example", 25, 10, 3)]
    assert outcome.hops[0].username == "joe"
    body = response.content.decode()
    assert "joe · password set" in body
    assert "* joe:********@smtp.corp.example $authsender=joe $end" in body
    assert PASSWORD not in body
    assert "let:me" not in body


def test_override_plus_dns_sorts_by_preference(viewer_client: Client, table: MailSender) -> None:
    outcome = only(run(viewer_client, table, recipients="a@x.org", retries="5"))
    assert outcome.status == "override+dns"
    assert hops(outcome) == [
        ("mx1.x.org", 25, 10, None),
        ("backup.example.net", 25, 20, 4),
        ("mx2.x.org", 25, 20, None),
    ]


def test_hops_of_equal_preference_share_their_place_and_say_so(
    viewer_client: Client, table: MailSender
) -> None:
    response = run(viewer_client, table, recipients="a@x.org", retries="5")
    places = [(r.place, r.equal, r.hop.host) for r in only(response).ranked_hops]
    assert places == [
        (1, False, "mx1.x.org"),
        (2, True, "backup.example.net"),
        (2, True, "mx2.x.org"),
    ]
    body = response.content.decode()
    assert "<td>2 (equal)</td>" in body
    assert (
        "Hops marked “equal” have the same preference: a deliverer may try them in any "
        "order, or spread the load across them." in body
    )
    alone = run(viewer_client, table, recipients="a@customer.com").content.decode()
    assert "(equal)" not in alone and "Hops marked" not in alone


def test_dnsmx_reads_the_typed_mx_records(viewer_client: Client, table: MailSender) -> None:
    outcome = only(run(viewer_client, table, recipients="a@customer.com"))
    assert outcome.status == "override"
    assert hops(outcome) == [("smtp.myisp.com", 25, 10, 7)]
    assert outcome.rows[-1].state == "not-reached"


def test_dns_when_no_rule_matches(viewer_client: Client, sender: MailSender) -> None:
    add_rule(sender, "example.com smtp.myisp.com", actor=ACTOR)
    response = run(viewer_client, sender, recipients="a@x.org")
    outcome = only(response)
    assert outcome.status == "dns"
    assert outcome.reason == "no rule matched: delivering to the MX hosts of x.org"
    assert hops(outcome) == [("mx1.x.org", 25, 10, None), ("mx2.x.org", 25, 20, None)]
    assert "<td>DNS</td>" in response.content.decode()


def test_dns_with_an_implicit_mx(viewer_client: Client, sender: MailSender) -> None:
    outcome = only(run(viewer_client, sender, recipients="implicit.org"))
    assert outcome.status == "dns"
    assert hops(outcome) == [("implicit.org", 25, 0, None)]
    assert outcome.rows == []


@pytest.mark.parametrize(
    ("recipient", "reason"),
    [
        ("a@nowhere.org", "no rule matched and nowhere.org does not exist (NXDOMAIN)"),
        (
            "a@null.org",
            "no rule matched and null.org publishes a null MX (RFC 7505): it accepts no mail",
        ),
    ],
)
def test_undeliverable(
    viewer_client: Client, sender: MailSender, recipient: str, reason: str
) -> None:
    outcome = only(run(viewer_client, sender, recipients=recipient))
    assert outcome.status == "undeliverable"
    assert outcome.reason == reason
    assert outcome.hops == []


def test_defer_when_the_mx_lookup_fails(viewer_client: Client, sender: MailSender) -> None:
    response = run(viewer_client, sender, recipients="a@broken.org")
    outcome = only(response)
    assert outcome.status == "defer"
    assert outcome.reason == (
        "the MX lookup for broken.org failed temporarily (SERVFAIL); try again later"
    )
    assert 'class="badge warn status-defer">defer<' in response.content.decode()


def test_defer_at_a_dnsmx_rule_leaves_the_rest_not_reached(
    viewer_client: Client, table: MailSender
) -> None:
    outcome = only(run(viewer_client, table, recipients="a@broken.org"))
    assert outcome.status == "defer"
    assert states(outcome)[-2:] == [(7, "failed"), (8, "not-reached")]
    assert outcome.rows[-2].why == (
        "$dnsmx:*.aspmx.l.google.com cannot be decided: the MX lookup for broken.org "
        "failed temporarily (SERVFAIL)"
    )
    assert outcome.rows[-1].why == "not reached: the walk stopped at rule 7 (defer)"


def test_an_empty_table_routes_by_dns(viewer_client: Client, sender: MailSender) -> None:
    response = run(viewer_client, sender, recipients="a@x.org")
    assert only(response).status == "dns"
    assert "The table has no rules" in response.content.decode()


# ------------------------------------------------------------------ the fields


def test_several_recipients_are_grouped_by_domain(viewer_client: Client, table: MailSender) -> None:
    response = run(
        viewer_client, table, recipients="bob@example.com, Ann@EXAMPLE.com\n<c@x.org>; x.org"
    )
    outcomes = response.context["report"].outcomes
    assert [(o.domain, o.recipients) for o in outcomes] == [
        ("example.com", ["bob@example.com", "Ann@EXAMPLE.com"]),
        ("x.org", ["c@x.org", "x.org"]),
    ]
    assert "For bob@example.com, Ann@EXAMPLE.com" in response.content.decode()


def test_a_bad_recipient_is_named(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients="ok@example.com, bob@exa mple..com")
    assert response.status_code == 400
    assert response.context["report"] is None
    assert response.context["form"].errors["recipients"] == [
        'invalid domain "mple..com": empty label in domain.'
    ]


def test_too_many_recipients(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients=",".join(f"a{n}.example" for n in range(21)))
    assert response.context["form"].errors["recipients"] == [
        "Enter at most 20 recipients at a time (you entered 21)."
    ]


def test_the_null_sender_can_be_typed_as_angle_brackets(
    viewer_client: Client, sender: MailSender
) -> None:
    add_rule(sender, "* bounce.example.net $from= $end", actor=ACTOR)
    outcome = only(run(viewer_client, sender, recipients="a@x.org", mail_from="<>"))
    assert hops(outcome) == [("bounce.example.net", 25, 10, 1)]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1234", 1234),
        ("500k", 512_000),
        ("500K", 512_000),
        ("10M", 10_485_760),
        ("10 MB", 10_485_760),
        ("10MiB", 10_485_760),
        ("2.5M", 2_621_440),
        ("1G", 1_073_741_824),
        ("1.3k", 1331),
        ("  77 ", 77),
        ("300b", 300),
    ],
)
def test_sizes_accept_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "lots",
            "“lots” is not a size. Bytes, or with a unit (k = 1024 bytes, M = 1024 k, "
            "G = 1024 M): 2000, 500k, 10M, 2.5M.",
        ),
        ("-5", "“-5” is not a size."),
        ("5T", "“5T” is not a size."),
        ("2,5M", "“2,5M” is not a size."),
        ("1.5", "A size in bytes is a whole number; use k or M for fractions (2.5M)."),
        ("2000G", "That is more than 1 TiB; check the size."),
    ],
)
def test_bad_sizes_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_size(text)
    assert str(error.value).startswith(message)


def test_a_bad_size_is_shown_on_the_page(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients="a@x.org", size="10 megs")
    assert response.context["form"].errors["size"] == [
        "“10 megs” is not a size. Bytes, or with a unit (k = 1024 bytes, M = 1024 k, "
        "G = 1024 M): 2000, 500k, 10M, 2.5M."
    ]


def test_retries_must_be_a_whole_number(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients="a@x.org", retries="-1")
    assert response.context["form"].errors["retries"] == [
        "Ensure this value is greater than or equal to 0."
    ]


def test_typed_mx_records_errors_name_their_line() -> None:
    with pytest.raises(ValueError) as error:
        static_resolver("x.org 10 mx.x.org\nx.org ten mx.x.org\n\nbad..org A\ny.org\n")
    assert str(error.value) == (
        'line 2: preference "ten" is not a number 0-65535; '
        'line 4: invalid domain "bad..org": empty label in domain; '
        "line 5: expected “domain preference host”, “domain A”, “domain NONE” or "
        "“domain SERVFAIL”"
    )


def test_typed_mx_records_accept_zone_file_style() -> None:
    resolver = static_resolver("x.org MX 10 mx.x.org.\ny.org NONE\n")
    assert resolver.lookup_mx("x.org") == MxAnswer("mx", ((10, "mx.x.org"),))
    assert resolver.lookup_mx("y.org").kind == "nodata"
    assert resolver.lookup_implicit_mx("y.org").kind == "nodata"


def test_typed_mx_errors_are_shown_on_the_page(viewer_client: Client, table: MailSender) -> None:
    response = run(viewer_client, table, recipients="a@x.org", mx_records="x.org 10 bad_host")
    assert response.context["form"].errors["mx_records"] == [
        'line 1: invalid MX host "bad_host": invalid character "_" in host'
    ]


def test_recipients_parse_into_domains() -> None:
    assert parse_recipients("a@B.example\nb.example") == {"b.example": ["a@B.example", "b.example"]}


# ------------------------------------------------------------------ DNS sources


def test_the_senders_own_dns_is_disabled_when_it_has_none(
    viewer_client: Client, table: MailSender
) -> None:
    body = viewer_client.get(url(table)).content.decode()
    assert 'value="sender" id="id_dns_1" disabled aria-describedby="no-own-dns"' in body
    assert "(this sender has none; they are set on the sender's edit page)" in body
    response = run(viewer_client, table, recipients="a@x.org", dns="sender")
    assert response.context["form"].errors["dns"] == ["This sender has no DNS servers of its own."]


def test_a_broken_dns_server_setting_is_reported(viewer_client: Client, table: MailSender) -> None:
    table.nameservers = "192.0.2.1, not-an-ip"
    table.save()
    response = run(viewer_client, table, recipients="a@x.org", dns="sender")
    assert response.context["form"].errors["dns"] == [
        'invalid name server "not-an-ip" (expected IP, IP:PORT or [IPv6]:PORT)'
    ]


@pytest.fixture
def own_dns(sender: MailSender, dns_server: DnsTestServer, settings: Any) -> MailSender:  # noqa: F811
    """A sender whose own DNS server is the loopback test server."""
    settings.DNS_TIMEOUT = 1
    sender.nameservers = dns_server.address
    sender.save()
    return sender


def test_the_senders_own_dns_servers_answer(viewer_client: Client, own_dns: MailSender) -> None:
    replace_table(own_dns, parse_document(WORKED), actor=ACTOR)
    response = viewer_client.get(url(own_dns), {"recipients": "a@google.test", "dns": "sender"})
    outcome = only(response)
    assert outcome.status == "override"
    assert hops(outcome) == [("smtp.myisp.com", 25, 10, 7)]
    assert outcome.rows[6].why == (
        'domain "google.test" matches "*"; $dnsmx:*.aspmx.l.google.com holds (MX hosts of '
        "google.test: aspmx.l.google.com, alt1.aspmx.l.google.com); $end: later rules are "
        "not checked"
    )


def test_real_dns_gives_dns_and_undeliverable(viewer_client: Client, own_dns: MailSender) -> None:
    response = viewer_client.get(
        url(own_dns), {"recipients": "a@mx.test, b@nullmx.test, c@implicit.test", "dns": "sender"}
    )
    report = response.context["report"]
    assert [(o.domain, o.status) for o in report.outcomes] == [
        ("mx.test", "dns"),
        ("nullmx.test", "undeliverable"),
        ("implicit.test", "dns"),
    ]
    assert hops(report.outcomes[0]) == [
        ("mx1.mx.test", 25, 10, None),
        ("mx2.mx.test", 25, 20, None),
    ]


def test_real_dns_failures_defer_in_bounded_time(
    viewer_client: Client, own_dns: MailSender
) -> None:
    started = time.monotonic()
    response = viewer_client.get(
        url(own_dns), {"recipients": "a@servfail.test, b@silent.test", "dns": "sender"}
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    report = response.context["report"]
    assert [(o.domain, o.status) for o in report.outcomes] == [
        ("servfail.test", "defer"),
        ("silent.test", "defer"),
    ]
    assert "SERVFAIL" in report.outcomes[0].reason
    assert "failed temporarily" in report.outcomes[1].reason
    assert elapsed < 8  # DNS_TIMEOUT is 1 s; the test's DNS budget is 2 s


def test_the_dns_time_budget_turns_later_lookups_into_defer() -> None:
    now = [0.0]
    inner = StaticResolver({"x.org": [(10, "mx.x.org")]})
    resolver = TimeBoundResolver(inner, 2, clock=lambda: now[0])
    assert resolver.lookup_mx("x.org").kind == "mx"
    now[0] = 2.5
    assert resolver.lookup_mx("x.org") == MxAnswer(
        "tempfail", reason="this test used up its time for DNS lookups"
    )
    assert resolver.lookup_implicit_mx("x.org").kind == "tempfail"
    assert inner.queries == [("MX", "x.org")]


# ------------------------------------------------------------------ unsaved text


def from_bulk(client: Client, sender: MailSender, text: str, **fields: Any) -> Any:
    data = {"text": text, "action": "test", **fields}
    return client.post(url(sender), data)


def test_the_bulk_editors_text_opens_in_the_form(viewer_client: Client, table: MailSender) -> None:
    response = from_bulk(viewer_client, table, "new.example relay.example.net\n")
    assert response.status_code == 200
    assert response.context["report"] is None
    body = response.content.decode()
    assert "new.example relay.example.net\n</textarea>" in body
    assert 'method="post"' in body
    assert 'name="table" value="text"' in body
    assert 'id="id_table_1" checked' in body


def test_unsaved_text_is_tested_and_differences_are_shown(
    viewer_client: Client, table: MailSender
) -> None:
    text = (
        "# moved\nexample.com other.example.net:2525\n* relay.myisp.com:587 $size>10000000 $end\n"
    )
    response = from_bulk(
        viewer_client,
        table,
        text,
        table="text",
        recipients="bob@example.com, a@demon.co.uk",
        dns="manual",
        mx_records="demon.co.uk 10 mx.demon.co.uk",
    )
    report = response.context["report"]
    assert report.table == "text"
    changed, same = report.outcomes
    assert changed.differs
    assert hops(changed) == [("other.example.net", 2525, 10, 2)]
    assert hops(changed.saved) == [("smtp.myisp.com", 25, 10, 1)]
    assert [(row.number, row.state) for row in changed.rows] == [(2, "matched"), (3, "failed")]
    assert not same.differs  # no rule for it in either: both go to DNS
    body = response.content.decode()
    assert "1 of 2 domains routed differently from the saved table" in body
    assert "differs from the saved table" in body
    assert "override, line 2" in body
    assert "override, rule 1" in body
    assert PASSWORD not in body


def test_the_same_routes_are_reported_as_same(viewer_client: Client, table: MailSender) -> None:
    response = from_bulk(
        viewer_client,
        table,
        "# comment lines shift the numbers\n" + WORKED.replace(PASSWORD, "********"),
        table="text",
        recipients="bob@example.com, joe@x.org",
        auth_sender="joe",
        dns="manual",
        mx_records=MX,
    )
    assert response.context["report"].differences == 0
    assert "every domain is routed as by the saved table." in response.content.decode()


def test_errors_in_the_unsaved_text_are_listed_by_line(
    viewer_client: Client, table: MailSender
) -> None:
    response = from_bulk(
        viewer_client,
        table,
        "ok.example x.net\nbad.example x.net $sizee>1\n",
        table="text",
        recipients="a@x.org",
        dns="manual",
    )
    assert response.status_code == 400
    assert response.context["report"] is None
    assert response.context["form"].errors["text"] == [
        'line 2, col 19: unknown attribute "$sizee" (did you mean $size?)'
    ]


def test_the_saved_table_can_be_chosen_with_text_present(
    viewer_client: Client, table: MailSender
) -> None:
    response = from_bulk(
        viewer_client,
        table,
        "not even a rule",
        table="saved",
        recipients="bob@example.com",
        dns="manual",
    )
    assert only(response).word == "rule"
    assert only(response).saved is None


# ------------------------------------------------------------------ cost


def test_queries_do_not_grow_with_the_table(viewer_client: Client, sender: MailSender) -> None:
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            run(viewer_client, sender, recipients="a@x.org, b@example.com")
        return len(queries)

    add_rule(sender, "a.example relay.example.net", actor=ACTOR)
    few = count()
    for n in range(30):
        add_rule(sender, f"d{n}.example u:p@relay.example.net", actor=ACTOR)
    assert count() == few


def test_long_runs_of_unmatched_rules_are_one_row(
    viewer_client: Client, sender: MailSender
) -> None:
    lines = [f"d{n}.example relay.example.net" for n in range(10)]
    lines += ["d.example relay.example.net", "x.org relay.example.net $end"]
    lines += [f"after{n}.example relay.example.net" for n in range(5)]
    replace_table(sender, parse_document("\n".join(lines) + "\n"), actor=ACTOR)
    response = run(viewer_client, sender, recipients="a@x.org")
    outcome = only(response)
    assert [(r.number, r.last, r.count, r.state, r.why) for r in outcome.rows] == [
        (1, 11, 11, "failed", 'domain "x.org" does not match their patterns'),
        (12, 0, 1, "matched", 'domain "x.org" matches "x.org"; $end: later rules are not checked'),
        (13, 17, 5, "not-reached", "not reached: rule 12 ended the walk ($end)"),
    ]
    body = response.content.decode()
    assert "<td>1\u201311</td>" in body
    assert "11 rules" in body


def test_a_saved_change_is_tested_at_once(viewer_client: Client, table: MailSender) -> None:
    assert only(run(viewer_client, table, recipients="bob@example.com")).status == "override"
    replace_table(table, parse_document("other.example relay.example.net\n"), actor=ACTOR)
    outcome = only(run(viewer_client, table, recipients="bob@example.com"))
    assert outcome.status == "undeliverable"
    assert [row.text for row in outcome.rows] == ["other.example relay.example.net"]


def test_too_much_unsaved_text_is_refused(
    viewer_client: Client, table: MailSender, settings: Any
) -> None:
    settings.MAX_TABLE_UPLOAD_BYTES = 100
    text = "a.example relay.example.net\n" * 4
    response = from_bulk(viewer_client, table, text, table="text", recipients="a@x.org")
    assert response.context["form"].errors["text"] == [
        "The table text is too long: 112 characters, at most 100."
    ]


def test_a_long_trace_shows_its_first_rows_the_matched_ones_and_a_count(
    viewer_client: Client, sender: MailSender
) -> None:
    # 200 rules for x.org that each fail on a condition: none collapses into a run.
    lines = [f"x.org relay.example.net $size>{n + 100_000}" for n in range(200)]
    lines += ["x.org m1.example.net", "x.org m2.example.net"]
    replace_table(sender, parse_document("\n".join(lines) + "\n"), actor=ACTOR)
    response = run(viewer_client, sender, recipients="a@x.org")
    rows = only(response).rows
    assert len(rows) == 50 + 2 + 1
    assert [row.number for row in rows[:50]] == list(range(1, 51))
    assert [(row.number, row.state) for row in rows[50:52]] == [(201, "matched"), (202, "matched")]
    assert (rows[-1].number, rows[-1].last, rows[-1].count, rows[-1].state, rows[-1].why) == (
        51,
        200,
        150,
        "omitted",
        "150 more rules not shown: the trace lists its first 50 rows and up to 50 matched "
        "rules after them",
    )
    assert "<td>51\u2013200</td>" in response.content.decode()


def test_the_answer_stays_small_for_the_largest_table_and_most_recipients(
    viewer_client: Client, sender: MailSender
) -> None:
    # 10,000 catch-alls that each fail on $size: before the bound, a row each per domain.
    text = "".join(f"* relay.example.net $size>{n + 100_000}\n" for n in range(10_000))
    data = {
        "text": text,
        "table": "text",
        "recipients": ",".join(f"a@d{n}.example" for n in range(20)),
        "dns": "manual",
        "size": "1k",
    }
    response = viewer_client.post(url(sender), data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    outcomes = response.context["report"].outcomes
    assert len(outcomes) == 20
    # The first three domains get their trace (first rows plus a count), the rest none.
    assert [len(outcome.rows) for outcome in outcomes] == [51, 51, 51] + [0] * 17
    assert "No trace for this domain: a test shows the trace of its first three recipient " in (
        response.content.decode()
    )
    assert len(response.content) < 100_000


def test_an_earlier_revision_can_be_tested_and_an_unknown_one_is_named(
    viewer_client: Client, sender: MailSender
) -> None:
    actor = Actor(source=Revision.Source.COMMAND)
    replace_table(sender, parse_document("example.com first.example\n"), actor=actor)
    replace_table(sender, parse_document("example.com second.example\n"), actor=actor)
    test_url = reverse("senders:test", args=[sender.slug])
    query = {"recipients": "bob@example.com", "dns": "live", "revision": "1"}
    page = viewer_client.get(test_url, query).content.decode()
    assert "Testing <strong>revision 1</strong> of the table, not the current one" in page
    assert "routed by <strong>revision 1</strong> of the table (the current one is revision 2)" in (
        page
    )
    assert "first.example" in page and "second.example" not in page
    response = viewer_client.get(test_url, query | {"revision": "9"})
    assert response.status_code == 400
    assert "Revision 9 does not exist (this table has revisions 1 to 2)." in (
        response.content.decode()
    )
