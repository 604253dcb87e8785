"""Reading recipient lists and comparing two tables' routes (senders.engine.batch)."""

from __future__ import annotations

import pytest

from senders.engine import DnsResolver, Resolver, StaticResolver, compile_table, parse_table
from senders.engine.batch import (
    BatchError,
    Impact,
    compare_tables,
    decode_upload,
    format_impact,
    impact_csv_rows,
    read_recipients,
)
from tests.engine.dnsserver import DnsTestServer


def errors_of(text: str, **kwargs: int) -> list[str]:
    with pytest.raises(BatchError) as caught:
        read_recipients(text, **kwargs)
    return caught.value.errors


# ---------------------------------------------------------------- reading


def test_it_reads_plain_lines_of_addresses_and_domains() -> None:
    listed = read_recipients("bob@example.com\n\n# a comment\n<ann@example.org>\nexample.net\n")
    assert listed.kind == "plain"
    assert [(r.line, r.address) for r in listed.recipients] == [
        (1, "bob@example.com"),
        (4, "ann@example.org"),
        (5, "example.net"),
    ]


def test_it_counts_repeated_recipients_once() -> None:
    listed = read_recipients("bob@example.com\nbob@example.com\n")
    assert len(listed.recipients) == 1
    assert listed.duplicates == 1


def test_it_names_the_line_of_a_bad_address() -> None:
    assert errors_of("bob@example.com\nbob@[192.0.2.1]\nann@\n") == [
        'line 2: address literals such as "[192.0.2.1]" have no MX records to override.',
        'line 3: "ann@" has no domain.',
    ]


def test_it_reads_csv_columns_named_by_the_header() -> None:
    text = "recipient,from,auth_sender,size,retries\nbob@example.com,a@b.example,joe,2000,3\n"
    listed = read_recipients(text)
    assert listed.kind == "csv"
    message = listed.recipients[0].message
    assert (listed.recipients[0].address, message.sender, message.auth_sender) == (
        "bob@example.com",
        "a@b.example",
        "joe",
    )
    assert (message.size, message.retries) == (2000, 3)


def test_it_reads_csv_with_semicolons_and_missing_optional_cells() -> None:
    listed = read_recipients("to;size\nbob@example.com;\nann@example.org;10\n")
    assert [r.message.size for r in listed.recipients] == [0, 10]


def test_it_names_an_unknown_csv_column() -> None:
    assert errors_of("recipient,colour\nbob@example.com,red\n") == [
        'line 1, column 2: unknown column "colour" (the columns are recipient, '
        "sender (or from), auth_sender, size, retries)."
    ]


def test_it_refuses_a_header_without_recipient_column() -> None:
    assert errors_of("email,name\nbob@example.com,Bob\n")[0] == (
        'line 1, column 1: unknown column "email" (the columns are recipient, '
        "sender (or from), auth_sender, size, retries)."
    )
    assert errors_of("size,retries\n1,2\n") == ['line 1: the header has no "recipient" column.']


def test_it_names_the_line_and_column_of_a_bad_csv_cell() -> None:
    text = "recipient,size\nbob@example.com,10\nann@example.org,ten\nx@y.example,1,2\n"
    assert errors_of(text) == [
        'line 3, column 2 (size): "ten" is not a whole number of 0 or more.',
        "line 4: 3 columns, but the header names 2.",
    ]


def test_it_takes_the_recipients_of_a_postfix_log() -> None:
    log = (
        "Dec  4 10:00:01 mx postfix/smtpd[99]: connect from unknown[192.0.2.9]\n"
        "Dec  4 10:00:02 mx postfix/smtp[123]: 4F3A2B: to=<bob@example.com>, "
        "relay=mx.example.com[192.0.2.1]:25, delay=1, status=sent (250 ok)\n"
        "Dec  4 10:00:03 mx postfix/smtp[124]: 5A1: to=<ann@example.org>, relay=none, "
        "status=deferred\n"
        "Dec  4 10:00:04 mx postfix/smtp[125]: 5A1: to=<ann@example.org>, status=sent\n"
    )
    listed = read_recipients(log)
    assert listed.kind == "log"
    assert [(r.line, r.address) for r in listed.recipients] == [
        (2, "bob@example.com"),
        (3, "ann@example.org"),
    ]


def test_it_refuses_more_lines_than_the_limit() -> None:
    assert errors_of("a.example\n" * 11, max_lines=10) == [
        "line 11: too many lines: a list may have at most 10."
    ]


def test_it_refuses_an_empty_list() -> None:
    assert errors_of("\n# nothing\n") == ["The list holds no recipient."]


