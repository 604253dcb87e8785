"""`{{ lint_warnings|on_line:row.position }}`: the lint warnings about one rule."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django import template

from senders.engine.lint import LintWarning

register = template.Library()


@register.filter
def on_line(warnings: Iterable[LintWarning] | None, line: int) -> list[LintWarning]:
    return [warning for warning in warnings or () if warning.line == line]


# What each kind of warning is called in the summary, in the order the summary lists them.
KINDS = {
    "relay-loop": "Possible relay loops",
    "shadowed": "Rules that can never match",
    "duplicate": "Duplicate rules",
    "contradiction": "Conditions that contradict each other",
    "unreachable-retries": "Retry counts never reached",
    "useless-priority": "Priorities that change nothing",
    "mixed-credentials": "Mixed credentials for one server",
    "adddns-end-catch-all": "$adddns with $end on a catch-all",
}
LISTED = 20  # per kind: the rest are beside their rules


@dataclass(frozen=True)
class WarningGroup:
    code: str
    title: str
    count: int
    listed: list[LintWarning]

    @property
    def more(self) -> int:
        return self.count - len(self.listed)


@register.filter
def by_kind(warnings: Iterable[LintWarning] | None) -> list[WarningGroup]:
    """The warnings grouped by kind (`code`), with counts; at most LISTED listed per kind."""
    groups: dict[str, list[LintWarning]] = {}
    for warning in warnings or ():
        groups.setdefault(warning.code, []).append(warning)
    order = {code: index for index, code in enumerate(KINDS)}
    codes = sorted(groups, key=lambda code: (order.get(code, len(order)), code))
    return [
        WarningGroup(code, KINDS.get(code, code), len(groups[code]), groups[code][:LISTED])
        for code in codes
    ]
