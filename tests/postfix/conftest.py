"""Fixtures for the tests that drive a real, private Postfix (tests/postfix/harness.py).

Postfix comes from Debian (`apt-get install postfix libsasl2-modules`, with debconf
answering "No configuration"; scripts/test.sh does it when run as root). Locally,
without it, these tests skip with a loud reason; in CI (CI=true) a missing Postfix
is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from tests.postfix.harness import (
    SENDER,
    Delivery,
    PostfixInstance,
    Relay,
    missing_reason,
    start_relays,
    wait_until,
)

# The relays every module gets: Postfix's own route ("default", its relayhost),
# plain relays a table can choose, and one that requires AUTH.
RELAY_USER, RELAY_PASSWORD = "joe", "let:me@in"
RELAY_SPECS: tuple[tuple[str, str, tuple[str, str] | None], ...] = (
    ("default", "127.0.0.1", None),
    ("chosen", "127.0.0.2", None),
    ("auth", "127.0.0.3", (RELAY_USER, RELAY_PASSWORD)),
    ("backup", "127.0.0.4", None),
    ("mx", "127.0.0.5", None),
)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        if "tests/postfix" in str(item.fspath):
            item.add_marker(pytest.mark.postfix)
            # The AUTH relay is on loopback without TLS, on purpose.
            item.add_marker(
                pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
            )


def require_postfix() -> None:
    reason = missing_reason()
    if reason is None:
        return
    reason = f"POSTFIX TESTS NOT RUN: {reason}."
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def relays() -> Iterator[dict[str, Relay]]:
    require_postfix()
    started = start_relays(*RELAY_SPECS)
    yield started
    for relay in started.values():
        relay.stop()


@contextlib.contextmanager
def private_postfix(
    relays: Mapping[str, Relay],
    prepare: Callable[[PostfixInstance], Mapping[str, str]] | None = None,
) -> Iterator[PostfixInstance]:
    """A started private Postfix whose own route is the "default" relay; destroyed after.

    `prepare(instance)` runs before the start (to write maps) and returns more
    main.cf settings.
    """
    require_postfix()
    instance = PostfixInstance.create(relays["default"].nexthop)
    try:
        if prepare:
            instance.postconf(prepare(instance))
        instance.start()
        yield instance
    finally:
        instance.destroy()


def arrival(
    postfix: PostfixInstance, relays: Mapping[str, Relay], recipient: str, timeout: float = 20
) -> Delivery:
    """The delivery of `recipient` at whichever relay got it; fails with Postfix's log lines."""
    found = wait_until(
        lambda: [d for relay in relays.values() for d in relay.messages_to(recipient)], timeout
    )
    if not found:
        log = "\n".join(postfix.log_lines_for(recipient)) or postfix.log()[-4000:]
        raise AssertionError(
            f"{recipient} reached no relay within {timeout:.0f} s; Postfix:\n{log}"
        )
    assert len(found) == 1, f"{recipient} was delivered {len(found)} times: {found}"
    return found[0]


def deferred(postfix: PostfixInstance, recipient: str, timeout: float = 20) -> str:
    """The delay reason Postfix's queue gives for `recipient` once it has been tried."""
    found = wait_until(
        lambda: [
            reason
            for queued in postfix.queued_for(recipient)
            for address, reason in zip(queued.recipients, queued.reasons, strict=True)
            if address.lower() == recipient.lower() and reason
        ],
        timeout,
    )
    if not found:
        log = "\n".join(postfix.log_lines_for(recipient)) or postfix.log()[-4000:]
        raise AssertionError(
            f"{recipient} is not deferred in the queue: {postfix.queue()}; Postfix:\n{log}"
        )
    return str(found[0])


def nowhere(relays: Mapping[str, Relay], recipient: str) -> list[Delivery]:
    return [d for relay in relays.values() for d in relay.messages_to(recipient)]


def bounces_to_sender(relays: Mapping[str, Relay]) -> list[Delivery]:
    """Delivery status notifications Postfix sent back (to SENDER, from the null sender)."""
    return [
        d
        for relay in relays.values()
        for d in relay.deliveries
        if d.mail_from == "" and SENDER in d.rcpt_tos
    ]
