"""The lookup core: a served table, and the answers of Postfix's `transport` and `sasl` maps.

Independent of any protocol: the socketmap adapter (and later an Exim readsocket
adapter) turns bytes into `lookup(map, key)` calls, and "test a message" in the
admin calls `postfix_route` with its own resolver, so both show the same route.

A transport lookup tells the agent only the recipient address. Lines whose
conditions need more (`$from`, `$authsender`, `$size`, `$retries`) cannot be
decided there; the agent routes as if they were not in the table (docs/postfix.md,
"Fidelity"), and the admin's lint says so line by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from senders.engine import (
    CompiledTable,
    DnsMxCondition,
    Message,
    MxAnswer,
    Resolver,
    Result,
    Rule,
    compile_table,
    evaluate,
)
from senders.engine.format import format_condition

MapName = Literal["transport", "sasl"]
MAP_NAMES: tuple[MapName, ...] = ("transport", "sasl")

# What a Postfix transport lookup does not carry (the attributes of the language
# other than the recipient, whose domain every line matches on).
MESSAGE_ATTRIBUTES = frozenset({"from", "authsender", "size", "retries"})
ATTRIBUTE_NAMES = {
    "from": "$from",
    "authsender": "$authsender",
    "size": "$size",
    "retries": "$retries",
}

TRANSPORT = "smtp"
MAX_TEXT = 500  # of a reason in a reply: Postfix shows it in logs and bounces
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
_SASL_KEY = re.compile(r"\[([^\[\]\s]+)\](?::(\d{1,5}))?")


@dataclass(frozen=True, slots=True)
class Reply:
    """One socketmap reply: `OK data`, `NOTFOUND`, `TEMP reason` or `PERM reason`."""

    status: Literal["OK", "NOTFOUND", "TEMP", "PERM"]
    data: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.data}" if self.data else self.status

    def wire(self) -> bytes:
        # socketmap_table(5): "NOTFOUND <space>"; the other replies carry text.
        return f"{self.status} {self.data}".encode()


NOTFOUND = Reply("NOTFOUND")


def _text(text: str) -> str:
    """A reason made safe for a one-line reply (and for Postfix's logs)."""
    text = _UNPRINTABLE.sub("?", " ".join(text.split()))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def uses_unknown(rule: Rule, known: frozenset[str] = frozenset()) -> list[str]:
    """The conditions of `rule` that need a message attribute not in `known`, as written."""
    return [
        format_condition(condition)
        for condition in rule.conditions
        if not isinstance(condition, DnsMxCondition)
        and condition.attribute in MESSAGE_ATTRIBUTES - known
    ]


@dataclass(frozen=True, slots=True)
class SaslEntry:
    username: str
    password: str
    line: int


@dataclass(frozen=True, slots=True)
class SaslConflict:
    """Lines sending to the same host and port with different users (or none)."""

    host: str
    port: int
    chosen: SaslEntry
    lines: tuple[int, ...]  # every line for this host and port, in table order
    users: tuple[str, ...]  # their users ("no login" for none), in first-seen order

    def __str__(self) -> str:
        return self.describe("line")

    def describe(self, word: str) -> str:
        """The conflict in words; `word` is what the numbers count: "rule" for the
        positions of a JSON export, "line" for the lines of a `.txt` export."""
        return (
            f"{word}s {_join(self.lines)} use different users for {self.host}:{self.port} "
            f"({', '.join(self.users)}); Postfix can use only one: the agent gives it "
            f"{self.chosen.username} ({word} {self.chosen.line})"
        )


def _join(numbers: Sequence[int]) -> str:
    if len(numbers) == 1:
        return str(numbers[0])
    return ", ".join(str(n) for n in numbers[:-1]) + f" and {numbers[-1]}"


def sasl_index(
    rules: Iterable[Rule],
) -> tuple[dict[tuple[str, int], SaslEntry], list[SaslConflict]]:
    """`(host, port)` → the login Postfix gets: the first line in table order with a user.

    Postfix looks logins up by `[host]:port` alone, so lines that give the same
    host and port different users (or one a user and another none) cannot all be
    honoured; those are returned as conflicts.
    """
    by_relay: dict[tuple[str, int], list[Rule]] = {}
    for rule in rules:
        by_relay.setdefault((rule.server.host, rule.server.port), []).append(rule)
    entries: dict[tuple[str, int], SaslEntry] = {}
    conflicts: list[SaslConflict] = []
    for (host, port), group in by_relay.items():
        first = next((r for r in group if r.server.username is not None), None)
        if first is None:
            continue
        entry = SaslEntry(first.server.username or "", first.server.password or "", first.line)
        entries[(host, port)] = entry
        users = list(dict.fromkeys(r.server.username or "no login" for r in group))
        if len(users) > 1:
            conflicts.append(
                SaslConflict(host, port, entry, tuple(r.line for r in group), tuple(users))
            )
    return entries, conflicts


class Table:
    """One revision of a sender's table, ready to answer lookups.

    `known` names the message attributes the MTA's lookups carry (none for Postfix):
    lines needing others are left out of `routing`, the table routes are decided by.
    """

    def __init__(
        self,
        rules: Sequence[Rule],
        revision: int | None = None,
        *,
        known: frozenset[str] = frozenset(),
    ) -> None:
        self.rules = tuple(rules)
        self.revision = revision
        self.known = known
        self.unused: tuple[Rule, ...] = tuple(r for r in self.rules if uses_unknown(r, known))
        unused = set(self.unused)
        self.routing: CompiledTable = compile_table(r for r in self.rules if r not in unused)
        self._dnsmx = frozenset(
            index
            for index, rule in enumerate(self.routing.rules)
            if any(isinstance(c, DnsMxCondition) for c in rule.conditions)
        )
        self.sasl, self.sasl_conflicts = sasl_index(self.rules)
        # Transport answers that needed no DNS, by the key's domain part: they depend on
        # nothing else, and this table never changes (a new revision is a new Table).
        self.answers: dict[str, Reply] = {}

    def __len__(self) -> int:
        return len(self.rules)

    def needs_dns_for(self, domain: str) -> bool:
        """Whether a line that may match `domain` has a $dnsmx condition."""
        return bool(self._dnsmx) and any(
            index in self._dnsmx for index in self.routing.candidates(domain)
        )


# ---------------------------------------------------------------- routing


_PROBE = MxAnswer("tempfail", reason="not looked up")


class _NoDns:
    """A resolver that asks nobody: evaluating with it shows whether DNS was needed."""

    __slots__ = ("asked",)

    def __init__(self) -> None:
        self.asked = False

    def lookup_mx(self, domain: str) -> MxAnswer:
        self.asked = True
        return _PROBE

    def lookup_implicit_mx(self, domain: str) -> MxAnswer:
        self.asked = True
        return _PROBE


@dataclass(frozen=True, slots=True)
class Route:
    """How Postfix will route one recipient: the reply, and the evaluation behind it.

    `result` is None when no line matched and the agent answered NOTFOUND without
    asking DNS (Postfix then routes by its own lookups, exactly as without a table).
    """

    reply: Reply
    result: Result | None = None
    unused_lines: tuple[int, ...] = field(default=())


def _message(table: Table, recipient: str, attributes: Mapping[str, str | int]) -> Message:
    """The message as the MTA describes it: only the attributes the table was built to know.

    Raises ValueError for a recipient without a usable domain (or a bad attribute value),
    TypeError for an attribute the table was not built to know.
    """
    fields: dict[str, Any] = {}
    for name, value in attributes.items():
        if name not in table.known:
            raise TypeError(f"{name} is not known to this table (Table(known=...))")
        fields[_MESSAGE_FIELD[name]] = value
    return Message(recipient, **fields)


_MESSAGE_FIELD = {
    "from": "sender",
    "authsender": "auth_sender",
    "size": "size",
    "retries": "retries",
}


def route_without_dns(
    table: Table,
    recipient: str,
    attributes: Mapping[str, str | int] | None = None,
    *,
    word: str = "line",
) -> Route | None:
    """The route if it needs no DNS lookup; None if it does (call `route`).

    `attributes` (`from`, `authsender`, `size`, `retries`) are for MTAs that pass them
    (Exim's readsocket); the table must be built with them in `known`. Postfix passes none.
    `word` names the rules' numbers in the result's reason ("rule" or "line").
    """
    try:
        message = _message(table, recipient, attributes or {})
    except ValueError:
        return Route(NOTFOUND)  # `*`, a bare local name, an address literal: not ours
    if table.needs_dns_for(message.domain):
        return None
    probe = _NoDns()
    result = evaluate(table.routing, message, probe, word=word)
    if not probe.asked:
        return Route(postfix_reply(result), result)
    if not result.matched_lines:
        return Route(NOTFOUND)  # no line matched: Postfix's own MX routing is the route
    return None  # $adddns: the domain's MX hosts are needed


def route(
    table: Table,
    recipient: str,
    resolver: Resolver,
    attributes: Mapping[str, str | int] | None = None,
    *,
    word: str = "line",
) -> Route:
    """How Postfix will route `recipient` with `table` (DNS through `resolver` if needed)."""
    fast = route_without_dns(table, recipient, attributes, word=word)
    if fast is not None:
        return fast
    message = _message(table, recipient, attributes or {})
    result = evaluate(table.routing, message, resolver, word=word)
    return Route(postfix_reply(result), result)


def postfix_reply(result: Result) -> Reply:
    """The engine's result as a transport map answer (docs/postfix.md, "Statuses").

    - override, override+dns: the hops in order as a Postfix 3.5+ next-hop list,
      every host bracketed (no MX lookup of its own: exactly these hosts);
    - dns: NOTFOUND, Postfix routes by MX itself;
    - undeliverable (no line matched, and DNS knows no mail host): NOTFOUND too. No
      line gave a route, so Postfix routes as it would without the table: sending
      direct, its own lookup bounces the message ("Host or domain name not found",
      or the null MX); behind a relayhost, the relayhost decides. The agent's own DNS
      view (its --nameserver) may differ from Postfix's (split DNS): a bounce on the
      agent's word could turn away mail Postfix itself can deliver;
    - defer: `retry:4.4.3` with the reason: the message is accepted, or stays, in
      the queue and is tried again (a TEMP would reject it at RCPT time instead).
    """
    if result.status in ("override", "override+dns"):
        seen: set[tuple[str, int]] = set()
        hops: list[str] = []
        for hop in result.hops:
            if (hop.host, hop.port) not in seen:  # one login per host and port anyway
                seen.add((hop.host, hop.port))
                hops.append(f"[{hop.host}]:{hop.port}")
        return Reply("OK", f"{TRANSPORT}:{', '.join(hops)}")
    if result.status in ("dns", "undeliverable"):
        return NOTFOUND
    return Reply("OK", f"retry:4.4.3 {_text(result.reason)}")


# ---------------------------------------------------------------- sasl


def sasl_reply(table: Table, key: str) -> Reply:
    """`[host]:port` (or `[host]` for port 25) → `user:password`; anything else NOTFOUND.

    Postfix asks the bare host name first: a login given for it would go to every
    port of that host, so only the exact bracketed form is answered.
    """
    match = _SASL_KEY.fullmatch(key.strip())
    if match is None:
        return NOTFOUND
    host = match.group(1).lower().rstrip(".")
    if host.startswith("ipv6:"):
        host = host[5:]
    port = int(match.group(2) or 25)
    entry = table.sasl.get((host, port))
    if entry is None:
        return NOTFOUND
    return Reply("OK", f"{entry.username}:{entry.password}")


# ---------------------------------------------------------------- the maps


NO_TABLE = Reply("TEMP", "overrides-agent has no table yet (see overrides-agent check)")


def lookup(table: Table | None, map_name: str, key: str, resolver: Resolver) -> Reply:
    """One socketmap request, answered synchronously (DNS included)."""
    if map_name == "transport":
        if key.strip() in ("", "*"):
            return NOTFOUND  # `*` is Postfix asking for a catch-all: never answer it
        if table is None:
            return NO_TABLE
        return route(table, key, resolver).reply
    if map_name == "sasl":
        return NO_TABLE if table is None else sasl_reply(table, key)
    return Reply("PERM", f'unknown map "{_text(map_name)}" (expected transport or sasl)')


MAX_ANSWERS = 100_000  # remembered per table; then forgotten all at once


def lookup_without_dns(table: Table | None, map_name: str, key: str) -> Reply | None:
    """Like `lookup`, or None when the answer needs DNS (run `lookup` off the event loop).

    This is the hot path: a domain asked before is one dict lookup.
    """
    if map_name == "transport" and table is not None:
        domain = key.rpartition("@")[2]
        reply = table.answers.get(domain)
        if reply is not None:
            return reply
        if key.strip() in ("", "*"):
            return NOTFOUND
        fast = route_without_dns(table, key)
        if fast is None:
            return None
        if len(table.answers) >= MAX_ANSWERS:
            table.answers.clear()
        table.answers[domain] = fast.reply
        return fast.reply
    return lookup(table, map_name, key, _NoDns())
