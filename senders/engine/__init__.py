"""The DNS override engine: parse, format, match and evaluate override tables.

Pure Python, no Django. See docs/engine.md for the API and the language decisions.
"""

from __future__ import annotations

from senders.engine.errors import OverrideSyntaxError
from senders.engine.evaluate import (
    CompiledTable,
    Message,
    NextHop,
    Result,
    Status,
    TraceStep,
    compile_table,
    evaluate,
)
from senders.engine.format import (
    PASSWORD_MASK,
    format_result,
    format_rule,
    format_server,
    format_table,
)
from senders.engine.lint import LintWarning, lint_table
from senders.engine.match import normalise_domain
from senders.engine.parse import (
    MAX_LINE_LENGTH,
    MAX_REGEXES_PER_RULE,
    MAX_REGEXES_PER_TABLE,
    RegexBudget,
    count_regexes,
    parse_rule,
    parse_server,
    parse_table,
)
from senders.engine.resolve import (
    DnsResolver,
    MxAnswer,
    Resolver,
    StaticResolver,
    TimeBoundResolver,
    parse_mx_records,
    parse_nameserver,
)
from senders.engine.rules import Condition, DnsMxCondition, Rule, Server

__all__ = [
    "MAX_LINE_LENGTH",
    "MAX_REGEXES_PER_RULE",
    "MAX_REGEXES_PER_TABLE",
    "PASSWORD_MASK",
    "CompiledTable",
    "Condition",
    "DnsMxCondition",
    "DnsResolver",
    "LintWarning",
    "Message",
    "MxAnswer",
    "NextHop",
    "OverrideSyntaxError",
    "RegexBudget",
    "Resolver",
    "Result",
    "Rule",
    "Server",
    "StaticResolver",
    "Status",
    "TimeBoundResolver",
    "TraceStep",
    "compile_table",
    "count_regexes",
    "evaluate",
    "format_result",
    "format_rule",
    "format_server",
    "format_table",
    "lint_table",
    "normalise_domain",
    "parse_mx_records",
    "parse_nameserver",
    "parse_rule",
    "parse_server",
    "parse_table",
]
