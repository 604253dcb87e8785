"""End to end: a table saved in the admin decides where a real Postfix hands each message.

The agent (`overrides-agent serve`) follows the REAL export of a pytest-django live
server with a real export token, answers the private Postfix's `transport` and
`sasl` socketmap lookups, and resolves `$dnsmx` through the loopback DNS server
(tests/engine/dnsserver.py). One Postfix serves the whole module; each test starts
its own agent (the live server's database is emptied after every test) on the
same socket, and uses recipient addresses no other test uses: Postfix's queue
manager caches a lookup's answer for about 30 s per address.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.request import Request, urlopen

import pytest
from django.core.cache import cache
from django.test.utils import modify_settings
from django.urls import reverse
from pytest_django.live_server_helper import LiveServer

from senders import tables
from senders.export import create_token
from senders.models import MailSender
from senders.tabletext import parse_document
from tests.conftest_dns import dns_server  # noqa: F401  (a pytest fixture)
from tests.engine.dnsserver import DnsTestServer
from tests.postfix.agent import Agent, socketmap
from tests.postfix.conftest import (
    RELAY_PASSWORD,
    RELAY_USER,
    arrival,
    bounces_to_sender,
    deferred,
    nowhere,
    private_postfix,
)
from tests.postfix.harness import PostfixInstance, Relay, unused_address, wait_until

POLL_INTERVAL = 1.0
# One poll interval, plus the agent's jitter and the fetch itself.
WITHIN_ONE_POLL = POLL_INTERVAL * 2 + 0.5


@pytest.fixture(scope="module")
def dead() -> str:
    """A relay that is down: nothing listens there."""
    return unused_address()


@pytest.fixture(scope="module")
def postfix(relays: dict[str, Relay]) -> Iterator[PostfixInstance]:
    def prepare(instance: PostfixInstance) -> dict[str, str]:
        run = instance.base / "run"
        run.mkdir()
        run.chmod(0o755)
        sock = run / "agent.sock"
        return {
            "transport_maps": socketmap(sock, "transport"),
            "smtp_sasl_password_maps": socketmap(sock, "sasl"),
        }

    with private_postfix(relays, prepare) as instance:
        yield instance


@pytest.fixture
def socket_path(postfix: PostfixInstance) -> Path:
    return postfix.base / "run" / "agent.sock"


def table_text(relays: dict[str, Relay], dead: str) -> str:
    return (
        f"override.test {RELAY_USER}:{RELAY_PASSWORD}@{relays['auth'].address}\n"
        f"ordered.test {dead}\n"
        f"ordered.test {relays['backup'].address} $priority:20\n"
        f"* {relays['mx'].address} $dnsmx:*.mx.test $end\n"
    )


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    cache.clear()  # the export caches bodies by revision; every test starts at revision 1


@pytest.fixture
def sender_with_table(sender: MailSender, relays: dict[str, Relay], dead: str) -> MailSender:
    tables.replace_table(sender, parse_document(table_text(relays, dead)), actor=tables.Actor())
    sender.refresh_from_db()
    return sender


def export_url(server: Any, sender: MailSender) -> str:
    return server.url + reverse("export_text", args=[sender.slug])


@pytest.fixture
def agent(
    sender_with_table: MailSender,
    live_server: Any,
    dns_server: DnsTestServer,  # noqa: F811
    socket_path: Path,
    tmp_path: Path,
) -> Iterator[Agent]:
    """The agent following the live server's export of `sender_with_table`, table loaded."""
    agent = Agent(
        url=export_url(live_server, sender_with_table),
        token=create_token(sender_with_table),
        workdir=tmp_path,
        socket_path=socket_path,
        nameserver=dns_server.address,
        interval=POLL_INTERVAL,
    )
    agent.start()
    yield agent
    agent.stop()


def wait_for_table(agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay]) -> None:
    agent.wait_for_answer(
        postfix, "transport", "probe@override.test", f"smtp:{relays['auth'].nexthop}"
    )


