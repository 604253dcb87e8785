"""The harness itself, proved with Postfix's own static maps (no agent involved).

If these pass, a failure in test_agent.py is about the agent, not about the
private Postfix, the relays or the helpers that read its queue and log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postfix.conftest import (
    RELAY_PASSWORD,
    RELAY_USER,
    arrival,
    bounces_to_sender,
    deferred,
    nowhere,
    private_postfix,
)
from tests.postfix.harness import (
    PostfixInstance,
    Relay,
    _alternate_directories,
    register_config_directory,
    unregister_config_directory,
    unused_address,
    wait_until,
)


@pytest.fixture(scope="module")
def dead() -> str:
    """A relay that is down: nothing listens there."""
    return unused_address()


@pytest.fixture(scope="module")
def postfix(relays: dict[str, Relay], dead: str) -> Iterator[PostfixInstance]:

    def prepare(instance: PostfixInstance) -> dict[str, str]:
        transport = instance.write_map(
            "transport",
            {
                "static.test": f"smtp:{relays['chosen'].nexthop}",
                "auth.test": f"smtp:{relays['auth'].nexthop}",
                "ordered.test": f"smtp:[{dead.replace(':', ']:')}, {relays['backup'].nexthop}",
                "later.test": "retry:4.4.3 the route of later.test is not known yet",
            },
            "hash",
        )
        sasl = instance.write_map(
            "sasl", {relays["auth"].nexthop: f"{RELAY_USER}:{RELAY_PASSWORD}"}, "texthash"
        )
        return {"transport_maps": transport, "smtp_sasl_password_maps": sasl}

    with private_postfix(relays, prepare) as instance:
        yield instance


def test_a_mapped_domain_arrives_at_the_relay_its_transport_names(
    postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    postfix.submit("alice@static.test")

    delivery = arrival(postfix, relays, "alice@static.test")

    assert delivery.relay == "chosen"
    assert delivery.auth_user is None
    assert b"Subject: test" in delivery.content


def test_the_auth_relay_gets_the_user_and_password_of_the_sasl_map(
    postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    postfix.submit("bob@auth.test")

    delivery = arrival(postfix, relays, "bob@auth.test")

    assert (delivery.relay, delivery.auth_user) == ("auth", RELAY_USER)
    assert relays["auth"].auth_failures == []


def test_with_the_first_hop_down_the_message_arrives_at_the_second(
    postfix: PostfixInstance, relays: dict[str, Relay], dead: str
) -> None:
    postfix.submit("carol@ordered.test")

    assert arrival(postfix, relays, "carol@ordered.test").relay == "backup"
    host, port = dead.split(":")
    assert f"connect to {host}[{host}]:{port}: Connection refused" in postfix.log()


def test_an_unmapped_domain_goes_where_postfix_routes_it(
    postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    postfix.submit("dave@elsewhere.test")

    assert arrival(postfix, relays, "dave@elsewhere.test").relay == "default"


def test_a_retry_answer_leaves_the_message_deferred_in_the_queue(
    postfix: PostfixInstance, relays: dict[str, Relay]
) -> None:
    postfix.submit_local("erin@later.test")

    reason = deferred(postfix, "erin@later.test")
    postfix.flush()  # tried again: still deferred, never bounced nor sent elsewhere
    tried_again = wait_until(
        lambda: len([x for x in postfix.log_lines_for("erin@later.test") if "deferred" in x]) >= 2,
        10,
    )

    assert tried_again, postfix.log_lines_for("erin@later.test")

    assert reason == "the route of later.test is not known yet"
    assert [m.queue_name for m in postfix.queued_for("erin@later.test")] == ["deferred"]
    assert nowhere(relays, "erin@later.test") == []
    assert bounces_to_sender(relays) == []


def test_the_instance_is_registered_only_while_it_lives(relays: dict[str, Relay]) -> None:
    with private_postfix(relays) as instance:
        assert str(instance.config_dir) in _alternate_directories()
        register_config_directory(instance.config_dir)  # idempotent
        assert _alternate_directories().count(str(instance.config_dir)) == 1

    assert str(instance.config_dir) not in _alternate_directories()
    assert not instance.base.exists()
    unregister_config_directory(instance.config_dir)  # and again: harmless
