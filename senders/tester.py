"""'Test a message': the Django side of the engine's evaluator.

The test page's form reads sizes (`10M`), recipients and hand-typed MX records;
`run_test` chooses the resolver (live DNS, the sender's own DNS servers, or the
typed records), evaluates the saved table or the bulk editor's unsaved text once
per recipient domain, and lines the engine's trace up with the whole table so
that every rule has a state: matched, failed at a condition, not reached after
`$end`, or disabled. Relay passwords never leave this module: rules are shown
masked and hops say only whether a password is set.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from senders.agent.lookup import Table as AgentTable
from senders.agent.lookup import route as agent_route
from senders.engine import (
    CompiledTable,
    DnsResolver,
    Message,
    NextHop,
    Resolver,
    Result,
    Rule,
    StaticResolver,
    compile_table,
    evaluate,
    format_rule,
    normalise_domain,
    parse_mx_records,
    parse_nameserver,
)
from senders.engine import TimeBoundResolver as EngineTimeBoundResolver
from senders.history import document_at
from senders.models import MailSender
from senders.tables import entries_of
from senders.tabletext import Entry, parse_document, rule_at
from senders.validators import clean_document

MAX_RECIPIENTS = 20
MAX_SIZE = 1024**4  # 1 TiB: anything bigger is a typo
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
SIZE_HELP = "Bytes, or with a unit (k = 1024 bytes, M = 1024 k, G = 1024 M): 2000, 500k, 10M, 2.5M."
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|b)?", re.IGNORECASE)
_RECIPIENT_SEPARATORS = re.compile(r"[\s,;]+")

MX_HELP = (
    "One record per line: “example.com 10 mx1.example.com” (an MX record; repeat the line "
    "for more), “example.com 0 .” (a null MX: accepts no mail), “example.com A” (no MX, "
    "but an address: the implicit MX), “example.com NONE” (exists, no records), "
    "“example.com SERVFAIL” (the lookup fails temporarily). Domains not listed do not "
    "exist (NXDOMAIN). Lines starting with # are ignored."
)


# ---------------------------------------------------------------- reading the form


def parse_size(text: str) -> int:
    """`10M`, `500k`, `2.5M` or plain bytes → bytes (binary units, rounded to a byte)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"“{text.strip()}” is not a size. {SIZE_HELP}")
    number, unit = Decimal(match[1]), (match[2] or "").lower()
    if not unit and number != number.to_integral_value():
        raise ValueError("A size in bytes is a whole number; use k or M for fractions (2.5M).")
    size = int((number * SIZE_UNITS[unit]).to_integral_value(ROUND_HALF_UP))
    if size > MAX_SIZE:
        raise ValueError("That is more than 1 TiB; check the size.")
    return size


def parse_recipients(text: str) -> dict[str, list[str]]:
    """Recipient addresses (or bare domains), comma or newline separated → {domain: [typed]}."""
    items = [item.strip("<>") for item in _RECIPIENT_SEPARATORS.split(text) if item.strip("<>")]
    if not items:
        raise ValidationError("Enter a recipient address, or a domain.", code="required")
    if len(items) > MAX_RECIPIENTS:
        raise ValidationError(
            f"Enter at most {MAX_RECIPIENTS} recipients at a time (you entered {len(items)}).",
            code="too_many",
        )
    domains: dict[str, list[str]] = {}
    errors: list[ValidationError] = []
    for item in items:
        try:
            domain = normalise_domain(item)
        except ValueError as exc:
            errors.append(ValidationError(f"{exc}.", code="recipient"))
            continue
        typed = domains.setdefault(domain, [])
        if item not in typed:
            typed.append(item)
    if errors:
        raise ValidationError(errors)
    return domains


def static_resolver(text: str) -> StaticResolver:
    """MX records typed in by hand (see MX_HELP) → a resolver; ValueError names the line."""
    mx: dict[str, list[tuple[int, str]]] = {}
    addresses: set[str] = set()
    failing: set[str] = set()
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        try:
            domain = normalise_domain(tokens[0])
            kind = tokens[1].upper() if len(tokens) == 2 else "MX"
            if kind in ("A", "AAAA"):
                addresses.add(domain)
            elif kind == "SERVFAIL":
                failing.add(domain)
            elif kind == "NONE":
                mx.setdefault(domain, [])
            elif len(tokens) in (3, 4):
                # The engine's record reader numbers its lines from 1: it sees one line.
                records = parse_mx_records(" ".join(tokens[1:]))
                mx.setdefault(domain, []).extend(records)
            else:
                raise ValueError(
                    "expected “domain preference host”, “domain A”, “domain NONE” or "
                    "“domain SERVFAIL”"
                )
        except ValueError as exc:
            errors.append(f"line {number}: {str(exc).removeprefix('line 1: ')}")
    if errors:
        raise ValueError("; ".join(errors))
    return StaticResolver(mx, addresses, failing=failing)