def test_it_refuses_binary_uploads_naming_the_line() -> None:
    with pytest.raises(BatchError) as caught:
        decode_upload(b"a.example\nb.example\n\x89PNG\x00\x00")
    assert caught.value.errors == ["line 3: this is not a text file (it holds binary data)."]
    with pytest.raises(BatchError) as caught:
        decode_upload(b"a.example\n\xff\n")
    assert caught.value.errors == ["line 2: this is not UTF-8 text."]


def test_it_refuses_an_upload_over_the_byte_limit() -> None:
    with pytest.raises(BatchError) as caught:
        decode_upload(b"a.example\n" * 20, max_bytes=100)
    assert caught.value.errors == ["The list is too big: 200 bytes, at most 100 bytes (5 MB)."]


# ---------------------------------------------------------------- comparing

OLD = "example.com relay.example:587 $end\n* catchall.example\n"
NEW = "example.com joe:secret@relay2.example:587 $end\n* catchall.example\n"


def impact_of(old: str, new: str, text: str, resolver: Resolver | None = None) -> Impact:
    listed = read_recipients(text)
    return compare_tables(
        compile_table(parse_table(old)),
        compile_table(parse_table(new)),
        listed.recipients,
        resolver or StaticResolver(),
    )


def test_it_groups_changed_routes_with_counts_and_examples() -> None:
    text = "".join(f"user{i}@example.com\n" for i in range(8)) + "a@other.example\n"
    impact = impact_of(OLD, NEW, text)
    assert impact.changed == 8
    assert impact.unchanged == 1
    [group] = impact.groups
    assert group.old_route == "override: relay.example:587"
    assert group.new_route == "override: joe:********@relay2.example:587"
    assert group.count == 8
    assert [row.recipient.address for row in group.examples] == [
        f"user{i}@example.com" for i in range(5)
    ]


def test_it_never_shows_a_password() -> None:
    impact = impact_of(OLD, NEW, "bob@example.com\n")
    text = format_impact(impact)
    rows = list(impact_csv_rows(impact))
    assert "secret" not in text + repr(rows) + repr(impact.as_dict())
    assert rows == [
        ("recipient", "old route", "new route", "changed"),
        (
            "bob@example.com",
            "override: relay.example:587",
            "override: joe:********@relay2.example:587",
            "yes",
        ),
    ]


def test_it_prints_the_groups_as_text() -> None:
    impact = impact_of(OLD, NEW, "bob@example.com\nann@other.example\n")
    assert format_impact(impact) == (
        "recipients: 2\nchanged: 1\nunchanged: 1\n\n"
        "1: override: relay.example:587 → override: joe:********@relay2.example:587\n"
        "  bob@example.com\n"
    )


def test_it_groups_dns_routes_of_different_domains_together() -> None:
    resolver = StaticResolver(
        {"a.example": [(10, "mx.a.example")], "b.example": [(5, "mx.b.example")]}
    )
    impact = impact_of("", "* relay.example\n", "x@a.example\ny@b.example\n", resolver)
    [group] = impact.groups
    assert (group.old_route, group.new_route, group.count) == (
        "dns: the domain's MX hosts",
        "override: relay.example:25",
        2,
    )
    assert [row.old_route for row in impact.rows] == [
        "dns: MX mx.a.example:25",
        "dns: MX mx.b.example:25",
    ]


def test_it_asks_dns_once_per_domain_and_defers_on_servfail(dns_server: DnsTestServer) -> None:
    before_mx = dns_server.count("mx.test", "MX")
    before_fail = dns_server.count("servfail.test", "MX")
    text = "".join(f"u{i}@mx.test\nv{i}@servfail.test\n" for i in range(20))
    resolver = DnsResolver([dns_server.address], timeout=1, cache_size=0)
    impact = impact_of("", "mx.test relay.example $adddns\n", text, resolver)
    assert dns_server.count("mx.test", "MX") - before_mx == 1
    assert dns_server.count("servfail.test", "MX") - before_fail == 1
    routes = {(row.recipient.message.domain, row.old_route, row.new_route) for row in impact.rows}
    assert routes == {
        (
            "mx.test",
            "dns: MX mx1.mx.test:25, MX mx2.mx.test:25",
            "override+dns: relay.example:25, MX mx1.mx.test:25, MX mx2.mx.test:25",
        ),
        ("servfail.test", "defer", "defer"),
    }


def test_a_recipient_a_spreadsheet_would_run_is_quoted_in_the_csv() -> None:
    impact = impact_of(OLD, NEW, "=cmd|calc@example.com\n+1@example.com\n")
    assert [row[0] for row in impact_csv_rows(impact)] == [
        "recipient",
        "'=cmd|calc@example.com",
        "'+1@example.com",
    ]
