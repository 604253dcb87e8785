"""Lint warnings for the web pages and commands (the checks live in senders.engine.lint).

For the table page:   context.update(lint_context(sender, rules=page_rules))
    then beside each rule:  {% include "senders/_lint.html#rule" with warnings=rule.lint_warnings %}
    and above the table:    {% include "senders/_lint.html" %}
For the bulk editor:  lint_entries(form.entries, sender.local_domain_list) → warnings whose
    line numbers are the lines of the typed text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from senders.engine import OverrideSyntaxError, parse_rule
from senders.engine.lint import LintWarning, lint_table
from senders.models import MailSender
from senders.tables import enabled_rules
from senders.tabletext import Entry


def lint_sender(sender: MailSender) -> list[LintWarning]:
    """Warnings for the stored table; line numbers are rule positions."""
    try:
        rules = enabled_rules(sender)
    except OverrideSyntaxError:
        return []  # a table that no longer parses has bigger problems than lint
    return lint_table(rules, sender.local_domain_list)


def lint_entries(entries: Sequence[Entry], local_domains: Iterable[str] = ()) -> list[LintWarning]:
    """Warnings for a parsed document (bulk editor); line numbers are document lines."""
    rules = [parse_rule(entry.text, line=entry.line) for entry in entries if entry.enabled]
    return lint_table(rules, local_domains)


def lint_context(sender: MailSender, rules: Iterable[Any] = ()) -> dict[str, Any]:
    """`lint_warnings` for the page; each OverrideRule in `rules` gets `.lint_warnings`."""
    warnings = lint_sender(sender)
    by_line: dict[int, list[LintWarning]] = defaultdict(list)
    for warning in warnings:
        by_line[warning.line].append(warning)
    for rule in rules:
        rule.lint_warnings = by_line.get(rule.position, [])
    return {"lint_warnings": warnings}
