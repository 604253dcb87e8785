"""Lint: warnings about rules that parse but probably do not do what was meant.

Warnings, never errors: a table with warnings is still valid and is still served.
Each warning is about one line, names the other lines involved, and says how to
fix it. Messages never quote a relay password (they name hosts, users and lines).

Every check is *sound*: it only warns when the problem is certain from the text
of the table (wildcard containment is decided exactly, conditions are compared
as the evaluator compares them). Checks that would need guesses stay silent.

    warnings = lint_table(parse_table(text), local_domains=["example.com"])
    for warning in warnings:
        print(warning)   # "line 5: can never match: ... — move it above line 2 or delete it"
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from senders.engine.format import format_condition
from senders.engine.match import (
    compile_wildcard,
    index_suffix,
    normalise_domain,
)
from senders.engine.rules import NUMERIC_ATTRIBUTES, Condition, DnsMxCondition, Rule

# Delivery gives up (bounces) after a few days; with usual back-off schedules that
# is a few dozen attempts. A line needing more attempts than this never applies.
MAX_USEFUL_RETRIES = 100

SHADOWED = "shadowed"
DUPLICATE = "duplicate"
USELESS_PRIORITY = "useless-priority"
ADDDNS_END_CATCH_ALL = "adddns-end-catch-all"
CONTRADICTION = "contradiction"
UNREACHABLE_RETRIES = "unreachable-retries"
MIXED_CREDENTIALS = "mixed-credentials"
RELAY_LOOP = "relay-loop"
POSTFIX_CONDITION = "postfix-condition"
POSTFIX_LOGIN = "postfix-login"

# What a Postfix transport lookup does not carry (see senders/agent, docs/postfix.md).
POSTFIX_UNKNOWN = frozenset({"from", "authsender", "size", "retries"})

__all__ = [
    "ADDDNS_END_CATCH_ALL",
    "CONTRADICTION",
    "DUPLICATE",
    "MAX_USEFUL_RETRIES",
    "MIXED_CREDENTIALS",
    "POSTFIX_CONDITION",
    "POSTFIX_LOGIN",
    "RELAY_LOOP",
    "SHADOWED",
    "UNREACHABLE_RETRIES",
    "USELESS_PRIORITY",
    "LintWarning",
    "lint_table",
    "pattern_covers",
    "patterns_overlap",
]


@dataclass(frozen=True, slots=True)
class LintWarning:
    """One warning. `line` is the number of the rule it is about; `related` the numbers
    of the other rules involved. `word` is what the numbers count, as the texts say:
    "line" (lines of a text) or "rule" (positions in a stored table)."""

    line: int
    code: str
    message: str
    fix: str
    related: tuple[int, ...] = ()
    word: str = "line"

    @property
    def lines(self) -> tuple[int, ...]:
        return (self.line, *self.related)

    def __str__(self) -> str:
        return f"{self.word} {self.line}: {self.message} — {self.fix}"


def lint_table(
    rules: Sequence[Rule],
    local_domains: Iterable[str] = (),
    *,
    max_retries: int = MAX_USEFUL_RETRIES,
    postfix: bool = False,
    word: str = "line",
) -> list[LintWarning]:
    """Warnings for a table, in line order; `rules[i].line` is what they refer to.

    `local_domains` are the sender's own domains (relay-loop check); entries that
    are not valid domain names are ignored. `postfix` adds what the Postfix agent
    cannot honour exactly (`postfix_warnings`). `word` names the numbers in the
    messages: "line" for a typed text, "rule" for a stored table's positions.
    """
    warnings: list[LintWarning] = []
    live: list[Rule] = []  # rules that can match at all, in table order
    seen: dict[tuple[object, ...], Rule] = {}
    terminal = _PatternIndex()
    for rule in rules:
        twin = seen.setdefault(_semantic_key(rule), rule)
        dead = _duplicate(rule, twin) if twin is not rule else _shadowed(rule, terminal)
        if _is_terminal(rule):
            terminal.add(rule)
        if dead:
            warnings.append(dead)
            continue
        live.append(rule)
        warnings.extend(_contradictions(rule))
        warnings.extend(_retries(rule, max_retries))
        if rule.end and rule.adddns and not rule.conditions and _is_catch_all(rule):
            warnings.append(_adddns_end(rule))
    warnings.extend(_useless_priorities(live))
    warnings.extend(_mixed_credentials(live))
    warnings.extend(_relay_loops(live, _normalised(local_domains)))
    if postfix:
        warnings.extend(postfix_warnings(rules, live))
    warnings.sort(key=lambda w: (w.line, w.related))
    if word != "line":
        warnings = [_worded(w, word) for w in warnings]
    return warnings


# Every "line"/"lines" in the messages below names a numbered entry of the table:
# for a stored table they say "rule"/"rules" instead.
_LINE_WORD = re.compile(r"\b(?:line|Line)(s?)\b")


def _worded(warning: LintWarning, word: str) -> LintWarning:
    def swap(match: re.Match[str]) -> str:
        first = word[0].upper() if match.group(0)[0] == "L" else word[0]
        return first + word[1:] + match.group(1)

    message, fix = warning.message, warning.fix
    return LintWarning(
        warning.line,
        warning.code,
        _LINE_WORD.sub(swap, message) if "ine" in message else message,
        _LINE_WORD.sub(swap, fix) if "ine" in fix else fix,
        warning.related,
        word,
    )


# ---------------------------------------------------------------- patterns

# Lint compares every line with the lines that may match together with it; the
# same few patterns come up again and again (RE2 programs are slow to build).
_wildcard = lru_cache(maxsize=4096)(compile_wildcard)


@lru_cache(maxsize=4096)
def _normal(pattern: str) -> str:
    """Same language, canonical wildcard runs: `*?*` → `?*` (needed for exact containment)."""
    out: list[str] = []
    run: list[str] = []
    for char in pattern + "\0":
        if char in "*?":
            run.append(char)
            continue
        if run:
            out.append("?" * run.count("?") + ("*" if "*" in run else ""))
            run = []
        out.append(char)
    return "".join(out[:-1])


def pattern_covers(general: str, specific: str) -> bool:
    """Does every domain that `specific` matches also match `general`?"""
    if general == specific or _only_stars(general):
        return True
    if "*" not in specific and "?" not in specific:
        return _wildcard(general)(specific)
    if "*" not in general and "?" not in general:
        return False  # a literal never covers a pattern that matches several names
    return _covers(_normal(general), _normal(specific))


def _covers(p: str, q: str) -> bool:
    # reach[j]: p[:i] can stand for q[:j] (a `*` of p absorbs any symbol of q, a `?`
    # of p any single-character symbol, a literal only itself).
    reach = [True] + [False] * len(q)
    for char in p:
        if char == "*":
            for j in range(1, len(q) + 1):
                reach[j] = reach[j] or reach[j - 1]
            continue
        nxt = [False] * (len(q) + 1)
        for j in range(1, len(q) + 1):
            symbol = q[j - 1]
            fits = symbol == char or (char == "?" and symbol != "*")
            nxt[j] = reach[j - 1] and fits
        reach = nxt
    return reach[len(q)]


def patterns_overlap(first: str, second: str) -> bool:
    """Is there a domain that both patterns match?"""
    first_wild = "*" in first or "?" in first
    second_wild = "*" in second or "?" in second
    if not first_wild:
        return _wildcard(second)(first)
    if not second_wild:
        return _wildcard(first)(second)
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == len(first) and j == len(second):
            return True
        steps: list[tuple[int, int]] = []
        a = first[i] if i < len(first) else None
        b = second[j] if j < len(second) else None
        if a == "*":
            steps += [(i + 1, j)] + ([(i, j + 1)] if b is not None else [])
        if b == "*":
            steps += [(i, j + 1)] + ([(i + 1, j)] if a is not None else [])
        if a not in (None, "*") and b not in (None, "*") and (a == b or "?" in (a, b)):
            steps.append((i + 1, j + 1))
        for step in steps:
            if step not in seen:
                seen.add(step)
                todo.append(step)
    return False


class _PatternIndex:
    """Rules filed as the engine's CompiledTable files them, so that a line is compared
    only with the lines that can match a domain it matches (not with every line):
    exact domains by name, wildcards by their literal dotted suffix, the rest always.
    """

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self.rules: list[Rule] = []
        self._exact: dict[str, list[int]] = defaultdict(list)
        self._suffixes: dict[str, list[int]] = defaultdict(list)
        self._scan: list[int] = []
        for rule in rules:
            self.add(rule)

    def add(self, rule: Rule) -> None:
        index = len(self.rules)
        self.rules.append(rule)
        domain = rule.domain
        if "*" not in domain and "?" not in domain:  # rule.is_wildcard, inline: run per line
            self._exact[domain].append(index)
        elif (suffix := index_suffix(domain)) is not None:
            self._suffixes[suffix].append(index)
        else:
            self._scan.append(index)

    def groups(self, pattern: str) -> list[list[int]]:
        """Groups of rule indexes, each in table order, holding (at least) every rule
        that can match a domain `pattern` matches; callers still compare each one.

        Every name a suffix-filed pattern matches ends in that suffix, so it can share
        a name with `pattern` only if `pattern`'s literal tail (all of it for an exact
        domain) ends in it too.
        """
        last = max(pattern.rfind("*"), pattern.rfind("?"))
        groups = [self._scan]
        if last < 0 and (same := self._exact.get(pattern)):
            groups.append(same)
        if self._suffixes:  # domain_suffixes(tail), inline: this runs once per line
            suffixes = self._suffixes
            tail = pattern[last + 1 :]
            dot = tail.find(".")
            while dot >= 0:
                if (group := suffixes.get(tail[dot:])) is not None:
                    groups.append(group)
                dot = tail.find(".", dot + 1)
        return groups

    def __bool__(self) -> bool:
        return bool(self.rules)


def _only_stars(pattern: str) -> bool:
    """`*`, `**`, …: the patterns whose canonical form is `*` (every domain)."""
    return bool(pattern) and not pattern.strip("*")


def _is_catch_all(rule: Rule) -> bool:
    return _only_stars(rule.domain)


def _is_terminal(rule: Rule) -> bool:
    """A line that, once its domain matches, always matches and stops the walk."""
    return rule.end and not rule.conditions


# ---------------------------------------------------------------- dead lines


def _semantic_key(rule: Rule) -> tuple[object, ...]:
    # Option order and an explicit default priority change nothing.
    return (rule.domain, rule.server, rule.conditions, rule.end, rule.adddns, rule.preference)


def _duplicate(rule: Rule, other: Rule) -> LintWarning:
    return LintWarning(
        rule.line,
        DUPLICATE,
        f"duplicate of line {other.line}: it does exactly the same",
        f"delete line {rule.line}",
        (other.line,),
    )


def _shadowed(rule: Rule, terminal: _PatternIndex) -> LintWarning | None:
    if not terminal:
        return None
    first: int | None = None  # the first terminal line, in table order, that covers it
    for group in terminal.groups(rule.domain):
        for index in group:
            if first is not None and index >= first:
                break
            if pattern_covers(terminal.rules[index].domain, rule.domain):
                first = index
                break
    if first is None:
        return None
    other = terminal.rules[first]
    covers = "every domain" if _is_catch_all(other) else f"every domain of {rule.domain}"
    return LintWarning(
        rule.line,
        SHADOWED,
        f"can never match: line {other.line} ({other.domain} with $end and no "
        f"conditions) comes first and takes {covers}",
        f"move line {rule.line} above line {other.line}, give line {other.line} "
        f"a condition, or delete line {rule.line}",
        (other.line,),
    )


# ---------------------------------------------------------------- one line


def _adddns_end(rule: Rule) -> LintWarning:
    return LintWarning(
        rule.line,
        ADDDNS_END_CATCH_ALL,
        f"$adddns with $end on a catch-all without conditions: every domain gets "
        f"{rule.server.host} only as one more host beside its own MX hosts, and no "
        "later line is ever checked",
        "drop $adddns to send all mail through the relay, or drop $end (or add a "
        "condition) so that the later lines still apply",
    )


def _contradictions(rule: Rule) -> list[LintWarning]:
    if not rule.conditions:
        return []
    by_attribute: dict[str, list[Condition]] = defaultdict(list)
    dnsmx: dict[str, set[bool]] = defaultdict(set)
    for condition in rule.conditions:
        if isinstance(condition, DnsMxCondition):
            dnsmx[condition.pattern].add(condition.negate)
        else:
            by_attribute[condition.attribute].append(condition)
    warnings = []
    for attribute, conditions in by_attribute.items():
        if attribute in NUMERIC_ATTRIBUTES:
            possible = _numbers_possible(conditions)
        else:
            possible = _texts_possible(conditions)
        if not possible:
            written = " ".join(format_condition(c) for c in conditions)
            warnings.append(_contradiction(rule, f"the conditions {written} can never all hold"))
    for pattern, negations in dnsmx.items():
        if len(negations) == 2:
            warnings.append(
                _contradiction(rule, f"$dnsmx:{pattern} and $dnsmx:!{pattern} can never both hold")
            )
    return warnings


def _contradiction(rule: Rule, what: str) -> LintWarning:
    return LintWarning(
        rule.line,
        CONTRADICTION,
        f"can never match: {what}",
        f"correct the conditions of line {rule.line} or delete it",
    )


def _numbers_possible(conditions: Sequence[Condition]) -> bool:
    low: int = 0
    high: int | None = None
    excluded: set[int] = set()
    for condition in conditions:
        value, op = int(condition.value), condition.operator
        if op in ("=", "=="):
            low, high = max(low, value), value if high is None else min(high, value)
        elif op in ("!=", "<>"):
            excluded.add(value)
        elif op == "<":
            high = value - 1 if high is None else min(high, value - 1)
        elif op == "<=":
            high = value if high is None else min(high, value)
        elif op == ">":
            low = max(low, value + 1)
        elif op == ">=":
            low = max(low, value)
    if high is None:
        return True
    return high - low + 1 > len({v for v in excluded if low <= v <= high})


def _texts_possible(conditions: Sequence[Condition]) -> bool:
    """False only when certain: equalities, orderings and wildcards that exclude each other."""
    equal: set[str] = set()
    unequal: set[str] = set()
    bounds: list[tuple[str, str]] = []
    wildcards: list[tuple[str, bool]] = []
    for condition in conditions:
        value, op = condition.value.lower(), condition.operator
        if op in ("=", "=="):
            equal.add(value)
        elif op in ("!=", "<>"):
            unequal.add(value)
        elif op in ("<", "<=", ">", ">="):
            bounds.append((op, value))
        elif not condition.is_regex:
            wildcards.append((value, op == "~="))
    if len(equal) > 1:
        return False
    if equal:
        (value,) = equal
        return (
            value not in unequal
            and all(_holds(value, op, bound) for op, bound in bounds)
            and all(compile_wildcard(w)(value) == wanted for w, wanted in wildcards)
        )
    return _bounds_possible(bounds)


def _holds(value: str, op: str, bound: str) -> bool:
    return {
        "<": value < bound,
        "<=": value <= bound,
        ">": value > bound,
        ">=": value >= bound,
    }[op]


def _bounds_possible(bounds: Sequence[tuple[str, str]]) -> bool:
    lows = [(value, op == ">") for op, value in bounds if op in (">", ">=")]
    highs = [(value, op == "<") for op, value in bounds if op in ("<", "<=")]
    for low, low_strict in lows:
        for high, high_strict in highs:
            # Between two different strings there may be nothing (`a` < x < `a\0`);
            # only an inverted or closed-and-empty range is certain to be empty.
            if low > high or (low == high and (low_strict or high_strict)):
                return False
    return True


def _retries(rule: Rule, max_retries: int) -> list[LintWarning]:
    if not rule.conditions:
        return []
    needed = 0
    for condition in rule.conditions:
        if isinstance(condition, Condition) and condition.attribute == "retries":
            value = int(condition.value)
            if condition.operator in ("=", "==", ">="):
                needed = max(needed, value)
            elif condition.operator == ">":
                needed = max(needed, value + 1)
    if needed <= max_retries:
        return []
    return [
        LintWarning(
            rule.line,
            UNREACHABLE_RETRIES,
            f"only applies after {needed} delivery attempts; mail is returned to its "
            f"sender long before that (more than {max_retries} attempts is never reached "
            "in practice)",
            f"use a smaller $retries value on line {rule.line} (a few attempts, such as "
            "$retries>=3)",
        )
    ]


# ---------------------------------------------------------------- across lines


def _useless_priorities(rules: Sequence[Rule]) -> list[LintWarning]:
    index_of: _PatternIndex | None = None  # built for the first line that needs it
    warnings = []
    for index, rule in enumerate(rules):
        if rule.priority is None:
            continue
        if rule.priority == 10:
            warnings.append(
                LintWarning(
                    rule.line,
                    USELESS_PRIORITY,
                    "$priority:10 changes nothing: 10 is already the default",
                    f"remove $priority:10 from line {rule.line}",
                )
            )
            continue
        if rule.adddns:
            continue  # ordered against the domain's own MX hosts
        # Only a line that may match together with this one is ordered against it;
        # after this line's $end no later line is checked.
        candidates: Iterable[int] = range(len(rules))
        if not rule.is_wildcard:  # for a pattern, any line may share a domain with it
            index_of = _PatternIndex(rules) if index_of is None else index_of
            candidates = chain.from_iterable(index_of.groups(rule.domain))
        shared = any(
            other != index
            and (other < index or not rule.end)
            and patterns_overlap(rule.domain, rules[other].domain)
            for other in candidates
        )
        if not shared:
            warnings.append(
                LintWarning(
                    rule.line,
                    USELESS_PRIORITY,
                    f"$priority:{rule.priority} changes nothing: no other line can match "
                    f"together with line {rule.line} and it has no $adddns, so its host "
                    "is always the only one",
                    f"remove $priority:{rule.priority} from line {rule.line}",
                )
            )
    return warnings


def _mixed_credentials(rules: Sequence[Rule]) -> list[LintWarning]:
    """Several lines to one relay with a login: the same user, or different logins.

    Never compares passwords: a warning that appeared only when two passwords differ
    would tell someone typing a guess next to a stored password whether it is right.
    """
    by_relay: dict[tuple[str, int], list[Rule]] = defaultdict(list)
    for rule in rules:
        by_relay[(rule.server.host, rule.server.port)].append(rule)
    warnings = []
    for (host, port), group in by_relay.items():
        if len(group) < 2:
            continue
        users = sorted({r.server.username or "no login" for r in group})
        if users == ["no login"]:
            continue
        first, *rest = group
        lines = ", ".join(str(r.line) for r in group)
        if len(users) == 1:
            what = f"lines {lines} send to {host}:{port} as {users[0]}"
            fix = (
                f"a password change for {users[0]} must be made on each of these lines "
                "(the same relay and user appear on several lines)"
            )
        else:
            what = f"lines {lines} send to {host}:{port} with different credentials (" + (
                ", ".join(users) + ")"
            )
            fix = (
                "use the same login on every line, or ignore this if each line "
                "deliberately uses its own account"
            )
        warnings.append(
            LintWarning(first.line, MIXED_CREDENTIALS, what, fix, tuple(r.line for r in rest))
        )
    return warnings


def _normalised(domains: Iterable[str]) -> list[str]:
    result = []
    for domain in domains:
        try:
            result.append(normalise_domain(domain))
        except ValueError:
            continue
    return list(dict.fromkeys(result))


def _relay_loops(rules: Sequence[Rule], local_domains: Sequence[str]) -> list[LintWarning]:
    warnings: list[LintWarning] = []
    if not local_domains:
        return warnings
    # Each own domain is compared only with the lines that may match it (the index),
    # not every pattern with every domain: a wildcard line covers it unless a line
    # with $end and no conditions above takes it first.
    index = _PatternIndex(rules)
    covering: dict[int, list[str]] = defaultdict(list)  # line index → own domains, in order
    for domain in local_domains:
        taken = len(rules)  # the first line with $end and no conditions that matches it
        for i in sorted(set(chain.from_iterable(index.groups(domain)))):
            rule = rules[i]
            if i > taken:
                break
            if not _wildcard(rule.domain)(domain):
                continue
            if rule.is_wildcard:  # a line naming the domain itself is a deliberate route
                covering[i].append(domain)
            if _is_terminal(rule):
                taken = i
    for i in sorted(covering):
        rule, covered = rules[i], covering[i]
        names = ", ".join(covered)
        warnings.append(
            LintWarning(
                rule.line,
                RELAY_LOOP,
                f"{rule.domain} also covers this sender's own domain"
                f"{'s' if len(covered) > 1 else ''} {names}: mail to "
                f"{'them' if len(covered) > 1 else 'it'} goes to "
                f"{rule.server.host}, which may send it straight back (a relay loop)",
                f"add a line for {covered[0]} with its own server and $end above line "
                f"{rule.line}, or narrow the pattern",
            )
        )
    return warnings


# ---------------------------------------------------------------- Postfix


def postfix_warnings(
    rules: Sequence[Rule], live: Sequence[Rule] | None = None
) -> list[LintWarning]:
    """What the Postfix agent (senders.agent) cannot honour exactly.

    - a line with conditions on `$from`, `$authsender`, `$size` or `$retries`: a
      transport lookup carries only the recipient, so the agent leaves the line out;
    - lines giving one host and port different users (or one a user, one none):
      Postfix looks logins up by `[host]:port` only, and the agent gives it the
      first line's login. Users are compared, never passwords.
    `live` (lines that can match at all) limits the first check; default: every line.
    """
    warnings = []
    for rule in rules if live is None else live:
        if not rule.conditions:
            continue
        unknown = [
            format_condition(c)
            for c in rule.conditions
            if isinstance(c, Condition) and c.attribute in POSTFIX_UNKNOWN
        ]
        if unknown:
            warnings.append(
                LintWarning(
                    rule.line,
                    POSTFIX_CONDITION,
                    f"Postfix cannot check {_and(unknown)} (its transport lookup gives only the "
                    f"recipient): the Postfix agent routes as if line {rule.line} were not in "
                    "the table (by the later lines, or by MX)",
                    f"if Postfix delivers this mail, route by domain only on line {rule.line} "
                    "or accept that Postfix ignores it",
                )
            )
    by_relay: dict[tuple[str, int], list[Rule]] = defaultdict(list)
    for rule in rules:
        by_relay[(rule.server.host, rule.server.port)].append(rule)
    for (host, port), group in by_relay.items():
        if len(group) < 2:
            continue  # one user
        users = list(dict.fromkeys(r.server.username or "no login" for r in group))
        chosen = next((r for r in group if r.server.username is not None), None)
        if len(users) < 2 or chosen is None:
            continue
        first, *rest = group
        warnings.append(
            LintWarning(
                first.line,
                POSTFIX_LOGIN,
                f"lines {_and([str(r.line) for r in group])} use different users for "
                f"{host}:{port} ({', '.join(users)}); Postfix can use only one: the agent "
                f"gives it the one of line {chosen.line} ({chosen.server.username})",
                f"use one login for {host}:{port} on every line, or a different host name or "
                "port per login",
                tuple(r.line for r in rest),
            )
        )
    return warnings


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"
