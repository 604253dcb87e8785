"""The parsed form of an override line.

Values are normalised by the parser (lower-case domain and host, IDNA A-labels,
numbers as canonical digits); build rules with `parse_rule` rather than by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Attribute = Literal["retries", "size", "authsender", "from"]
Operator = Literal["==", "=", "<>", "!=", "<=", "<", ">=", ">", "~=", "~!"]
OptionName = Literal["priority", "adddns", "end"]

NUMERIC_ATTRIBUTES: frozenset[str] = frozenset({"retries", "size"})
TEXT_ATTRIBUTES: frozenset[str] = frozenset({"authsender", "from"})
ATTRIBUTES: tuple[str, ...] = ("retries", "size", "authsender", "from")
OPTIONS: tuple[OptionName, ...] = ("priority", "adddns", "end")
# Longest first, so that "<=" is never read as "<" followed by "=".
OPERATORS: tuple[str, ...] = ("==", "<>", "!=", "<=", ">=", "~=", "~!", "=", "<", ">")
DEFAULT_PORT = 25
DEFAULT_PRIORITY = 10


@dataclass(frozen=True, slots=True)
class Server:
    """Where a fake MX record points: `[user:password@]host[:port]`.

    `host` is a lower-case A-label name, a dotted IPv4 address, or an IPv6
    address without brackets.
    """

    host: str
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """`$<attribute><operator><value>`.

    `value` is the text after the operator as written, except that numbers are
    kept in canonical digits (`007` becomes `7`). For `~=`/`~!` a value starting
    with `/` is a regular expression `/pattern/` or `/pattern/i`, anything else
    a wildcard.
    """

    attribute: Attribute
    operator: Operator
    value: str

    @property
    def is_regex(self) -> bool:
        return self.operator in ("~=", "~!") and self.value.startswith("/")


@dataclass(frozen=True, slots=True)
class DnsMxCondition:
    """`$dnsmx:[!]<wildcard>`: any (or, negated, none) of the real MX hosts match."""

    pattern: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of an override table.

    `conditions` are in written order. `options` records the order in which the
    set options were written, for the canonical text; it is derived from `end`,
    `adddns` and `priority` when left empty (priority, adddns, end).
    `line` is the caller's line number and `columns` the 1-based column where
    each token starts in the source text (domain, server, then every condition
    and option in written order); neither takes part in equality.
    """

    domain: str
    server: Server
    conditions: tuple[Condition | DnsMxCondition, ...] = ()
    end: bool = False
    adddns: bool = False
    priority: int | None = None
    options: tuple[OptionName, ...] = ()
    line: int = field(default=1, compare=False)
    columns: tuple[int, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not (self.options or self.end or self.adddns or self.priority is not None):
            return  # no option: nothing to order
        present: dict[str, bool] = {
            "priority": self.priority is not None,
            "adddns": self.adddns,
            "end": self.end,
        }
        order: list[OptionName] = [name for name in dict.fromkeys(self.options) if present[name]]
        order += [name for name in OPTIONS if present[name] and name not in order]
        if tuple(order) != self.options:
            object.__setattr__(self, "options", tuple(order))

    @property
    def preference(self) -> int:
        """The preference of this line's fake MX record (`$priority`, default 10)."""
        return DEFAULT_PRIORITY if self.priority is None else self.priority

    @property
    def is_wildcard(self) -> bool:
        return "*" in self.domain or "?" in self.domain
