"""Rules → canonical text."""

from __future__ import annotations

from collections.abc import Iterable

from senders.engine.rules import DEFAULT_PORT, Condition, DnsMxCondition, Rule, Server

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
