"""The loopback DNS server fixture, for any test that needs real DNS answers.

Use it from a conftest or a test module:

    from tests.conftest_dns import dns_server  # noqa: F401  (a pytest fixture)

    def test_it(dns_server):
        resolver = DnsResolver([dns_server.address], timeout=1)

`dns_server` is session-wide; its zone is `tests.engine.dnsserver.standard_zone()`.
A test that changes `dns_server.zone` must undo its change; `dns_server.queries`
lists every question received, so compare counts before and after.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.dnsserver import DnsTestServer


@pytest.fixture(scope="session")
def dns_server() -> Iterator[DnsTestServer]:
    server = DnsTestServer().start()
    yield server
    server.stop()