class TesterForm(forms.Form):
    recipients = forms.CharField(
        label="Recipient address(es)",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "code"}),
        help_text="One or more, separated by commas or new lines. A bare domain (example.com) "
        "is fine. Each recipient domain is routed once.",
    )
    mail_from = forms.CharField(
        label="Envelope sender ($from)",
        required=False,
        max_length=500,
        help_text="MAIL FROM; leave empty (or <>) for the null sender.",
    )
    auth_sender = forms.CharField(
        label="Authenticated sender ($authsender)",
        required=False,
        max_length=500,
        help_text="The SMTP AUTH user that submitted the message; empty if none.",
    )
    size = forms.CharField(
        label="Size ($size)", required=False, max_length=50, initial="0", help_text=SIZE_HELP
    )
    retries = forms.IntegerField(
        label="Retries ($retries)",
        required=False,
        min_value=0,
        max_value=1_000_000,
        initial=0,
        help_text="Delivery attempts already made (0 for the first attempt).",
    )
    dns = forms.ChoiceField(
        label="DNS answers from",
        choices=[
            ("live", "Live DNS"),
            ("sender", "This sender's own DNS servers"),
            ("manual", "MX records typed in below"),
        ],
        initial="live",
        widget=forms.RadioSelect,
    )
    mx_records = forms.CharField(
        label="MX records (typed in)",
        required=False,
        strip=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={"rows": 4, "class": "code"}),
        help_text=MX_HELP,
    )
    table = forms.ChoiceField(
        label="Table to test",
        choices=[("saved", "The saved table"), ("text", "The unsaved text below")],
        initial="saved",
        required=False,
        widget=forms.RadioSelect,
    )
    revision = forms.IntegerField(
        label="Revision",
        required=False,
        min_value=1,
        max_value=2**31 - 1,  # a revision number the database can hold
        widget=forms.HiddenInput,
        help_text="Test an earlier revision of the saved table instead of the current one.",
    )
    text = forms.CharField(
        label="Unsaved table text",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code"}),
        help_text="From the bulk editor. Changing it here only changes the test; nothing is "
        "saved from this page.",
    )

    def __init__(self, *args: Any, sender: MailSender, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sender = sender
        # The parser reports NUL and other control characters with their line and column.
        self.fields["text"].validators = []

    def clean_mail_from(self) -> str:
        value: str = self.cleaned_data["mail_from"]
        return "" if value == "<>" else value

    def clean_recipients(self) -> dict[str, list[str]]:
        return parse_recipients(self.cleaned_data["recipients"])

    def clean_size(self) -> int:
        try:
            return parse_size(self.cleaned_data["size"] or "0")
        except ValueError as exc:
            raise ValidationError(str(exc), code="size") from exc

    def clean_retries(self) -> int:
        return self.cleaned_data["retries"] or 0

    def clean_table(self) -> str:
        return self.cleaned_data["table"] or "saved"

    def clean_revision(self) -> int | None:
        number: int | None = self.cleaned_data["revision"]
        if number is None or number == self.sender.revision:
            return None  # the current table
        if not self.sender.revisions.filter(number=number).exists():
            have = f"1 to {self.sender.revision}" if self.sender.revision else "none yet"
            raise ValidationError(
                f"Revision {number} does not exist (this table has revisions {have}).",
                code="revision",
            )
        return number

    def clean_text(self) -> list[Entry] | None:
        if self.data.get("table") != "text":
            return None
        return clean_document(self.cleaned_data["text"])

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        try:
            data["resolver"] = self._resolver(data.get("dns"), data.get("mx_records", ""))
        except ValueError as exc:
            field = "mx_records" if data.get("dns") == "manual" else "dns"
            self.add_error(field, str(exc))
        return data

    def _resolver(self, dns: str | None, mx_records: str) -> Resolver | None:
        if dns == "manual":
            return static_resolver(mx_records)
        servers: tuple[str, ...] = ()
        if dns == "sender":
            servers = tuple(self.sender.nameserver_list)
            if not servers:
                raise ValueError("This sender has no DNS servers of its own.")
            for server in servers:
                parse_nameserver(server)  # a clear message for a bad entry
        elif dns != "live":
            return None
        timeout = float(settings.DNS_TIMEOUT)
        return TimeBoundResolver(shared_dns_resolver(servers, timeout), 2 * timeout)


# ---------------------------------------------------------------- resolvers


@functools.lru_cache(maxsize=16)
def shared_dns_resolver(nameservers: tuple[str, ...], timeout: float) -> DnsResolver:
    """One resolver (and so one TTL cache) per server list, kept between requests:
    the live form tests on every keystroke."""
    return DnsResolver(nameservers, timeout=timeout)


# A test's DNS time is bounded (`shared_dns_resolver` above); the page says so in words.
TimeBoundResolver = functools.partial(
    EngineTimeBoundResolver, reason="this test used up its time for DNS lookups"
)


# ---------------------------------------------------------------- running


@dataclass(frozen=True)
class TableUnderTest:
    """A table to test: every rule with its number (position or text line), on or off."""

    rules: tuple[tuple[int, Rule, bool], ...]
    compiled: CompiledTable

    @classmethod
    def of(cls, entries: Iterable[Entry]) -> TableUnderTest:
        rules = tuple((e.line, rule_at(e.text, e.line), e.enabled) for e in entries)
        return cls(rules, compile_table(rule for _, rule, enabled in rules if enabled))

    @functools.cached_property
    def postfix(self) -> AgentTable:
        """The table as the Postfix agent (senders.agent) serves it."""
        return AgentTable([rule for _, rule, enabled in self.rules if enabled])


@dataclass(frozen=True)
class RuleRow:
    """One rule in the trace (or, when `count` > 1, a run of rules `number`..`last` alike).

    state is matched, failed, not-reached or disabled.
    """

    number: int
    text: str
    state: str
    why: str
    last: int = 0
    count: int = 1


@dataclass(frozen=True)
class HopRow:
    """A next hop as the page shows it: "password set", never the password."""

    host: str
    port: int
    preference: int
    line: int | None  # the rule that gave it; None for a DNS host
    username: str | None
    password_set: bool

    @classmethod
    def of(cls, hop: NextHop) -> HopRow:
        return cls(hop.host, hop.port, hop.preference, hop.line, hop.username, hop.password_set)

    @property
    def route(self) -> tuple[object, ...]:
        """What delivery does with it: line numbers differ between saved and unsaved text."""
        return (self.host, self.port, self.preference, self.line is None, self.username)


@dataclass(frozen=True)
class PostfixOutcome:
    """How the Postfix agent routes a domain, shown where it differs from the full evaluation."""

    answer: str  # the transport map's reply, as `overrides-agent check --lookup` prints it
    reason: str
    hops: list[HopRow]
    left_out: list[int]  # lines with conditions a transport lookup cannot check


def _route_key(result: Result | None, logins: AgentTable | None) -> tuple[object, ...]:
    """What Postfix does: its own MX routing (no line matched), defer, or these relays in
    this order with these users (from the sasl map when `logins` is given)."""
    if result is None or (result.status in ("dns", "undeliverable") and not result.matched_lines):
        return ("own routing",)
    if result.status == "defer":
        return ("defer",)
    hops: list[tuple[str, int, str | None]] = []
    for hop in result.hops:
        user = hop.username
        if logins is not None:
            entry = logins.sasl.get((hop.host, hop.port))
            user = entry.username if entry is not None else None
        if all((hop.host, hop.port) != (host, port) for host, port, _ in hops):
            hops.append((hop.host, hop.port, user))
    return ("relays", *hops)


def postfix_outcome(
    table: TableUnderTest,
    message: Message,
    resolver: Resolver,
    result: Result,
    postfix: bool | None = None,
    word: str = "line",
) -> PostfixOutcome | None:
    """The Postfix agent's route when it differs from `result` (the full evaluation).

    Computed by the agent's own lookup core, so the page says what the agent will answer.
    """
    if not (settings.POSTFIX_AGENT if postfix is None else postfix):
        return None
    agent = table.postfix
    if not agent.unused and not agent.sasl_conflicts:
        return None  # the agent evaluates exactly this table: no difference possible
    route = agent_route(agent, message.recipient, resolver, word=word)
    if _route_key(route.result, agent) == _route_key(result, None):
        return None
    hops = []
    if route.result is not None and route.reply.data.startswith("smtp:"):
        for hop in route.result.hops:
            entry = agent.sasl.get((hop.host, hop.port))
            user = entry.username if entry is not None else None
            hops.append(HopRow(hop.host, hop.port, hop.preference, hop.line, user, bool(entry)))
    if route.result is None:
        reason = (
            f"no {word} the agent uses matched: Postfix delivers to the MX hosts of "
            f"{message.domain}"
        )
    else:
        reason = route.result.reason
    return PostfixOutcome(str(route.reply), reason, hops, [rule.line for rule in agent.unused])


@dataclass(frozen=True)
class RankedHop:
    """A hop with its place in the order; hops of equal preference share their place
    (the spec: equal preferences are reported as equal, a deliverer may spread load)."""

    place: int
    equal: bool
    hop: HopRow


def ranked(hops: Sequence[HopRow]) -> list[RankedHop]:
    """Places as in a race: 1, 1, 3 for preferences 10, 10, 20."""
    counts = Counter(hop.preference for hop in hops)
    places: dict[int, int] = {}
    return [
        RankedHop(places.setdefault(hop.preference, index), counts[hop.preference] > 1, hop)
        for index, hop in enumerate(hops, start=1)
    ]


@dataclass
class DomainOutcome:
    domain: str
    recipients: list[str]
    status: str
    reason: str
    hops: list[HopRow]
    rows: list[RuleRow]
    word: str  # what the numbers count: "rule" (saved positions) or "line" (text lines)
    saved: DomainOutcome | None = None  # the saved table's outcome, when testing unsaved text
    postfix: PostfixOutcome | None = None  # the Postfix agent's route, when it differs
    traced: bool = True  # False past MAX_TRACED_DOMAINS: no trace was made

    @property
    def ranked_hops(self) -> list[RankedHop]:
        return ranked(self.hops)

    @property
    def has_equal_hops(self) -> bool:
        return any(hop.equal for hop in self.ranked_hops)

    @property
    def route(self) -> tuple[object, ...]:
        return (self.status, [(*hop.route, hop.password_set) for hop in self.hops])

    @property
    def differs(self) -> bool:
        return self.saved is not None and self.route != self.saved.route


@dataclass
class Report:
    table: str  # "saved" | "text"
    size: int
    outcomes: list[DomainOutcome] = field(default_factory=list)
    revision: int | None = None  # an earlier revision tested instead of the current table

    @property
    def differences(self) -> int:
        return sum(outcome.differs for outcome in self.outcomes)


# Runs of more rules than this that all fail on the domain pattern (or are all not
# reached, or all disabled) are shown as one row: a 10,000-rule table stays readable.
MAX_RUN = 3
# At most this many rows of a trace, plus at most this many matched rules after them,
# plus one row counting the rest: the answer stays small whatever the table (up to 20
# recipient domains, each with its trace).
MAX_TRACE_ROWS = 50
# Tracing a domain through a 10,000-rule table costs about as much as everything else
# in a test together: the first few recipient domains get their trace, the others
# their result only.
MAX_TRACED_DOMAINS = 3


def trace_rows(table: TableUnderTest, result: Result, word: str) -> list[RuleRow]:
    """The engine's trace (lines checked) merged with every rule of the table."""
    steps = {step.line: step for step in result.trace}
    last = result.trace[-1] if result.trace else None
    if last is not None and last.end:
        skipped = f"not reached: {word} {last.line} ended the walk ($end)"
    else:  # a $dnsmx condition that could not be decided stops the walk too
        stop = f" at {word} {last.line}" if last is not None else ""
        skipped = f"not reached: the walk stopped{stop} (defer)"
    mismatch = f'domain "{result.domain}" does not match'
    states: list[tuple[str, str, str]] = []  # (state, why, kind of run)
    for number, _, enabled in table.rules:
        step = steps.get(number)
        if not enabled:
            states.append(("disabled", "disabled, not evaluated", "disabled"))
        elif step is None:
            states.append(("not-reached", skipped, "not-reached"))
        elif step.matched:
            states.append(("matched", step.why, ""))
        else:  # the engine says which condition failed, or that the domain did not match
            states.append(("failed", step.why, "domain" if step.why.startswith(mismatch) else ""))
    rows: list[RuleRow] = []
    start = 0
    for index in range(1, len(states) + 1):
        kind = states[start][2]
        if index < len(states) and kind and states[index][2] == kind:
            continue
        if index - start > MAX_RUN:
            first, final = table.rules[start][0], table.rules[index - 1][0]
            why = f"{mismatch} their patterns" if kind == "domain" else states[start][1]
            rows.append(RuleRow(first, "", states[start][0], why, final, index - start))
        else:
            for (number, rule, _), (state, why, _) in zip(
                table.rules[start:index], states[start:index], strict=True
            ):
                # Rows past the bound are not shown (_bounded): not worth formatting.
                shown = len(rows) < MAX_TRACE_ROWS or state == "matched"
                text = format_rule(rule, mask_password=True) if shown else ""
                rows.append(RuleRow(number, text, state, why))
        start = index
    return _bounded(rows, word)


def _bounded(rows: list[RuleRow], word: str) -> list[RuleRow]:
    """The first MAX_TRACE_ROWS rows and the matched ones after them; one row counts the rest."""
    if len(rows) <= MAX_TRACE_ROWS:
        return rows
    shown, hidden = rows[:MAX_TRACE_ROWS], []
    matched_after = 0
    for row in rows[MAX_TRACE_ROWS:]:
        if row.state == "matched" and matched_after < MAX_TRACE_ROWS:
            shown.append(row)
            matched_after += 1
        else:
            hidden.append(row)
    if hidden:
        count = sum(row.count for row in hidden)
        plural = "" if count == 1 else "s"
        why = (
            f"{count} more {word}{plural} not shown: the trace lists its first "
            f"{MAX_TRACE_ROWS} rows and up to {MAX_TRACE_ROWS} matched {word}s after them"
        )
        first = hidden[0].number
        last = max(row.last or row.number for row in hidden)
        shown.append(RuleRow(first, "", "omitted", why, last, count))
    return shown


def outcome(
    table: TableUnderTest,
    message: Message,
    resolver: Resolver,
    recipients: list[str],
    word: str,
    *,
    trace: bool = True,
    postfix: bool | None = None,
) -> DomainOutcome:
    result = evaluate(table.compiled, message, resolver, word=word)
    return DomainOutcome(
        result.domain,
        recipients,
        result.status,
        result.reason,
        [HopRow.of(hop) for hop in result.hops],
        trace_rows(table, result, word) if trace else [],
        word,
        postfix=postfix_outcome(table, message, resolver, result, postfix, word),
        traced=trace,
    )


@functools.lru_cache(maxsize=8)
def _saved_table(pk: int, created_at: datetime, revision: int) -> TableUnderTest:
    return TableUnderTest.of(entries_of(MailSender(pk=pk)))


def saved_table(sender: MailSender) -> TableUnderTest:
    """The sender's table, parsed and compiled once per revision: the live form tests on
    every keystroke. (Every change goes through `senders.tables` and bumps the revision;
    `created_at` tells a re-created sender that got the same id apart.)"""
    return _saved_table(sender.pk, sender.created_at, sender.revision)


@functools.lru_cache(maxsize=8)
def _revision_table(pk: int, created_at: datetime, number: int) -> TableUnderTest:
    # Numbered by position ("rule N", as the table page numbered it then), not by the
    # line of the revision's document (comments take lines there).
    entries = parse_document(document_at(MailSender(pk=pk), number))
    return TableUnderTest.of(replace(e, line=n) for n, e in enumerate(entries, start=1))


def revision_table(sender: MailSender, number: int) -> TableUnderTest:
    """A revision's table, parsed and compiled once: revisions never change (`created_at`
    tells a re-created sender that got the same id apart). Raises Revision.DoesNotExist."""
    return _revision_table(sender.pk, sender.created_at, number)


def run_test(sender: MailSender, data: dict[str, Any]) -> Report:
    """Evaluate the form's message for each recipient domain (see TesterForm)."""
    revision = data.get("revision")
    saved = revision_table(sender, revision) if revision else saved_table(sender)
    unsaved = TableUnderTest.of(data["text"]) if data["table"] == "text" else None
    report = Report(data["table"], data["size"], revision=revision)
    postfix = sender.follows_postfix_agent
    for index, (domain, recipients) in enumerate(data["recipients"].items()):
        traced = index < MAX_TRACED_DOMAINS
        message = Message(
            domain,
            sender=data["mail_from"],
            auth_sender=data["auth_sender"],
            size=data["size"],
            retries=data["retries"],
        )
        # Compared with the unsaved text, only the saved table's route is shown.
        saved_outcome = outcome(
            saved,
            message,
            data["resolver"],
            recipients,
            "rule",
            trace=traced and unsaved is None,
            postfix=postfix,
        )
        if unsaved is None:
            report.outcomes.append(saved_outcome)
            continue
        tested = outcome(
            unsaved, message, data["resolver"], recipients, "line", trace=traced, postfix=postfix
        )
        tested.saved = saved_outcome
        report.outcomes.append(tested)
    return report
