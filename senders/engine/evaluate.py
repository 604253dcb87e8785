"""Evaluation: a compiled table, a message and a resolver → next hops and a trace.

The spec's algorithm: walk the lines in table order; every matching line gives a
next hop; `$end` stops the walk; no match means the real MX records; `$adddns`
adds them. The walk only visits the lines whose domain pattern can match (found
through an index) — the others are reported in the trace as not matching,
lazily, so that a 10,000-line table costs a few dict lookups per message.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Literal

from senders.engine.format import format_condition
from senders.engine.match import (
    compile_regex,
    compile_wildcard,
    domain_suffixes,
    index_suffix,
    normalise_domain,
    predicate,
    valid_text,
)
from senders.engine.resolve import MxAnswer, Resolver
from senders.engine.rules import NUMERIC_ATTRIBUTES, Condition, DnsMxCondition, Rule

Status = Literal["override", "override+dns", "dns", "undeliverable", "defer"]

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "<>": operator.ne,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_FIELD = {"size": "size", "retries": "retries", "authsender": "auth sender", "from": "sender"}


@dataclass(frozen=True, slots=True)
class Message:
    """What is known of one message for one recipient.

    `recipient` is an address (the domain is what follows the last @) or a bare
    domain. Raises ValueError when it holds no usable domain, or when size or
    retries are negative.
    """

    recipient: str
    sender: str = ""
    auth_sender: str = ""
    size: int = 0
    retries: int = 0
    domain: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("size", "retries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}")
        object.__setattr__(self, "domain", normalise_domain(self.recipient))


@dataclass(frozen=True, slots=True)
class NextHop:
    """One place to hand the message to, in the order a deliverer should try."""

    host: str
    port: int
    preference: int
    source: Literal["override", "dns"]
    line: int | None = None
    username: str | None = None
    password: str | None = None

    @property
    def password_set(self) -> bool:
        return self.password is not None

    def as_dict(self, *, show_secrets: bool = False, word: str = "line") -> dict[str, Any]:
        """`word` names the key of `line`: "rule" when it counts a stored table's rules."""
        data: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "preference": self.preference,
            "source": self.source,
            word: self.line,
            "username": self.username,
            "password_set": self.password_set,
        }
        if show_secrets:
            data["password"] = self.password
        return data


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One checked line: whether it matched and why (or the first condition that failed)."""

    line: int
    matched: bool
    why: str
    end: bool = False

    def as_dict(self, *, word: str = "line") -> dict[str, Any]:
        return {word: self.line, "matched": self.matched, "why": self.why, "end": self.end}


def _no_trace() -> tuple[TraceStep, ...]:
    return ()


@dataclass(frozen=True, slots=True)
class Result:
    """The route for one recipient domain.

    `trace` has one step per line checked, in table order; lines after a line
    that stopped the walk with `$end` (or made it defer) are not in it.
    """

    status: Status
    reason: str
    domain: str
    hops: tuple[NextHop, ...] = ()
    matched_lines: tuple[int, ...] = ()
    # Built on first access: most callers (delivery) never read it.
    trace_builder: Callable[[], tuple[TraceStep, ...]] = field(
        default=_no_trace, compare=False, repr=False
    )

    @property
    def trace(self) -> tuple[TraceStep, ...]:
        return self.trace_builder()

    def as_dict(self, *, show_secrets: bool = False, word: str = "line") -> dict[str, Any]:
        """The JSON object of `manage.py route --json`.

        `word` is what the numbers count, as in `format_result`: "line" (a line of a
        table text) or "rule" (a stored table's rule position); it names their keys.
        """
        return {
            "status": self.status,
            "reason": self.reason,
            "domain": self.domain,
            "hops": [hop.as_dict(show_secrets=show_secrets, word=word) for hop in self.hops],
            "trace": [step.as_dict(word=word) for step in self.trace],
        }


# ---------------------------------------------------------------- compiling


class _Undecided(Exception):
    """A $dnsmx condition met a temporary DNS failure."""

    def __init__(self, answer: MxAnswer) -> None:
        super().__init__(answer.reason)
        self.answer = answer


class _State:
    """One evaluation: the message's values as conditions read them, and the MX answer."""

    __slots__ = (
        "auth_sender",
        "auth_sender_folded",
        "domain",
        "message",
        "mx",
        "resolver",
        "retries",
        "sender",
        "sender_folded",
        "size",
    )

    def __init__(self, message: Message, resolver: Resolver) -> None:
        self.message = message
        self.domain = message.domain
        self.size = message.size
        self.retries = message.retries
        self.sender = valid_text(message.sender)
        self.auth_sender = valid_text(message.auth_sender)
        self.sender_folded = self.sender.lower()
        self.auth_sender_folded = self.auth_sender.lower()
        self.resolver = resolver
        self.mx: MxAnswer | None = None

    def mx_answer(self) -> MxAnswer:
        """The domain's MX answer, looked up at most once per evaluation."""
        if self.mx is None:
            self.mx = self.resolver.lookup_mx(self.domain)
        return self.mx


Check = Callable[[_State], bool]


class _Compiler:
    """Turns conditions into checks, sharing programs between identical patterns."""

    def __init__(self) -> None:
        self._wildcards: dict[str, Callable[[str], bool]] = {}
        self._regexes: dict[tuple[str, bool], Any] = {}

    def wildcard(self, pattern: str) -> Callable[[str], bool]:
        matcher = self._wildcards.get(pattern)
        if matcher is None:
            matcher = self._wildcards[pattern] = compile_wildcard(pattern)
        return matcher

    def regex(self, value: str) -> Any:
        last = value.rfind("/")
        key = (value[1:last], value[last + 1 :] == "i")
        program = self._regexes.get(key)
        if program is None:
            program = self._regexes[key] = compile_regex(key[0], ignore_case=key[1])
        return program

    def check(self, condition: Condition | DnsMxCondition) -> Check:
        if isinstance(condition, DnsMxCondition):
            return self._dnsmx(condition)
        compare = _COMPARE.get(condition.operator)
        if condition.attribute in NUMERIC_ATTRIBUTES:
            number = int(condition.value)
            assert compare is not None  # the parser allows no ~= on numbers
            if condition.attribute == "size":
                return lambda state: compare(state.size, number)
            return lambda state: compare(state.retries, number)
        name = "auth_sender" if condition.attribute == "authsender" else "sender"
        raw, folded = operator.attrgetter(name), operator.attrgetter(name + "_folded")
        if compare is not None:
            value = condition.value.lower()
            return lambda state: compare(folded(state), value)
        negate = condition.operator == "~!"
        if condition.is_regex:
            search = predicate(self.regex(condition.value), anchored=False)
            return lambda state: search(raw(state)) != negate
        matcher = self.wildcard(condition.value.lower())
        return lambda state: matcher(folded(state)) != negate

    def _dnsmx(self, condition: DnsMxCondition) -> Check:
        matcher, negate = self.wildcard(condition.pattern), condition.negate

        def check(state: _State) -> bool:
            answer = state.mx_answer()
            if answer.kind == "tempfail":
                raise _Undecided(answer)
            return any(matcher(host) for host in answer.hosts) != negate

        return check


class _Line:
    __slots__ = ("adddns", "checks", "end", "hop", "match_domain", "rule")

    def __init__(self, rule: Rule, compiler: _Compiler) -> None:
        self.rule = rule
        self.match_domain = compiler.wildcard(rule.domain)
        self.checks = tuple(compiler.check(condition) for condition in rule.conditions)
        self.end = rule.end
        self.adddns = rule.adddns
        server = rule.server
        self.hop = NextHop(
            server.host,
            server.port,
            rule.preference,
            "override",
            rule.line,
            server.username,
            server.password,
        )


class CompiledTable:
    """A table ready for evaluation, compiled once.

    Lines with an exact domain are found by dict lookup; wildcard lines whose
    pattern ends in a literal dotted suffix (`*.demon.co.uk`, `mx?.example.org`)
    by looking up each suffix of the domain; the rest (`*`, `mail*`) are always
    visited. The candidates are merged back into table order.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        compiler = _Compiler()
        self._lines = tuple(_Line(rule, compiler) for rule in self.rules)
        exact: dict[str, list[int]] = {}
        suffixes: dict[str, list[int]] = {}
        scan: list[int] = []
        for index, rule in enumerate(self.rules):
            if not rule.is_wildcard:
                exact.setdefault(rule.domain, []).append(index)
            elif (suffix := index_suffix(rule.domain)) is not None:
                suffixes.setdefault(suffix, []).append(index)
            else:
                scan.append(index)
        self._exact = {key: tuple(value) for key, value in exact.items()}
        self._suffixes = {key: tuple(value) for key, value in suffixes.items()}
        self._scan = tuple(scan)

    def __len__(self) -> int:
        return len(self.rules)

    def candidates(self, domain: str) -> Sequence[int]:
        """Indexes of the lines whose pattern may match `domain`, in table order."""
        found = self._exact.get(domain)
        groups = [found] if found else []
        if self._suffixes:
            for suffix in domain_suffixes(domain):
                group = self._suffixes.get(suffix)
                if group:
                    groups.append(group)
        if self._scan:
            groups.append(self._scan)
        if len(groups) == 1:
            return groups[0]
        return sorted(chain.from_iterable(groups)) if groups else ()


def compile_table(rules: Iterable[Rule]) -> CompiledTable:
    return CompiledTable(rules)


# ---------------------------------------------------------------- evaluating


def evaluate(
    table: CompiledTable | Iterable[Rule],
    message: Message,
    resolver: Resolver,
    *,
    word: str = "line",
) -> Result:
    """Route `message` through the override table (see the spec's Evaluation section).

    `word` is what `Rule.line` counts, as the reason names it: "line" (a line of a
    text) or "rule" (a rule's position in a stored table).
    """
    if not isinstance(table, CompiledTable):
        table = CompiledTable(table)
    state = _State(message, resolver)
    domain = state.domain
    lines = table._lines
    matched: list[int] = []
    failed: dict[int, int] = {}  # line index → index of its first failing condition
    last = len(lines) - 1  # the last line checked
    stopped = adddns = False
    index = position = -1
    try:
        for index in table.candidates(domain):
            line = lines[index]
            if not line.match_domain(domain):
                continue
            if line.checks:
                # position is also read when a check raises _Undecided
                for position, check in enumerate(line.checks):
                    if not check(state):
                        failed[index] = position
                        break
                else:
                    position = -1
                if position >= 0:
                    continue
            matched.append(index)
            adddns = adddns or line.adddns
            if line.end:
                last, stopped = index, True
                break
    except _Undecided as undecided:
        failed[index] = position
        trace = _Trace(table, state, matched, failed, index, undecided, word)
        rule = lines[index].rule
        return Result(
            "defer",
            f"{word} {rule.line} needs the MX records of {domain} ($dnsmx), but the lookup "
            f"failed temporarily ({undecided.answer.reason}); try again later",
            domain,
            matched_lines=tuple(lines[i].rule.line for i in matched),
            trace_builder=trace,
        )

    trace = _Trace(table, state, matched, failed, last, None, word)
    overrides = [lines[i].hop for i in matched]
    matched_lines = tuple(hop.line for hop in overrides if hop.line is not None)
    what = ""
    if matched:
        what = f"{_numbered(word, matched_lines)} matched"
        if stopped:
            what += " ($end)" if len(matched) == 1 else f" ($end on {word} {matched_lines[-1]})"
        if not adddns:
            return Result("override", what, domain, _order(overrides, ()), matched_lines, trace)

    answer = state.mx_answer()
    if answer.kind == "tempfail":
        return _defer(f"the MX lookup for {domain}", answer, domain, matched_lines, trace)
    if answer.kind == "nodata":
        answer = resolver.lookup_implicit_mx(domain)
        if answer.kind == "tempfail":
            return _defer(f"the A/AAAA lookup for {domain}", answer, domain, matched_lines, trace)
    dns_hops = [NextHop(host, 25, preference, "dns") for preference, host in answer.records]

    if not matched:
        if answer.kind == "mx":
            reason = f"no {word} matched: delivering to the MX hosts of {domain}"
        elif answer.kind == "implicit":
            reason = (
                f"no {word} matched and {domain} has no MX records: delivering to "
                f"{domain} itself (implicit MX, RFC 5321)"
            )
        else:
            reason = f"no {word} matched and {_absence(answer, domain)}"
            return Result("undeliverable", reason, domain, (), (), trace)
        return Result("dns", reason, domain, _order((), dns_hops), (), trace)

    hops = _order(overrides, dns_hops)
    if not dns_hops:
        reason = f"{what}; $adddns adds nothing: {_absence(answer, domain)}"
        return Result("override", reason, domain, hops, matched_lines, trace)
    if not any(hop.source == "dns" for hop in hops):
        reason = f"{what}; $adddns adds nothing: the DNS hosts are already listed"
        return Result("override", reason, domain, hops, matched_lines, trace)
    if answer.kind == "implicit":
        added = f"{domain} itself (implicit MX: it has no MX records)"
    else:
        added = f"the MX hosts of {domain}"
    reason = f"{what}; $adddns adds {added}"
    return Result("override+dns", reason, domain, hops, matched_lines, trace)


def _defer(
    lookup: str,
    answer: MxAnswer,
    domain: str,
    matched_lines: tuple[int, ...],
    trace: _Trace,
) -> Result:
    reason = f"{lookup} failed temporarily ({answer.reason}); try again later"
    return Result("defer", reason, domain, (), matched_lines, trace)


def _absence(answer: MxAnswer, domain: str) -> str:
    if answer.kind == "null":
        return f"{domain} publishes a null MX (RFC 7505): it accepts no mail"
    if answer.kind == "nxdomain":
        return f"{domain} does not exist (NXDOMAIN)"
    return f"{domain} has no MX, A or AAAA records"


def _numbered(word: str, numbers: Sequence[int]) -> str:
    """`line 3`, `rules 1, 2 and 5`."""
    if len(numbers) == 1:  # the common case, kept cheap
        return f"{word} {numbers[0]}"
    head = ", ".join(str(number) for number in numbers[:-1])
    return f"{word}s {head} and {numbers[-1]}"


def _order(overrides: Sequence[NextHop], dns_hops: Sequence[NextHop]) -> tuple[NextHop, ...]:
    """Preference first; at equal preference overrides in table order, then DNS hosts by
    name. A host/port/credentials seen again is dropped: its first entry is the best."""
    if not dns_hops and len(overrides) <= 1:
        return tuple(overrides)
    keyed = [((hop.preference, 0, position, ""), hop) for position, hop in enumerate(overrides)]
    keyed += [((hop.preference, 1, 0, hop.host), hop) for hop in dns_hops]
    keyed.sort(key=operator.itemgetter(0))
    seen: set[tuple[str, int, str | None, str | None]] = set()
    hops: list[NextHop] = []
    for _, hop in keyed:
        key = (hop.host, hop.port, hop.username, hop.password)
        if key not in seen:
            seen.add(key)
            hops.append(hop)
    return tuple(hops)


# ---------------------------------------------------------------- tracing


class _Trace:
    """Builds the trace of one evaluation on first use, then keeps it."""

    def __init__(
        self,
        table: CompiledTable,
        state: _State,
        matched: list[int],
        failed: dict[int, int],
        last: int,
        undecided: _Undecided | None,
        word: str = "line",
    ) -> None:
        self._table = table
        self._state = state
        self._matched = matched
        self._failed = failed
        self._last = last
        self._undecided = undecided
        self._word = word
        self._steps: tuple[TraceStep, ...] | None = None

    def __call__(self) -> tuple[TraceStep, ...]:
        if self._steps is None:
            matched = set(self._matched)
            self._steps = tuple(self._step(index, matched) for index in range(self._last + 1))
        return self._steps

    def _step(self, index: int, matched: set[int]) -> TraceStep:
        rule = self._table.rules[index]
        domain = self._state.domain
        if index in matched:
            parts = [f'domain "{domain}" matches "{rule.domain}"']
            parts += [f"{format_condition(c)} holds{self._value_of(c)}" for c in rule.conditions]
            if rule.end:
                parts.append(f"$end: later {self._word}s are not checked")
            return TraceStep(rule.line, True, "; ".join(parts), rule.end)
        failure = self._failed.get(index)
        if failure is None:
            return TraceStep(rule.line, False, f'domain "{domain}" does not match "{rule.domain}"')
        condition = rule.conditions[failure]
        if self._undecided is not None and index == self._last:
            answer = self._undecided.answer
            why = (
                f"{format_condition(condition)} cannot be decided: the MX lookup for {domain} "
                f"failed temporarily ({answer.reason})"
            )
            return TraceStep(rule.line, False, why)
        return TraceStep(
            rule.line, False, f"{format_condition(condition)} failed{self._value_of(condition)}"
        )

    def _value_of(self, condition: Condition | DnsMxCondition) -> str:
        """` (size is 2000)`: the value the condition looked at."""
        state = self._state
        if isinstance(condition, DnsMxCondition):
            answer = state.mx
            if answer is None:
                return ""
            if answer.hosts:
                return f" (MX hosts of {state.domain}: {', '.join(answer.hosts)})"
            if answer.kind == "null":
                return f" ({state.domain} has a null MX)"
            if answer.kind == "nxdomain":
                return f" ({state.domain} does not exist)"
            return f" ({state.domain} has no MX records)"
        name = _FIELD[condition.attribute]
        if condition.attribute == "size":
            return f" ({name} is {state.size})"
        if condition.attribute == "retries":
            return f" ({name} is {state.retries})"
        value = state.auth_sender if condition.attribute == "authsender" else state.sender
        return f' ({name} is "{value}")' if value else f" ({name} is empty)"