def test_a_message_to_an_overridden_domain_arrives_authenticated_at_the_chosen_relay(
    agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    wait_for_table(agent, postfix, relays)

    postfix.submit("alice@override.test")

    delivery = arrival(postfix, relays, "alice@override.test")
    assert (delivery.relay, delivery.auth_user) == ("auth", RELAY_USER)
    assert relays["auth"].auth_failures == []


def test_postfix_gets_the_password_only_for_the_exact_host_and_port(
    agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    wait_for_table(agent, postfix, relays)
    auth = relays["auth"]

    assert agent.lookup(postfix, "sasl", auth.nexthop) == (0, f"{RELAY_USER}:{RELAY_PASSWORD}")
    assert agent.lookup(postfix, "sasl", auth.host) == (1, "")
    assert agent.lookup(postfix, "sasl", f"[{auth.host}]:{auth.port + 1}") == (1, "")
    assert agent.lookup(postfix, "transport", "*") == (1, "")


def test_with_the_first_hop_down_the_message_arrives_at_the_second(
    agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay], dead: str
) -> None:
    wait_for_table(agent, postfix, relays)
    host, port = dead.split(":")
    assert agent.lookup(postfix, "transport", "carol@ordered.test") == (
        0,
        f"smtp:[{host}]:{port}, {relays['backup'].nexthop}",
    )

    postfix.submit("carol@ordered.test")

    assert arrival(postfix, relays, "carol@ordered.test").relay == "backup"
    assert f"connect to {host}[{host}]:{port}: Connection refused" in postfix.log()


def test_a_dnsmx_rule_routes_by_the_recipients_real_mx(
    agent: Agent,
    postfix: PostfixInstance,
    relays: dict[str, Relay],
    dns_server: DnsTestServer,  # noqa: F811
) -> None:
    wait_for_table(agent, postfix, relays)
    asked = dns_server.count("mx.test", "MX")

    postfix.submit("dora@mx.test")  # MX mx1.mx.test and mx2.mx.test: `*.mx.test` holds

    assert arrival(postfix, relays, "dora@mx.test").relay == "mx"
    assert dns_server.count("mx.test", "MX") > asked


def test_a_domain_with_no_override_goes_where_postfix_would_send_it(
    agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    wait_for_table(agent, postfix, relays)
    # google.test has real MX records, none under mx.test: no line matches.
    assert agent.lookup(postfix, "transport", "erin@google.test") == (1, "")

    postfix.submit("erin@google.test")

    assert arrival(postfix, relays, "erin@google.test").relay == "default"


def test_a_domain_dns_does_not_know_with_no_override_still_goes_where_postfix_would_send_it(
    agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    """The `$dnsmx` line was checked (NXDOMAIN: no MX host matches) and no line matched.

    Without a table Postfix would hand this to its relayhost: a table whose lines
    do not match must not change that (issue 13: "No override → NOTFOUND").
    """
    wait_for_table(agent, postfix, relays)
    assert agent.lookup(postfix, "transport", "ivan@nosuch.test") == (1, "")

    postfix.submit("ivan@nosuch.test")

    assert arrival(postfix, relays, "ivan@nosuch.test").relay == "default"


def test_a_dns_temporary_failure_leaves_the_message_deferred_in_the_queue(
    agent: Agent, postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    wait_for_table(agent, postfix, relays)
    bounces_before = len(bounces_to_sender(relays))

    # servfail.test answers SERVFAIL: the `$dnsmx` line cannot be decided.
    postfix.submit_local("frank@servfail.test")

    reason = deferred(postfix, "frank@servfail.test")
    postfix.flush()  # and tried again: still deferred
    tried_again = wait_until(
        lambda: (
            len([x for x in postfix.log_lines_for("frank@servfail.test") if "deferred" in x]) >= 2
        ),
        10,
    )
    assert tried_again, postfix.log_lines_for("frank@servfail.test")
    assert reason
    assert [m.queue_name for m in postfix.queued_for("frank@servfail.test")] == ["deferred"]
    assert nowhere(relays, "frank@servfail.test") == []
    assert len(bounces_to_sender(relays)) == bounces_before
    assert not [x for x in postfix.log_lines_for("frank@servfail.test") if "status=bounced" in x]


def test_a_rule_saved_in_the_admin_routes_the_next_message_within_one_poll(
    agent: Agent,
    postfix: PostfixInstance,
    relays: dict[str, Relay],
    sender_with_table: MailSender,
) -> None:
    wait_for_table(agent, postfix, relays)
    postfix.submit("first@google.test")
    assert arrival(postfix, relays, "first@google.test").relay == "default"

    tables.add_rule(
        sender_with_table, f"google.test {relays['chosen'].address}", actor=tables.Actor()
    )
    took = agent.wait_for_answer(
        postfix, "transport", "second@google.test", f"smtp:{relays['chosen'].nexthop}"
    )
    postfix.submit("second@google.test")  # a new address: nothing cached for it

    assert took <= WITHIN_ONE_POLL, f"the new rule reached the agent after {took:.1f} s"
    assert arrival(postfix, relays, "second@google.test").relay == "chosen"


def test_without_the_admin_server_a_restarted_agent_keeps_the_last_table(
    sender_with_table: MailSender,
    transactional_db: None,
    dns_server: DnsTestServer,  # noqa: F811
    postfix: PostfixInstance,
    relays: dict[str, Relay],
    socket_path: Path,
    tmp_path: Path,
) -> None:
    with modify_settings(ALLOWED_HOSTS={"append": "127.0.0.1"}):
        admin = LiveServer("127.0.0.1:0")
        agent = Agent(
            url=export_url(admin, sender_with_table),
            token=create_token(sender_with_table),
            workdir=tmp_path,
            socket_path=socket_path,
            nameserver=dns_server.address,
            interval=POLL_INTERVAL,
        )
        try:
            agent.start()
            wait_for_table(agent, postfix, relays)
            agent.stop()
        finally:
            admin.stop()

    agent.start()  # the admin server is gone: nothing answers at its URL
    try:
        wait_for_table(agent, postfix, relays)
        postfix.submit("gina@override.test")

        delivery = arrival(postfix, relays, "gina@override.test")
        assert (delivery.relay, delivery.auth_user) == ("auth", RELAY_USER)
        assert agent.running
    finally:
        agent.stop()


class _FlakyExport:
    """A loopback proxy to the real export that can start answering junk (200, new ETag)."""

    JUNK = b"example.com smtp.example.com $sizee>1\n* 127.0.0.1:99999\n"

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.junk = False
        self.junk_served = 0
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if flaky.junk:
                    flaky.junk_served += 1
                    self._reply(
                        200,
                        {"ETag": '"junk"', "X-Table-Revision": "999"},
                        flaky.JUNK,
                    )
                    return
                headers = {
                    name: self.headers[name]
                    for name in ("Authorization", "If-None-Match", "User-Agent")
                    if self.headers[name]
                }
                request = Request(flaky.upstream + self.path, headers=headers)
                try:
                    with urlopen(request, timeout=5) as response:
                        self._reply(response.status, dict(response.headers), response.read())
                except HTTPError as error:
                    self._reply(error.code, dict(error.headers), error.read())

            def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() in (
                        "etag",
                        "x-table-revision",
                        "content-type",
                        "last-modified",
                    ):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _FlakyExport:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_broken_table_on_the_server_does_not_replace_the_good_one(
    sender_with_table: MailSender,
    live_server: Any,
    dns_server: DnsTestServer,  # noqa: F811
    postfix: PostfixInstance,
    relays: dict[str, Relay],
    socket_path: Path,
    tmp_path: Path,
) -> None:
    with _FlakyExport(live_server.url) as flaky:
        agent = Agent(
            url=flaky.url + reverse("export_text", args=[sender_with_table.slug]),
            token=create_token(sender_with_table),
            workdir=tmp_path,
            socket_path=socket_path,
            nameserver=dns_server.address,
            interval=POLL_INTERVAL,
        )
        agent.start()
        try:
            wait_for_table(agent, postfix, relays)
            flaky.junk = True
            assert wait_until(lambda: flaky.junk_served >= 2, 10), "the agent stopped polling"

            assert agent.lookup(postfix, "transport", "hank@override.test") == (
                0,
                f"smtp:{relays['auth'].nexthop}",
            )
            postfix.submit("hank@override.test")
            delivery = arrival(postfix, relays, "hank@override.test")
            assert (delivery.relay, delivery.auth_user) == ("auth", RELAY_USER)
            assert agent.running
        finally:
            agent.stop()
