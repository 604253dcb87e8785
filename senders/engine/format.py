"""Rules → canonical text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from senders.engine.rules import DEFAULT_PORT, Condition, DnsMxCondition, Rule, Server

if TYPE_CHECKING:
    from senders.engine.evaluate import Result

PASSWORD_MASK = "********"


def format_server(server: Server, *, mask_password: bool = False) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    text = host if server.port == DEFAULT_PORT else f"{host}:{server.port}"
    if server.username is None:
        return text
    password = PASSWORD_MASK if mask_password else server.password
    return f"{server.username}:{password}@{text}"


def format_condition(condition: Condition | DnsMxCondition) -> str:
    if isinstance(condition, DnsMxCondition):
        return f"$dnsmx:{'!' if condition.negate else ''}{condition.pattern}"
    return f"${condition.attribute}{condition.operator}{condition.value}"


def format_rule(rule: Rule, *, mask_password: bool = False) -> str:
    """The canonical line: single spaces, conditions then options, each in written order."""
    parts = [rule.domain, format_server(rule.server, mask_password=mask_password)]
    parts.extend(format_condition(condition) for condition in rule.conditions)
    for option in rule.options:
        parts.append(f"$priority:{rule.priority}" if option == "priority" else f"${option}")
    return " ".join(parts)


def format_table(rules: Iterable[Rule]) -> str:
    """Canonical lines, each ending with a newline ("" for no rules)."""
    return "".join(format_rule(rule) + "\n" for rule in rules)


def format_result(result: Result, *, show_secrets: bool = False, word: str = "line") -> str:
    """A readable report of an evaluation: status, hops and trace (`manage.py route`).

    `word` is what the numbers count: "line" (a table file) or "rule" (stored positions).
    """
    lines = [
        f"status: {result.status}",
        f"reason: {result.reason}",
        f"domain: {result.domain}",
        "",
    ]
    if result.hops:
        rows: list[tuple[str, ...]] = [("pref", "host", "port", "source", "credentials")]
        for hop in result.hops:
            source = hop.source if hop.line is None else f"{hop.source} ({word} {hop.line})"
            credentials = "-"
            if hop.username is not None:
                password = hop.password if show_secrets else PASSWORD_MASK
                credentials = f"{hop.username}:{password}"
            rows.append((str(hop.preference), hop.host, str(hop.port), source, credentials))
        lines.append("hops:")
        lines.extend(_columns(rows))
    else:
        lines.append("hops: none")
    lines.append("")
    trace = result.trace
    if trace:
        lines.append("trace:")
        rows = [(word, "result", "why")]
        for step in trace:
            verdict = ("matched, end" if step.end else "matched") if step.matched else "no match"
            rows.append((str(step.line), verdict, step.why))
        lines.extend(_columns(rows))
    else:
        lines.append(f"trace: no {word} checked")
    return "\n".join(lines) + "\n"


def _columns(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    ]
