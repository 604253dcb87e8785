"""The DNS override engine: parse, format, match and evaluate override tables.

Pure Python, no Django. See docs/engine.md for the API and the language decisions.
"""

from __future__ import annotations

from senders.engine.errors import OverrideSyntaxError
from senders.engine.format import PASSWORD_MASK, format_rule, format_server, format_table
from senders.engine.parse import MAX_LINE_LENGTH, parse_rule, parse_server, parse_table
from senders.engine.rules import Condition, DnsMxCondition, Rule, Server

__all__ = [
    "MAX_LINE_LENGTH",
    "PASSWORD_MASK",
    "Condition",
    "DnsMxCondition",
    "OverrideSyntaxError",
    "Rule",
    "Server",
    "format_rule",
    "format_server",
    "format_table",
    "parse_rule",
    "parse_server",
    "parse_table",
]
