"""The relay check inside the admin: which relays a sender's table uses, their last results.

`senders.relaycheck` does the network work; this module picks the relays (only
hosts that are in the sender's table), applies the limits and keeps the results.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from senders.models import MailSender, RelayCheck
from senders.relaycheck import Relay, RelayResult, check_relays, relays_of
from senders.tabletext import rule_at


class TooSoon(Exception):
    """A check refused by the rate limits; the message says when to try again."""


@dataclass
class RelayRow:
    relay: Relay
    last: RelayCheck | None


def relays_for(sender: MailSender) -> list[Relay]:
    """Every distinct relay of the table (disabled rules too: check before enabling)."""
    rows = sender.rules.order_by("position").values_list("text", "position")
    return relays_of((position, rule_at(text, position)) for text, position in rows)


def relay_rows(sender: MailSender) -> list[RelayRow]:
    last = {check.relay: check for check in sender.relay_checks.all()}
    return [RelayRow(relay, last.get(relay.key)) for relay in relays_for(sender)]


def last_checks_by_rule(sender: MailSender) -> dict[int, list[RelayCheck]]:
    """Rule position → the last checks of the relays it uses (for the table page)."""
    last = {check.relay: check for check in sender.relay_checks.all()}
    found: dict[int, list[RelayCheck]] = {}
    if not last:
        return found
    for relay in relays_for(sender):
        if relay.key in last:
            for position in relay.rules:
                found.setdefault(position, []).append(last[relay.key])
    return found


def _client_context() -> ssl.SSLContext:
    cafile = getattr(settings, "RELAY_CHECK_CA_FILE", "") or None
    return ssl.create_default_context(cafile=cafile)


def check_limits(sender: MailSender, relays: list[Relay], user: Any) -> None:
    """Refuse checks that come too often: per relay, and per person across all senders."""
    now = timezone.now()
    per_relay = dt.timedelta(seconds=settings.RELAY_CHECK_INTERVAL_SECONDS)
    recent = sender.relay_checks.filter(
        relay__in=[relay.key for relay in relays], checked_at__gt=now - per_relay
    )
    if len(relays) == 1 and recent.exists():
        wait = settings.RELAY_CHECK_INTERVAL_SECONDS
        raise TooSoon(f"{relays[0].label} was checked less than {wait} s ago: try again shortly.")
    a_minute_ago = now - dt.timedelta(minutes=1)
    minute = RelayCheck.objects.filter(checked_by=user, checked_at__gt=a_minute_ago)
    limit = settings.RELAY_CHECKS_PER_MINUTE
    if minute.count() + len(relays) > limit:
        raise TooSoon(f"At most {limit} relay checks a minute per person: try again in a minute.")


def run_checks(
    sender: MailSender,
    relays: list[Relay],
    user: Any,
    *,
    allow_plaintext: bool = False,
    timeout: float | None = None,
) -> list[RelayResult]:
    results = check_relays(
        relays,
        timeout=timeout or settings.RELAY_CHECK_TIMEOUT_SECONDS,
        total_timeout=settings.RELAY_CHECK_TOTAL_SECONDS,
        context=_client_context(),
        allow_plaintext=allow_plaintext,
    )
    for result in results:
        relay = result.relay
        RelayCheck.objects.update_or_create(
            sender=sender,
            relay=relay.key,
            defaults={
                "host": relay.host,
                "port": relay.port,
                "username": relay.username or "",
                "level": result.level,
                "verdict": result.verdict[:500],
                "steps": [step.as_dict() for step in result.steps],
                "checked_at": result.checked_at,
                "checked_by": user if getattr(user, "pk", None) else None,
            },
        )
    return results
