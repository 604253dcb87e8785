"""Lint warnings for the web pages and commands (the checks live in senders.engine.lint).

For the table page:   context.update(lint_context(sender)), then above the table
    {% include "senders/_lint.html" %}
and beside each rule (after {% load lint_tags %})
    {% include "senders/_lint.html#rule" with warnings=lint_warnings|on_line:row.position %}
For the bulk editor:  lint_entries(form.entries, sender.local_domain_list) → warnings whose
    line numbers are the lines of the typed text.
"""

from __future__ import annotations

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


def lint_context(sender: MailSender) -> dict[str, Any]:
    """`lint_warnings` for a page showing the stored table (see `_lint.html`)."""
    return {"lint_warnings": lint_sender(sender)}
