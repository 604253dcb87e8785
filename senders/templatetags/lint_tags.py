"""`{{ lint_warnings|on_line:row.position }}`: the lint warnings about one rule."""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class LintSummary:
    open: int  # warnings not acknowledged: the number the summary shows
    groups: list[WarningGroup]


@register.filter
def by_kind(
    warnings: Iterable[LintWarning] | None, acknowledged: Container[tuple[int, str]] = ()
) -> LintSummary:
    """The warnings grouped by kind (`code`), with counts; at most LISTED listed per kind.

    Those `acknowledged` (by (line, code)) count in none of them: they are listed last,
    as acknowledged.
    """
    groups: dict[str, list[LintWarning]] = {}
    done: list[LintWarning] = []
    for warning in warnings or ():
        if (warning.line, warning.code) in (acknowledged or ()):
            done.append(warning)
        else:
            groups.setdefault(warning.code, []).append(warning)
    order = {code: index for index, code in enumerate(KINDS)}
    codes = sorted(groups, key=lambda code: (order.get(code, len(order)), code))
    kinds = [
        WarningGroup(code, KINDS.get(code, code), len(groups[code]), groups[code][:LISTED])
        for code in codes
    ]
    if done:
        kinds.append(
            WarningGroup("acknowledged", "Acknowledged as intended", len(done), done[:LISTED])
        )
    return LintSummary(sum(len(group) for group in groups.values()), kinds)


@register.filter
def acknowledgement(warning: LintWarning, acknowledged: Any) -> Any:
    """The acknowledgement of `warning` in a {(line, code): ack} mapping, or None."""
    return (acknowledged or {}).get((warning.line, warning.code))


@register.simple_tag(takes_context=True)
def lint_summary(context: Any) -> LintSummary:
    """`{% lint_summary as summary %}`: `lint_warnings` by kind, minus `lint_acknowledged`
    (pages without acknowledgements, such as the bulk editor, need not set it)."""
    return by_kind(context.get("lint_warnings"), context.get("lint_acknowledged") or ())


@register.simple_tag(takes_context=True)
def acknowledgement_of(context: Any, warning: LintWarning) -> Any:
    """`{% acknowledgement_of warning as ack %}`: its acknowledgement on this page, or None."""
    return acknowledgement(warning, context.get("lint_acknowledged"))
